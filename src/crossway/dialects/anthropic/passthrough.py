"""The Anthropic Messages fast path: an Anthropic client on a real Anthropic upstream.

Only real Anthropic models qualify: the Anthropic-compatible ones (MiniMax, Qwen on OpenCode
Go) reject inline system turns and emit things Claude Code cannot replay (whitespace-only
text blocks), so they go through the codecs, which sanitise both directions for about a
microsecond per event. Frames are forwarded as received, each parsed once (to know when
content starts, to merge usage, to give frames their `event:` line, and to stop a frame the
client could not parse); message_start is re-dumped with the model the client asked for.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects.anthropic.stream_encode import StreamEncoder
from crossway.dialects.anthropic.wire import ERROR_STATUS, merge_usage, usage_from_wire
from crossway.dialects.caps import Capabilities
from crossway.dialects.sse import SSEEvent, frame

# Frames that do not commit the client response: they say nothing yet.
_PREAMBLE = frozenset(("message_start", "ping"))


def passthrough_ok(body: dict[str, Any], caps: Capabilities) -> bool:
    if caps.repair_output or not caps.anthropic_native:
        return False
    for m in body.get("messages") or ():
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            for block in content:
                # Thinking we minted, replayed to real Anthropic, must be stripped (B7): the
                # codec path does that.
                if isinstance(block, dict) and block.get("type") == "thinking" and (
                    not block.get("signature") or signatures.is_ours(block.get("signature"))
                ):
                    return False
    return True


def passthrough_body(body: dict[str, Any], *, model: str, caps: Capabilities,
                     stream: bool) -> dict[str, Any]:
    out = dict(body)
    out["model"] = model
    max_tokens = out.get("max_tokens")
    if isinstance(max_tokens, int):
        out["max_tokens"] = caps.clamp_max_tokens(max_tokens)
    return out


def passthrough_unary(data: dict[str, Any], requested: str) -> ir.Usage:
    data["model"] = requested
    return usage_from_wire(data.get("usage"))


class MessagesPassthrough:
    __slots__ = ("content", "done", "error", "protocol_error", "requested", "usage")

    def __init__(self, *, requested: str, upstream_model: str, include_usage: bool) -> None:
        self.requested = requested
        self.done = False
        self.content = False
        self.error: ir.StreamError | None = None
        self.protocol_error = False
        self.usage: ir.Usage | None = None

    def feed(self, ev: SSEEvent) -> bytes:
        if not ev.data:
            return b""
        try:
            obj = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            return self._fail(f"upstream sent a stream event that is not JSON: {ev.data[:120]!r}")
        if not isinstance(obj, dict):
            return self._fail("upstream sent a stream event that is not a JSON object")
        kind = obj.get("type") or ev.event
        if not isinstance(kind, str):
            return self._fail("upstream sent a stream event without a type")
        if kind not in _PREAMBLE and kind != "error":
            self.content = True
        if kind == "message_start" and isinstance(obj.get("message"), dict):
            msg = obj["message"]
            msg["model"] = self.requested
            self._merge_usage(msg.get("usage"))
            return frame(orjson.dumps(obj), kind)
        if kind == "message_delta":
            self._merge_usage(obj.get("usage"))
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            self.done = True
            self.error = _stream_error(obj)
        if ev.event is None:  # Anthropic clients need `event:` lines (spec B0)
            return frame(ev.data, kind)
        return ev.raw + b"\n\n"

    def error_frame(self, message: str, *, status: int = 502,
                    error_type: str = "api_error") -> bytes:
        return StreamEncoder("", include_usage=False).encode(
            ir.StreamError(message, error_type, status))

    def _merge_usage(self, usage: Any) -> None:
        # message_start carries input counts, message_delta cumulative output: merge them.
        if self.usage is None:
            self.usage = ir.Usage()
        merge_usage(self.usage, usage)

    def _fail(self, message: str) -> bytes:
        self.done = True
        self.protocol_error = True
        self.error = ir.StreamError(message)
        return b""


def _stream_error(obj: dict[str, Any]) -> ir.StreamError:
    err = obj.get("error")
    err = err if isinstance(err, dict) else {}
    etype = err.get("type")
    message = err.get("message")
    etype = etype if isinstance(etype, str) and etype else "api_error"
    return ir.StreamError(message if isinstance(message, str) and message
                          else "upstream stream error", etype, ERROR_STATUS.get(etype, 502))
