"""Gemini wire vocabulary: finish reasons, usage, ids, thought signatures, error statuses.

Shared by the request encoder, the response decoder and the stream decoder, so each of them
reads Gemini's words in one place. Facts are from the Gemini API reference
(GenerateContentResponse, UsageMetadata, google.rpc error bodies) and the google-genai SDK.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects.common import count
from crossway.errors import (
    AuthenticationFailed,
    CrosswayError,
    InvalidRequest,
    NotFound,
    Overloaded,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    UpstreamTimeout,
    error_class_for_status,
)

# ---------------------------------------------------------------- finish reasons

# finishReason values that end a turn normally.
_FINISH_OK: dict[str, ir.StopReason] = {
    "STOP": "end_turn",
    "FINISH_REASON_UNSPECIFIED": "end_turn",
    "MAX_TOKENS": "max_tokens",
}
# The output was withheld by a policy filter: the client gets an error saying so, never an
# empty answer that looks like the model chose to say nothing.
BLOCKED_FINISH: dict[str, str] = {
    "SAFETY": "its safety filters",
    "RECITATION": "its recitation check (the answer resembled copyrighted material)",
    "PROHIBITED_CONTENT": "its prohibited-content policy",
    "BLOCKLIST": "a terminology blocklist",
    "SPII": "its sensitive personal information filter",
    "IMAGE_SAFETY": "its image safety filters",
    "IMAGE_PROHIBITED_CONTENT": "its prohibited-content policy for images",
    "LANGUAGE": "its language check (unsupported language)",
    "MODEL_ARMOR": "Model Armor",
    "PUP_LIMITED_DISABLED": "a usage-policy restriction on the account",
    "ESCALATION": "an escalation rule",
}
# The generation failed on Gemini's side; another try (or another model) may succeed.
FAILED_FINISH: dict[str, str] = {
    "MALFORMED_FUNCTION_CALL": "the model produced a function call that could not be parsed",
    "UNEXPECTED_TOOL_CALL": "the model called a function that was not declared",
    "TOO_MANY_TOOL_CALLS": "the model made too many tool calls in one response",
    "MALFORMED_RESPONSE": "the model produced a malformed response",
    "MISSING_THOUGHT_SIGNATURE": "a thought signature was missing from the conversation",
    "NO_IMAGE": "the model was expected to produce an image and did not",
    "IMAGE_OTHER": "image generation stopped for an unspecified reason",
    "IMAGE_RECITATION": "the generated image resembled existing material",
}


def stop_reason(finish: object, has_tool_calls: bool) -> ir.StopReason:
    """A finishReason that is neither blocked nor failed, in ir words."""
    reason = _FINISH_OK.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
    if has_tool_calls and reason == "end_turn":
        return "tool_use"  # Gemini says STOP after function calls
    return reason


def finish_failure(finish: object, has_content: bool) -> CrosswayError | None:
    """The error a finishReason means, or None when the turn ended normally.

    `OTHER` with no content is a failure (Gemini gives it for silently dropped answers);
    with content it is accepted as the end of the turn.
    """
    if not isinstance(finish, str):
        return None
    what = BLOCKED_FINISH.get(finish)
    if what is not None:
        return UpstreamError(
            f"Gemini withheld the answer: it was blocked by {what} (finishReason {finish})",
            code="content_filter",
        )
    what = FAILED_FINISH.get(finish)
    if what is not None:
        return UpstreamError(f"Gemini generation failed: {what} (finishReason {finish})")
    if finish == "OTHER" and not has_content:
        return UpstreamError("Gemini stopped without an answer (finishReason OTHER)")
    return None


def prompt_blocked(body: dict[str, Any]) -> CrosswayError | None:
    """`promptFeedback.blockReason`: Gemini refused the prompt itself, before generating."""
    feedback = body.get("promptFeedback")
    if not isinstance(feedback, dict):
        return None
    reason = feedback.get("blockReason")
    if not isinstance(reason, str) or not reason or reason == "BLOCKED_REASON_UNSPECIFIED":
        return None
    detail = feedback.get("blockReasonMessage")
    extra = f": {detail}" if isinstance(detail, str) and detail else ""
    return InvalidRequest(
        f"Gemini blocked the prompt (blockReason {reason}){extra}; rephrase the request or "
        "remove the content that triggered the filter",
        code="prompt_blocked",
    )


def stream_error(error: CrosswayError) -> ir.StreamError:
    return ir.StreamError(error.message, error.anthropic_type, error.status)


# ---------------------------------------------------------------- usage


def usage_from_wire(meta: object) -> ir.Usage:
    """usageMetadata -> ir.Usage.

    Gemini's promptTokenCount includes cachedContentTokenCount, and candidatesTokenCount
    excludes thoughtsTokenCount (billed as output). Tool-use prompt tokens are input.
    """
    if not isinstance(meta, dict):
        return ir.Usage()
    prompt = count(meta.get("promptTokenCount")) or 0
    cached = count(meta.get("cachedContentTokenCount")) or 0
    tool_prompt = count(meta.get("toolUsePromptTokenCount")) or 0
    candidates = count(meta.get("candidatesTokenCount")) or 0
    thoughts = count(meta.get("thoughtsTokenCount"))
    return ir.Usage(
        input_tokens=max(0, prompt - cached) + tool_prompt,
        output_tokens=candidates + (thoughts or 0),
        cache_read_tokens=cached,
        reasoning_tokens=thoughts,
    )


# ---------------------------------------------------------------- URLs


def request_path(model: str, stream: bool) -> str:
    """The path after the base URL (AI Studio `.../v1beta`, Vertex `.../publishers/google`):
    Gemini takes the model and the method in the URL, not in the body."""
    model = model.removeprefix("models/")  # ids as ListModels names them
    if stream:
        return f"/models/{model}:streamGenerateContent?alt=sse"
    return f"/models/{model}:generateContent"


def model_ids(listing: object) -> list[str]:
    """Model ids from a `GET /models` page that can generate content."""
    models = listing.get("models") if isinstance(listing, dict) else None
    out: list[str] = []
    for m in models if isinstance(models, list) else []:
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            continue
        methods = m.get("supportedGenerationMethods")
        if isinstance(methods, list) and "generateContent" not in methods:
            continue  # embedding and other models
        out.append(m["name"].removeprefix("models/"))
    return out


# ---------------------------------------------------------------- ids


def new_call_id() -> str:
    """Gemini function calls carry no id; crossway mints one per call on the way back."""
    return "call_" + secrets.token_hex(12)


def str_field(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------- thought signatures
#
# Gemini's thoughtSignature rides in ir.Thinking.signature, wrapped so crossway knows it is
# Gemini's (and which part it belonged to) when the client replays it. The wrapper starts
# with crossway's signature prefix, so the Anthropic codec treats it as not Anthropic's and
# never sends it to Claude. Tags: `f` = on the functionCall that follows the thinking,
# `t` = on the thought part itself.

_WRAP = signatures.PREFIX + "gemini."
# Documented by Google for history Gemini did not produce (thought-signatures FAQ): a
# functionCall in the current turn without one is rejected by Gemini 3 models.
SKIP_SIGNATURE = "skip_thought_signature_validator"


def wrap_signature(tag: str, signature: str) -> str:
    return f"{_WRAP}{tag}.{signature}"


def unwrap_signature(value: str | None) -> tuple[str, str] | None:
    """(tag, Gemini signature) for a signature Gemini issued; None for anything else."""
    if not value or not value.startswith(_WRAP):
        return None
    tag, dot, sig = value[len(_WRAP) :].partition(".")
    if not dot or not sig or tag not in ("f", "t"):
        return None
    return tag, sig


# ---------------------------------------------------------------- thinking styles

_GEN = re.compile(r"gemini-(\d+)(?:\.\d+)?-")


def model_generation(model: str) -> int | None:
    """Gemini's major version from the model id (`gemini-3-pro-preview` -> 3)."""
    m = _GEN.search(model)
    return int(m.group(1)) if m else None


