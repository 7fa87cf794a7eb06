"""Anthropic Messages streaming, sans-I/O: upstream SSE -> ir events, ir events -> client SSE.

Also holds the small wire helpers (stop reasons, usage) that anthropic.py shares, because
anthropic.py re-exports this module and the import must go one way only.
"""

from __future__ import annotations

import secrets
from typing import Any, cast, get_args

import orjson

from crossway import ir, signatures, toolids
from crossway.dialects import Capabilities
from crossway.dialects.sse import SSEEvent, frame

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
_ERROR_STATUS: dict[str, int] = {
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


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value)
    return None


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


# ---------------------------------------------------------------- upstream SSE -> ir


class StreamDecoder:
    """Anthropic upstream SSE events in, ir stream events out (see dialects/__init__.py)."""

    __slots__ = ("_skipped", "_started", "_stop_reason", "_stop_sequence", "_usage", "done")

    def __init__(self, caps: Capabilities | None = None) -> None:
        self.done = False
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
        return [ir.StreamError(message, error_type, _ERROR_STATUS.get(error_type, 502))]

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
                out.append(ir.ThinkingSignature(sig))
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
            return [ir.ThinkingSignature(sig)] if isinstance(sig, str) and sig else []
        return []  # citations_delta and future delta types


# ---------------------------------------------------------------- ir -> client SSE

_TEXT = "text"
_THINKING = "thinking"
_TOOL = "tool_use"

_PING = frame(b'{"type":"ping"}', "ping")
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
        "_args_sent",
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
        self._args_sent = False

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
            self._args_sent = True
            return _delta(
                self._index, {"type": "input_json_delta", "partial_json": event.arguments}
            )
        if isinstance(event, ir.ThinkingDelta):
            return self._thinking_delta(event.text)
        if isinstance(event, ir.ThinkingSignature):
            return self._signature(event.signature)
        if isinstance(event, ir.ToolCallStart):
            out = self._close()
            self._args_sent = False
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
        return frame(body, "message_start") + _PING

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        self._open = kind
        self._index = self._next
        self._next += 1
        self._pending_ws = ""
        body = {"type": "content_block_start", "index": self._index, "content_block": block}
        return frame(orjson.dumps(body), "content_block_start")

    def _close(self) -> bytes:
        kind = self._open
        if kind is None:
            return b""
        out = b""
        if kind == _THINKING and not self._sig_sent:
            sig = signatures.mint("".join(self._thinking))
            out = _delta(self._index, {"type": "signature_delta", "signature": sig})
        elif kind == _TOOL and not self._args_sent:
            out = _delta(self._index, {"type": "input_json_delta", "partial_json": "{}"})
        self._open = None
        body = orjson.dumps({"type": "content_block_stop", "index": self._index})
        return out + frame(body, "content_block_stop")

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
        out = self._close() + self._open_block(_TEXT, {"type": "text", "text": ""})
        return out + _delta(self._index, {"type": "text_delta", "text": text})

    def _start_thinking(self) -> bytes:
        out = self._close()
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
        self._thinking.append(text)
        return out + _delta(self._index, {"type": "thinking_delta", "thinking": text})

    def _signature(self, signature: str) -> bytes:
        if not signature:
            return b""
        out = b""
        if self._open != _THINKING or self._sig_sent:
            # A signature-only block (thinking display "omitted") still needs its block.
            out = self._start_thinking()
        self._sig_sent = True
        return out + _delta(self._index, {"type": "signature_delta", "signature": signature})

    def _message_end(self, event: ir.MessageEnd) -> bytes:
        out = self._close()
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
