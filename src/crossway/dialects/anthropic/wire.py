"""Anthropic Messages wire helpers: stop reasons, usage, ids, error types."""

from __future__ import annotations

import secrets
from typing import Any, cast, get_args

from crossway import ir
from crossway.dialects.common import count as _count

_STOP_REASONS: frozenset[str] = frozenset(get_args(ir.StopReason))
# Anthropic-compatible providers that leak OpenAI words into stop_reason.
_STOP_ALIASES: dict[str, ir.StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# Anthropic error type -> HTTP status, for StreamError.status (spec B8).
ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 502,
    "overloaded_error": 529,
}

_USAGE_FIELDS = (
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_input_tokens", "cache_read_tokens"),
    ("cache_creation_input_tokens", "cache_creation_tokens"),
)


def stop_reason_from_wire(value: object) -> ir.StopReason | None:
    """An upstream stop_reason in ir words; unknown non-null values become end_turn."""
    if value is None:
        return None
    if value in _STOP_REASONS:
        return cast(ir.StopReason, value)
    if isinstance(value, str):
        return _STOP_ALIASES.get(value, "end_turn")
    return "end_turn"


def merge_usage(usage: ir.Usage, wire: object) -> None:
    """Overwrite `usage` with every count present in an Anthropic usage object (cumulative)."""
    if not isinstance(wire, dict):
        return
    for wire_name, ir_name in _USAGE_FIELDS:
        n = _count(wire.get(wire_name))
        if n is not None:
            setattr(usage, ir_name, n)


def usage_from_wire(wire: object) -> ir.Usage:
    usage = ir.Usage()
    merge_usage(usage, wire)
    return usage


def usage_to_wire(usage: ir.Usage | None) -> dict[str, int]:
    if usage is None:
        return {
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def new_tool_use_id() -> str:
    return "toolu_" + secrets.token_hex(12)



def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}