def uses_thinking_level(model: str) -> bool:
    """Gemini 3 and later take thinkingLevel; 2.5 takes thinkingBudget only."""
    gen = model_generation(model)
    return gen is not None and gen >= 3


def is_flash(model: str) -> bool:
    return "flash" in model


# ---------------------------------------------------------------- errors

# google.rpc.Code names -> the crossway error they mean for a client.
_BY_GRPC: dict[str, type[CrosswayError]] = {
    "INVALID_ARGUMENT": InvalidRequest,
    "FAILED_PRECONDITION": InvalidRequest,
    "OUT_OF_RANGE": InvalidRequest,
    "UNAUTHENTICATED": AuthenticationFailed,
    "PERMISSION_DENIED": PermissionDenied,
    "NOT_FOUND": NotFound,
    "RESOURCE_EXHAUSTED": RateLimited,
    "UNAVAILABLE": ServiceUnavailable,
    "DEADLINE_EXCEEDED": UpstreamTimeout,
    "INTERNAL": UpstreamError,
    "UNKNOWN": UpstreamError,
}
_GRPC_FOR_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_OVERFLOW = re.compile(r"input token count \((\d+)\) exceeds the maximum number of tokens "
                       r"allowed \((\d+)\)", re.IGNORECASE)
_RETRY_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


