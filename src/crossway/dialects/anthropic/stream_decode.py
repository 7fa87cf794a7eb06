"""Anthropic Messages upstream stream, sans-I/O: SSE events -> ir events."""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects.anthropic.wire import (
    ERROR_STATUS,
    merge_usage,
    new_tool_use_id,
    stop_reason_from_wire,
)
from crossway.dialects.caps import Capabilities
from crossway.dialects.sse import SSEEvent


class StreamDecoder:
    """Anthropic upstream SSE events in, ir stream events out (see dialects/__init__.py)."""

    __slots__ = ("_issuer", "_skipped", "_started", "_stop_reason", "_stop_sequence", "_usage",
                 "_wrap", "done")

    def __init__(self, caps: Capabilities | None = None) -> None:
        self.done = False
        # A signature from an Anthropic-dialect upstream other than Claude (MiniMax, Qwen) is
        # valid for that model only: it travels wrapped with its issuer (crossway.signatures).
        self._wrap = caps is not None and not caps.anthropic_native
        self._issuer = ""
        self._started = False
        self._usage = ir.Usage()
        self._stop_reason: ir.StopReason | None = None
        self._stop_sequence: str | None = None
        # Indexes of blocks ir cannot carry (redacted thinking, server tool blocks).
        self._skipped: set[object] = set()

    def feed(self, ev: SSEEvent) -> list[ir.StreamEvent]:
        # After the terminal event everything is ignored: Zen appends `event: ping` with a
        # cost after message_stop (spec A8), some providers a `data: [DONE]`.
        if self.done or ev.event == "ping" or not ev.data:
            return []
        try:
            obj = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            return self._fail("upstream sent a stream event that is not valid JSON")
        if not isinstance(obj, dict):
            return self._fail("upstream sent a stream event that is not a JSON object")
        typ = obj.get("type") or ev.event
        if typ == "content_block_delta":
            out = self._block_delta(obj)
        elif typ == "content_block_start":
            out = self._block_start(obj)
        elif typ == "message_delta":
            delta = obj.get("delta")
            if isinstance(delta, dict):
                if "stop_reason" in delta:
                    self._stop_reason = stop_reason_from_wire(delta["stop_reason"])
                seq = delta.get("stop_sequence")
                self._stop_sequence = seq if isinstance(seq, str) else self._stop_sequence
            merge_usage(self._usage, obj.get("usage"))
            return []
        elif typ == "message_stop":
            self.done = True
            out = [ir.MessageEnd(self._stop_reason, self._usage, self._stop_sequence)]
        elif typ == "message_start":
            return self._message_start(obj)
        elif typ == "error":
            return self._error(obj)
        else:  # content_block_stop, ping, unknown future events
            return []
        if self._started or not out:
            return out
        self._started = True
        return [ir.MessageStart(), *out]

    def finish(self) -> list[ir.StreamEvent]:
        if self.done:
            return []
        return self._fail("upstream stream ended before message_stop")

    def _fail(self, message: str, error_type: str = "api_error") -> list[ir.StreamEvent]:
        self.done = True
        return [ir.StreamError(message, error_type, ERROR_STATUS.get(error_type, 502))]

    def _message_start(self, obj: dict[str, Any]) -> list[ir.StreamEvent]:
        if self._started:
            return []
        self._started = True
        msg = obj.get("message")
        if not isinstance(msg, dict):
            return [ir.MessageStart(usage=self._usage)]
        merge_usage(self._usage, msg.get("usage"))
        msg_id = msg.get("id")
        model = msg.get("model")
        if isinstance(model, str):
            self._issuer = model
        return [
            ir.MessageStart(
                msg_id if isinstance(msg_id, str) else None,
                model if isinstance(model, str) else None,
                ir.Usage(
                    self._usage.input_tokens,
                    self._usage.output_tokens,
                    self._usage.cache_read_tokens,
                    self._usage.cache_creation_tokens,
                ),
            )
        ]

    def _error(self, obj: dict[str, Any]) -> list[ir.StreamEvent]:
        err = obj.get("error")
        if not isinstance(err, dict):
            err = {}
        etype = err.get("type")
        message = err.get("message")
        return self._fail(
            message if isinstance(message, str) and message else "upstream stream error",
            etype if isinstance(etype, str) and etype else "api_error",
        )

    def _block_start(self, obj: dict[str, Any]) -> list[ir.StreamEvent]:
        block = obj.get("content_block")
        if not isinstance(block, dict):
            return []
        btype = block.get("type")
        if btype == "text":
            text = block.get("text")
            return [ir.TextDelta(text)] if isinstance(text, str) and text else []
        if btype == "thinking":
            out: list[ir.StreamEvent] = []
            text = block.get("thinking")
            if isinstance(text, str) and text:
                out.append(ir.ThinkingDelta(text))
            sig = block.get("signature")
            if isinstance(sig, str) and sig:
                out.append(self._signature(sig))
            return out
        if btype == "tool_use":
            tool_id = block.get("id")
            name = block.get("name")
            out = [
                ir.ToolCallStart(
                    tool_id if isinstance(tool_id, str) and tool_id else new_tool_use_id(),
                    name if isinstance(name, str) else "",
                )
            ]
            given = block.get("input")
            if isinstance(given, dict) and given:
                out.append(ir.ToolCallDelta(orjson.dumps(given).decode()))
            return out
        # redacted_thinking: ir has no stream event for it and its `data` is only useful to a
        # real Claude upstream, which the same-dialect fast path serves untranslated; dropped.
        # server_tool_use / *_tool_result: server tools are stripped from translated requests.
        self._skipped.add(obj.get("index"))
        return []

    def _block_delta(self, obj: dict[str, Any]) -> list[ir.StreamEvent]:
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            return []
        if self._skipped and obj.get("index") in self._skipped:
            return []
        dtype = delta.get("type")
        if dtype == "text_delta":
            text = delta.get("text")
            return [ir.TextDelta(text)] if isinstance(text, str) and text else []
        if dtype == "input_json_delta":
            part = delta.get("partial_json")
            return [ir.ToolCallDelta(part)] if isinstance(part, str) and part else []
        if dtype == "thinking_delta":
            text = delta.get("thinking")
            return [ir.ThinkingDelta(text)] if isinstance(text, str) and text else []
        if dtype == "signature_delta":
            sig = delta.get("signature")
            return [self._signature(sig)] if isinstance(sig, str) and sig else []
        return []  # citations_delta and future delta types

    def _signature(self, sig: str) -> ir.ThinkingSignature:
        if self._wrap:
            return ir.ThinkingSignature(signatures.carry("signature", sig, self._issuer))
        return ir.ThinkingSignature(sig)
