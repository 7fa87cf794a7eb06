"""Small wire facts of the OpenAI Responses dialect: usage, statuses, ids, errors, custom tools.

Shapes follow the Responses API as the openai SDK types it (`openai.types.responses`) and as
spec B9 records it; usage semantics differ from ir: Responses `input_tokens` include cached
tokens (OpenAI), ir's exclude them (Anthropic).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import orjson

from crossway import ir
from crossway.dialects.common import count

# ir stop reasons that end a Responses response as `incomplete`, with the reason it gives.
_INCOMPLETE_OUT: dict[str, str] = {
    "max_tokens": "max_output_tokens",
    "model_context_window_exceeded": "max_output_tokens",
    "refusal": "content_filter",
}
_INCOMPLETE_IN: dict[str, ir.StopReason] = {
    "max_output_tokens": "max_tokens",
    "content_filter": "refusal",
}

# ir.StreamError.type (Anthropic words) -> the Responses error `code` of response.failed.
# Codex reads these codes: server_is_overloaded and rate_limit_exceeded are retried,
# context_length_exceeded and insufficient_quota end the turn with a clear message.
_FAILED_CODE: dict[str, str] = {
    "overloaded_error": "server_is_overloaded",
    "rate_limit_error": "rate_limit_exceeded",
    "billing_error": "insufficient_quota",
    "invalid_request_error": "invalid_prompt",
    "request_too_large": "invalid_prompt",
    "api_error": "server_error",
}
# A Responses error code (response.failed, `error` events) -> (ir error type, HTTP status).
_CODE_IN: dict[str, tuple[str, int]] = {
    "server_is_overloaded": ("overloaded_error", 529),
    "slow_down": ("overloaded_error", 529),
    "rate_limit_exceeded": ("rate_limit_error", 429),
    "insufficient_quota": ("billing_error", 402),
    "context_length_exceeded": ("invalid_request_error", 400),
    "invalid_prompt": ("invalid_request_error", 400),
    "invalid_request_error": ("invalid_request_error", 400),
    "invalid_encrypted_content": ("invalid_request_error", 400),
    "server_error": ("api_error", 502),
}
# Anthropic-worded error types, which Zen's own errors and some providers use in `error.type`.
_TYPE_IN: dict[str, int] = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 502, "overloaded_error": 529,
}

# Responses effort words that ir spells differently (ir follows Anthropic: "max").
_EFFORT_IN = {"xhigh": "max"}
_EFFORT_OUT = {"max": "xhigh"}

# The one property of the function tool that stands in for a custom tool on other dialects.
CUSTOM_INPUT = "input"


def error_body(
    error_type: str, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """A Responses error body (the same envelope as every OpenAI API)."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def effort_in(effort: str) -> str:
    return _EFFORT_IN.get(effort, effort)


def effort_out(effort: str | None) -> str | None:
    return _EFFORT_OUT.get(effort, effort) if effort is not None else None


# ---------------------------------------------------------------- usage


def decode_usage(wire: object) -> ir.Usage:
    """Responses usage -> ir.Usage; input_tokens there include cached reads and writes."""
    if not isinstance(wire, dict):
        return ir.Usage()
    details = wire.get("input_tokens_details")
    cached = creation = 0
    if isinstance(details, dict):
        cached = count(details.get("cached_tokens")) or 0
        creation = count(details.get("cache_write_tokens")) or 0
    reasoning: int | None = None
    out_details = wire.get("output_tokens_details")
    if isinstance(out_details, dict):
        reasoning = count(out_details.get("reasoning_tokens"))
    total_in = count(wire.get("input_tokens")) or 0
    return ir.Usage(
        input_tokens=max(0, total_in - cached - creation),
        output_tokens=count(wire.get("output_tokens")) or 0,
        cache_read_tokens=cached,
        cache_creation_tokens=creation,
        reasoning_tokens=reasoning,
    )


def encode_usage(usage: ir.Usage) -> dict[str, Any]:
    prompt = usage.prompt_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens,
                                 "cache_write_tokens": usage.cache_creation_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": prompt + usage.output_tokens,
    }


# ---------------------------------------------------------------- status <-> stop reason