@dataclass(frozen=True, slots=True)
class GeminiError:
    """What a Gemini error body said: HTTP status, google.rpc status, message, details."""

    status: int
    grpc_status: str | None
    message: str
    reason: str | None = None  # ErrorInfo.reason, e.g. API_KEY_INVALID
    retry_after: str | None = None  # seconds, from RetryInfo.retryDelay


def error_body(status: int, message: str, grpc_status: str | None = None) -> dict[str, Any]:
    """A Gemini-shaped error body (google.rpc.Status as JSON)."""
    return {
        "error": {
            "code": status,
            "message": message,
            "status": grpc_status or _GRPC_FOR_HTTP.get(status, "UNKNOWN"),
        }
    }


def parse_error(status: int, body: bytes | dict[str, Any] | list[Any] | None) -> GeminiError:
    """Read a Gemini error response leniently (streams wrap it in a list; proxies send HTML)."""
    data: object = body
    if isinstance(body, bytes):
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
    if isinstance(data, list) and data:
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        snippet = body[:200].decode("utf-8", "replace").strip() if isinstance(body, bytes) else ""
        text = f"Gemini answered HTTP {status}" + (f": {snippet}" if snippet else "")
        return GeminiError(status, _GRPC_FOR_HTTP.get(status), text)
    code = err.get("code")
    http = code if isinstance(code, int) and 400 <= code < 600 else status
    message = str_field(err, "message") or f"Gemini answered HTTP {http}"
    reason: str | None = None
    retry_after: str | None = None
    details = err.get("details")
    for d in details if isinstance(details, list) else []:
        if not isinstance(d, dict):
            continue
        reason = reason or str_field(d, "reason")
        delay = str_field(d, "retryDelay")
        m = _RETRY_DELAY.match(delay) if delay else None
        if m:
            retry_after = str(max(1, round(float(m.group(1)))))
    return GeminiError(http, str_field(err, "status"), message, reason, retry_after)


def map_error(failure: GeminiError) -> CrosswayError:
    """The crossway error a client should see for a Gemini error response."""
    headers = {"retry-after": failure.retry_after} if failure.retry_after else {}
    if failure.reason in ("API_KEY_INVALID", "API_KEY_EXPIRED") or (
        failure.status == 403 and "unregistered callers" in failure.message
    ):
        # Gemini answers a bad key with 400 INVALID_ARGUMENT and a missing one with 403.
        return AuthenticationFailed(f"Gemini rejected the API key: {failure.message}",
                                    code=failure.reason or failure.grpc_status)
    m = _OVERFLOW.search(failure.message)
    if m:
        # Anthropic's wording, which Claude Code recognises and answers by compacting.
        return InvalidRequest(
            f"prompt is too long: {m.group(1)} tokens > {m.group(2)} maximum "
            f"({failure.message})",
            code="context_length_exceeded",
        )
    if failure.status == 503 and "overloaded" in failure.message.lower():
        return Overloaded(failure.message, headers=headers, code=failure.grpc_status)
    cls = _BY_GRPC.get(failure.grpc_status or "")
    if cls is None:
        cls = error_class_for_status(failure.status)
    status = failure.status if failure.status >= 500 and cls is UpstreamError else None
    return cls(failure.message, headers=headers, code=failure.grpc_status, status=status)
