"""Bedrock Converse wire helpers shared by the response and stream decoders."""

from __future__ import annotations

import secrets

from crossway import ir
from crossway.dialects.common import count

_STOP: dict[str, ir.StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "model_context_window_exceeded",
}


def stop_reason(value: object) -> ir.StopReason | None:
    return _STOP.get(value, "end_turn") if isinstance(value, str) else None


def usage_from_wire(usage: object) -> ir.Usage:
    if not isinstance(usage, dict):
        return ir.Usage()
    return ir.Usage(
        input_tokens=count(usage.get("inputTokens")) or 0,
        output_tokens=count(usage.get("outputTokens")) or 0,
        cache_read_tokens=count(usage.get("cacheReadInputTokens")) or 0,
        cache_creation_tokens=count(usage.get("cacheWriteInputTokens")) or 0,
    )


def message_id() -> str:
    """Converse answers carry no message id; clients expect one."""
    return "msg_bdrk_" + secrets.token_hex(12)