def stop_reason_in(status: object, details: object, has_tool_calls: bool) -> ir.StopReason:
    """A finished upstream response's status (+ incomplete_details) in ir words."""
    if status == "incomplete":
        reason = details.get("reason") if isinstance(details, dict) else None
        return _INCOMPLETE_IN.get(reason, "max_tokens") if isinstance(reason, str) else "max_tokens"
    return "tool_use" if has_tool_calls else "end_turn"


def status_out(stop_reason: ir.StopReason | None) -> tuple[str, dict[str, str] | None]:
    """(status, incomplete_details) of the Response object for the client."""
    reason = _INCOMPLETE_OUT.get(stop_reason) if stop_reason is not None else None
    if reason is None:
        return "completed", None
    return "incomplete", {"reason": reason}


def failed_code(error: ir.StreamError) -> str:
    """The `error.code` of a response.failed for the client."""
    if error.type == "invalid_request_error" and "context" in error.message.lower():
        return "context_length_exceeded"
    return _FAILED_CODE.get(error.type, "server_error")


def stream_error_in(err: object, fallback: str = "upstream stream error") -> ir.StreamError:
    """An upstream Responses error object ({code, message, ...}) as an ir.StreamError."""
    code: object = None
    message: object = None
    etype: object = None
    if isinstance(err, dict):
        code, message, etype = err.get("code"), err.get("message"), err.get("type")
    text = message if isinstance(message, str) and message else fallback
    if isinstance(code, str) and code in _CODE_IN:
        kind, status = _CODE_IN[code]
        return ir.StreamError(text, kind, status)
    if isinstance(etype, str) and etype in _TYPE_IN:
        return ir.StreamError(text, etype, _TYPE_IN[etype])
    if "overload" in f"{text} {code}".lower():
        return ir.StreamError(text, "overloaded_error", 529)
    return ir.StreamError(text, "api_error", 502)


# ---------------------------------------------------------------- ids


def new_response_id() -> str:
    return "resp_" + secrets.token_hex(24)


def new_item_id(prefix: str) -> str:
    """`msg`, `rs`, `fc` (function call), `ctc` (custom tool call) ids."""
    return f"{prefix}_{secrets.token_hex(24)}"


def client_call_id(upstream_id: str, response_id: str) -> str:
    """The call_id a Responses client gets for an upstream tool call id.

    Kimi's ids (`functions.Bash:0`) repeat every turn; a client history with the same call_id
    twice pairs outputs with the wrong call, so ids without an OpenAI-style unique prefix are
    minted from the response id (deterministic, so a replayed id maps the same way).
    """
    if upstream_id.startswith(("call_", "toolu_", "fc_")) and len(upstream_id) >= 12:
        return upstream_id
    digest = hashlib.blake2b(f"{response_id}|{upstream_id}".encode(), digest_size=12)
    return "call_" + digest.hexdigest()


# ---------------------------------------------------------------- custom (free-form) tools


def custom_parameters(fmt: dict[str, Any] | None) -> dict[str, Any]:
    """The schema of the function tool standing in for a custom tool on other dialects: one
    required string, with the grammar (when there is one) where the model reads it."""
    about = "The raw free-form input of this tool (plain text, not JSON)."
    if fmt is not None and fmt.get("type") == "grammar":
        syntax = fmt.get("syntax")
        definition = fmt.get("definition")
        if isinstance(definition, str) and definition:
            name = f"{syntax} grammar" if isinstance(syntax, str) and syntax else "grammar"
            about += f" It must match this {name}:\n{definition}"
    return {
        "type": "object",
        "properties": {CUSTOM_INPUT: {"type": "string", "description": about}},
        "required": [CUSTOM_INPUT],
        "additionalProperties": False,
    }


def wrap_input(text: str) -> str:
    """A custom tool call's free-form input as ir arguments (JSON)."""
    return orjson.dumps({CUSTOM_INPUT: text}).decode()


def unwrap_input(arguments: str) -> str:
    """ir arguments of a custom tool call back to its free-form input.

    Models answering through the stand-in function tool sometimes name the property
    differently; a single string property is taken whatever its name, anything else is
    handed over as the text it is (a patch is never lost)."""
    try:
        value = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        text = value.get(CUSTOM_INPUT)
        if isinstance(text, str):
            return text
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(value) == 1 and strings:
            return strings[0]
        if not value:
            return ""
    return arguments


def escape_fragment(text: str) -> str:
    """A piece of free-form input as it reads inside a JSON string (for streamed arguments)."""
    return orjson.dumps(text).decode()[1:-1]
