"""OpenAI Chat Completions wire helpers: finish reasons, usage, reasoning fields, errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from crossway import ir
from crossway.dialects.common import count as _count

_FINISH_IN: dict[str, ir.StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_FINISH_OUT: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# finish_reason values that mean the generation failed, not that it ended: OpenRouter sends
# "error"; DeepSeek sends "insufficient_system_resource" on a cut-off answer.
FAILED_FINISH = frozenset(("error", "insufficient_system_resource"))
# Anthropic error type (ir.StreamError.type) -> OpenAI error type, as in crossway.errors.
ERROR_TYPE_OUT: dict[str, str] = {
    "api_error": "server_error",
    "overloaded_error": "service_unavailable",
    "billing_error": "insufficient_quota",
    "request_too_large": "invalid_request_error",
}
def stop_reason_in(finish_reason: object, has_tool_calls: bool) -> ir.StopReason:
    """An upstream finish_reason in ir words (spec B2); unknown values become end_turn."""
    reason = _FINISH_IN.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else None
    if has_tool_calls and reason in (None, "end_turn"):
        return "tool_use"  # some upstreams say "stop" (or nothing) after tool calls
    return reason or "end_turn"


def finish_reason_out(stop_reason: ir.StopReason | None) -> str:
    return _FINISH_OUT.get(stop_reason, "stop") if stop_reason is not None else "stop"


def decode_usage(wire: object) -> ir.Usage:
    """OpenAI-style usage -> ir.Usage, with input_tokens excluding cache reads/writes (B2)."""
    if not isinstance(wire, dict):
        return ir.Usage()
    details = wire.get("prompt_tokens_details")
    cached: int | None = None
    creation = 0
    if isinstance(details, dict):
        cached = _count(details.get("cached_tokens"))
        creation = _count(details.get("cache_creation_tokens")) or 0
    if cached is None:
        cached = _count(wire.get("cached_tokens"))  # Moonshot
    if cached is None:
        cached = _count(wire.get("prompt_cache_hit_tokens"))  # DeepSeek
    cached = cached or 0
    prompt = _count(wire.get("prompt_tokens")) or 0
    reasoning: int | None = None
    out_details = wire.get("completion_tokens_details")
    if isinstance(out_details, dict):
        reasoning = _count(out_details.get("reasoning_tokens"))
    return ir.Usage(
        input_tokens=max(0, prompt - cached - creation),
        output_tokens=_count(wire.get("completion_tokens")) or 0,
        cache_read_tokens=cached,
        cache_creation_tokens=creation,
        reasoning_tokens=reasoning,
    )


def encode_usage(usage: ir.Usage) -> dict[str, Any]:
    prompt = usage.prompt_tokens
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }
    if usage.reasoning_tokens is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def reasoning_text(obj: dict[str, Any]) -> str:
    """Reasoning from a message or delta: reasoning_content | reasoning | reasoning_details[].text.

    The first non-empty source wins: OpenRouter sends `reasoning` and `reasoning_details`
    with the same text, so concatenating them would double it.
    """
    text = obj.get("reasoning_content")
    if text and isinstance(text, str):
        return text
    text = obj.get("reasoning")
    if text and isinstance(text, str):
        return text
    details = obj.get("reasoning_details")
    if details and isinstance(details, list):
        return "".join(
            d["text"] for d in details if isinstance(d, dict) and isinstance(d.get("text"), str)
        )
    return ""


def error_event(err: object) -> ir.StreamError:
    """An upstream `{"error": ...}` payload as an ir.StreamError (spec B3.8)."""
    etype: object = None
    code: object = None
    if isinstance(err, dict):
        msg = err.get("message")
        etype, code = err.get("type"), err.get("code")
        message = msg if isinstance(msg, str) and msg else orjson.dumps(err).decode()
    else:
        message = str(err) if err else "upstream stream error"
    if "overload" in f"{message} {etype} {code}".lower():
        return ir.StreamError(message, "overloaded_error", 529)
    status = code if isinstance(code, int) and 500 <= code < 600 else 502
    return ir.StreamError(message, "api_error", status)



def error_body(
    error_type: str, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def assistant_parts(parts: Iterable[object]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """An assistant turn's (texts, reasoning texts, tool_calls) in Chat Completions shape, for
    the upstream history and the client answer alike."""
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, ir.Text):
            texts.append(p.text)
        elif isinstance(p, ir.ToolCall):
            fn = {"name": p.name, "arguments": p.arguments or "{}"}
            calls.append({"id": p.id, "type": "function", "function": fn})
        elif isinstance(p, ir.Thinking) and p.text:
            thinking.append(p.text)
    return texts, thinking, calls
