"""Anthropic Messages client stream, sans-I/O: ir events -> SSE (spec B0, B3)."""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir, signatures, toolids
from crossway.dialects.anthropic.wire import new_message_id, new_tool_use_id, usage_to_wire
from crossway.dialects.sse import frame

_TEXT = "text"
_THINKING = "thinking"
_TOOL = "tool_use"

PING = frame(b'{"type":"ping"}', "ping")
_MESSAGE_STOP = frame(b'{"type":"message_stop"}', "message_stop")


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return frame(
        orjson.dumps({"type": "content_block_delta", "index": index, "delta": delta}),
        "content_block_delta",
    )


class StreamEncoder:
    """ir stream events in, Anthropic SSE bytes for the client out (spec B0, B3).

    Keeps exactly one block open at a time, never opens a text block for whitespace alone,
    gives every thinking block a signature and every tool call an input. `include_usage`
    exists for interface parity: Anthropic streams always carry usage.
    """

    __slots__ = (
        "_args",
        "_done",
        "_index",
        "_model",
        "_msg_id",
        "_next",
        "_open",
        "_pending_ws",
        "_sig_sent",
        "_started",
        "_thinking",
        "include_usage",
    )

    def __init__(self, model: str, *, include_usage: bool = True) -> None:
        self._model = model
        self.include_usage = include_usage
        self._started = False
        self._msg_id = ""
        self._done = False
        self._open: str | None = None
        self._index = -1
        self._next = 0
        self._pending_ws = ""
        self._thinking: list[str] = []
        self._sig_sent = False
        self._args: list[str] = []  # the open tool call's argument fragments

    @property
    def done(self) -> bool:
        return self._done

    def encode(self, event: ir.StreamEvent) -> bytes:
        if self._done:
            return b""
        if isinstance(event, ir.MessageStart):
            return b"" if self._started else self._message_start(event)
        if not self._started and not isinstance(event, ir.StreamError):
            return self._message_start(ir.MessageStart()) + self._content(event)
        return self._content(event)

    def _content(self, event: ir.StreamEvent) -> bytes:
        if isinstance(event, ir.TextDelta):
            return self._text(event.text)
        if isinstance(event, ir.ToolCallDelta):
            if self._open != _TOOL or not event.arguments:
                return b""
            # Held until the call is complete: the anthropic SDKs parse every prefix of the
            # input and crash on one that cannot become JSON, so arguments go out whole and
            # only once they are known to be a JSON object.
            self._args.append(event.arguments)
            return b""
        if isinstance(event, ir.ThinkingDelta):
            return self._thinking_delta(event.text)
        if isinstance(event, ir.ThinkingSignature):
            return self._signature(event.signature)
        if isinstance(event, ir.ThinkingEncrypted):
            # A Responses upstream's state rides in the signature (crossway.signatures).
            return self._signature(event.encrypted_content)
        if isinstance(event, ir.ToolCallStart):
            out = self._close()
            if self._done:
                return out
            self._args = []
            tool_id = toolids.for_anthropic_client(event.id, self._msg_id) if event.id \
                else new_tool_use_id()
            block = {"type": "tool_use", "id": tool_id, "name": event.name, "input": {}}
            return out + self._open_block(_TOOL, block)
        if isinstance(event, ir.MessageEnd):
            return self._message_end(event)
        if isinstance(event, ir.StreamError):
            self._done = True
            body = {"type": "error", "error": {"type": event.type, "message": event.message}}
            return frame(orjson.dumps(body), "error")
        return b""

    def _message_start(self, event: ir.MessageStart) -> bytes:
        self._started = True
        msg_id = event.id if event.id and event.id.startswith("msg_") else new_message_id()
        self._msg_id = msg_id
        message: dict[str, Any] = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_wire(event.usage),
        }
        body = orjson.dumps({"type": "message_start", "message": message})
        return frame(body, "message_start") + PING

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        self._open = kind
        self._index = self._next
        self._next += 1
        self._pending_ws = ""
        body = {"type": "content_block_start", "index": self._index, "content_block": block}
        return frame(orjson.dumps(body), "content_block_start")

    def _close(self, *, truncated: bool = False) -> bytes:
        kind = self._open
        if kind is None:
            return b""
        out = b""
        if kind == _THINKING and not self._sig_sent:
            sig = signatures.mint("".join(self._thinking))
            out = _delta(self._index, {"type": "signature_delta", "signature": sig})
        elif kind == _TOOL:
            args = "".join(self._args) or "{}"
            if not truncated and not _json_object(args):
                return self._bad_arguments()
            out = _delta(self._index, {"type": "input_json_delta", "partial_json": args})
        self._open = None
        body = orjson.dumps({"type": "content_block_stop", "index": self._index})
        return out + frame(body, "content_block_stop")

    def _bad_arguments(self) -> bytes:
        """The client would run a tool with arguments the model did not send (or fail to
        parse them): end the stream with an error instead of closing the block. A call cut
        short by max_tokens is closed as Anthropic does; stop_reason says why."""
        self._done = True
        message = ("the model sent tool-call arguments that are not a valid JSON object; "
                   "crossway stopped the answer rather than pass them on")
        body = {"type": "error", "error": {"type": "api_error", "message": message}}
        return frame(orjson.dumps(body), "error")

    def _text(self, text: str) -> bytes:
        if self._open == _TEXT:
            return _delta(self._index, {"type": "text_delta", "text": text}) if text else b""
        if not text.strip():
            # Never open a text block for whitespace alone (spec B3.5, B12): hold it for the
            # next real text of this run; another block opening discards it.
            self._pending_ws += text
            return b""
        if self._pending_ws:
            text = self._pending_ws + text
        out = self._close()
        if self._done:
            return out
        out += self._open_block(_TEXT, {"type": "text", "text": ""})
        return out + _delta(self._index, {"type": "text_delta", "text": text})

    def _start_thinking(self) -> bytes:
        out = self._close()
        if self._done:
            return out
        self._thinking = []
        self._sig_sent = False
        block = {"type": "thinking", "thinking": "", "signature": ""}
        return out + self._open_block(_THINKING, block)

    def _thinking_delta(self, text: str) -> bytes:
        if not text:
            return b""
        out = b""
        # Thinking after a signature belongs to a new block (ir has no block boundaries).
        if self._open != _THINKING or self._sig_sent:
            out = self._start_thinking()
            if self._done:
                return out
        self._thinking.append(text)
        return out + _delta(self._index, {"type": "thinking_delta", "thinking": text})

    def _signature(self, signature: str) -> bytes:
        if not signature:
            return b""
        out = b""
        if self._open != _THINKING or self._sig_sent:
            # A signature-only block (thinking display "omitted") still needs its block.
            out = self._start_thinking()
            if self._done:
                return out
        self._sig_sent = True
        return out + _delta(self._index, {"type": "signature_delta", "signature": signature})

    def _message_end(self, event: ir.MessageEnd) -> bytes:
        out = self._close(truncated=event.stop_reason == "max_tokens")
        if self._done:
            return out
        self._done = True
        u = event.usage
        body = {
            "type": "message_delta",
            "delta": {
                "stop_reason": event.stop_reason or "end_turn",
                "stop_sequence": event.stop_sequence,
            },
            "usage": {
                "output_tokens": u.output_tokens,
                "input_tokens": u.input_tokens,
                "cache_creation_input_tokens": u.cache_creation_tokens,
                "cache_read_input_tokens": u.cache_read_tokens,
            },
        }
        return out + frame(orjson.dumps(body), "message_delta") + _MESSAGE_STOP


def _json_object(text: str) -> bool:
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError:
        return False
