"""Upstream Responses SSE -> ir stream events (the contract in crossway.ir, spec B9).

A Responses stream is item-structured already: items open (`output_item.added`), stream
their deltas and close (`output_item.done`) one after another, so ir's block structure
follows directly. The `done` copy of an item is authoritative: whatever it holds that no
delta carried (servers that send only the finished item) is emitted from it.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects import Capabilities
from crossway.dialects.openai_responses.response import message_text, reasoning_text
from crossway.dialects.openai_responses.wire import (
    CUSTOM_INPUT,
    decode_usage,
    escape_fragment,
    stop_reason_in,
    stream_error_in,
)
from crossway.dialects.sse import SSEEvent

_CUSTOM_OPEN = '{"' + CUSTOM_INPUT + '":"'
_CUSTOM_CLOSE = '"}'
_TOOL_KINDS = ("function_call", "custom_tool_call")


class _Item:
    """The output item being streamed."""

    __slots__ = ("emitted", "id", "kind", "reasoning_key", "started")

    def __init__(self, kind: str, item_id: object) -> None:
        self.kind = kind
        self.id = item_id if isinstance(item_id, str) else None
        self.emitted = False  # a delta of this item's content went out
        self.started = False  # tool calls: ToolCallStart went out
        self.reasoning_key: str | None = None  # "summary" or "text": the one kind we follow


class StreamDecoder:
    """Upstream Responses events in, ir stream events out (see dialects/__init__.py)."""

    __slots__ = ("_calls", "_issuer", "_item", "_started", "_wrap", "done")

    def __init__(self, caps: Capabilities | None = None) -> None:
        self.done = False
        # Encrypted reasoning is valid for the model that issued it only: it travels wrapped
        # with its issuer (crossway.signatures). Without caps (codec tests) it stays raw.
        self._wrap = caps is not None
        self._issuer = ""
        self._started = False
        self._item: _Item | None = None
        self._calls = 0

    def feed(self, ev: SSEEvent) -> list[ir.StreamEvent]:
        # After the terminal event nothing counts: Zen appends `event: ping` with the cost
        # (spec A8), its adapter a `data: [DONE]`.
        if self.done or not ev.data or ev.event == "ping":
            return []
        if ev.data == b"[DONE]":
            return self._fail("upstream stream ended before response.completed")
        try:
            obj = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            return self._fail(f"upstream sent an invalid stream event: {ev.data[:200]!r}")
        if not isinstance(obj, dict):
            return self._fail("upstream sent a stream event that is not a JSON object")
        typ = obj.get("type") or ev.event
        out: list[ir.StreamEvent] = []
        if typ in ("response.created", "response.in_progress", "response.queued"):
            self._start(obj.get("response"), out)
            return out
        if typ in ("error", "response.failed"):
            return self._error(obj, typ)
        if not self._started:
            self._start(None, out)
        self._dispatch(str(typ), obj, out)
        return out

    def finish(self) -> list[ir.StreamEvent]:
        if self.done:
            return []
        return self._fail("upstream stream ended before response.completed")

    # -- internals

    def _dispatch(self, typ: str, obj: dict[str, Any], out: list[ir.StreamEvent]) -> None:
        if typ in ("response.output_text.delta", "response.refusal.delta"):
            self._text(obj.get("delta"), out)
        elif typ == "response.reasoning_summary_text.delta":
            self._thinking("summary", obj.get("delta"), out)
        elif typ == "response.reasoning_text.delta":
            self._thinking("text", obj.get("delta"), out)
        elif typ == "response.reasoning_summary_part.added":
            self._summary_part(obj, out)
        elif typ == "response.function_call_arguments.delta":
            self._arguments(obj.get("delta"), "function_call", out)
        elif typ == "response.custom_tool_call_input.delta":
            self._arguments(obj.get("delta"), "custom_tool_call", out)
        elif typ == "response.output_item.added":
            self._added(obj.get("item"), out)
        elif typ == "response.output_item.done":
            self._done_item(obj.get("item"), out)
        elif typ in ("response.completed", "response.incomplete"):
            self._end(obj.get("response"), out)
        # content_part.*, *.done text events, annotations, built-in tool progress: the
        # deltas and the item's done copy already carry everything ir needs.

    def _start(self, response: object, out: list[ir.StreamEvent]) -> None:
        if self._started:
            return
        self._started = True
        rid = model = None
        if isinstance(response, dict):
            rid, model = response.get("id"), response.get("model")
            if isinstance(model, str):
                self._issuer = model
        out.append(ir.MessageStart(id=rid if isinstance(rid, str) else None,
                                   model=model if isinstance(model, str) else None))

    def _fail(self, message: str) -> list[ir.StreamEvent]:
        self.done = True
        return [ir.StreamError(message)]

    def _error(self, obj: dict[str, Any], typ: object) -> list[ir.StreamEvent]:
        self.done = True
        if typ == "response.failed":
            response = obj.get("response")
            err = response.get("error") if isinstance(response, dict) else None
            return [stream_error_in(err, "upstream response failed")]
        inner = obj.get("error")
        return [stream_error_in(inner if isinstance(inner, dict) else obj)]

    def _close(self, out: list[ir.StreamEvent]) -> None:
        item = self._item
        self._item = None
        if item is not None and item.kind == "custom_tool_call" and item.started:
            out.append(ir.ToolCallDelta(_CUSTOM_CLOSE))

    def _open(self, kind: str, item_id: object, out: list[ir.StreamEvent]) -> _Item:
        self._close(out)
        self._item = _Item(kind, item_id)
        return self._item

    def _current(self, kind: str, out: list[ir.StreamEvent]) -> _Item:
        """The open item if it is of `kind`, else a new one (servers that skip `added`)."""
        item = self._item
        if item is None or item.kind != kind:
            item = self._open(kind, None, out)
        return item

    def _text(self, delta: object, out: list[ir.StreamEvent]) -> None:
        if isinstance(delta, str) and delta:
            self._current("message", out).emitted = True
            out.append(ir.TextDelta(delta))

    def _thinking(self, key: str, delta: object, out: list[ir.StreamEvent]) -> None:
        if not isinstance(delta, str) or not delta:
            return
        item = self._current("reasoning", out)
        if item.reasoning_key is None:
            item.reasoning_key = key
        elif item.reasoning_key != key:
            return  # a server sending both raw text and summary: one is enough
        item.emitted = True
        out.append(ir.ThinkingDelta(delta))

    def _summary_part(self, obj: dict[str, Any], out: list[ir.StreamEvent]) -> None:
        item = self._item
        index = obj.get("summary_index")
        if (item is not None and item.kind == "reasoning" and item.emitted
                and item.reasoning_key == "summary" and isinstance(index, int) and index > 0):
            out.append(ir.ThinkingDelta("\n\n"))  # summary parts read as paragraphs

    def _arguments(self, delta: object, kind: str, out: list[ir.StreamEvent]) -> None:
        item = self._item
        if not isinstance(delta, str) or not delta or item is None or item.kind != kind:
            return
        item.emitted = True
        out.append(ir.ToolCallDelta(escape_fragment(delta) if kind == "custom_tool_call"
                                    else delta))

    def _start_call(self, item: _Item, raw: dict[str, Any], out: list[ir.StreamEvent]) -> None:
        call_id = raw.get("call_id") or raw.get("id")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            self._item = None
            self.done = True
            out.append(ir.StreamError(f"upstream sent a {item.kind} without a name"))
            return
        custom = item.kind == "custom_tool_call"
        item.started = True
        self._calls += 1
        out.append(ir.ToolCallStart(str(call_id or f"call_{self._calls}"), name, custom=custom))
        key = "input" if custom else "arguments"
        value = raw.get(key)
        if custom:
            text = value if isinstance(value, str) else ""
            out.append(ir.ToolCallDelta(_CUSTOM_OPEN + escape_fragment(text)))
            item.emitted = bool(text)
        elif isinstance(value, str) and value:
            out.append(ir.ToolCallDelta(value))
            item.emitted = True

    def _added(self, raw: object, out: list[ir.StreamEvent]) -> None:
        if not isinstance(raw, dict):
            return
        kind = str(raw.get("type"))
        item = self._open(kind, raw.get("id"), out)
        if kind in _TOOL_KINDS:
            self._start_call(item, raw, out)

    def _done_item(self, raw: object, out: list[ir.StreamEvent]) -> None:
        if not isinstance(raw, dict):
            return
        kind = str(raw.get("type"))
        item = self._item
        if item is None or item.kind != kind or (item.id and raw.get("id") not in (None, item.id)):
            item = self._open(kind, raw.get("id"), out)
        if kind == "message" and not item.emitted:
            text = message_text(raw)
            if text:
                out.append(ir.TextDelta(text))
        elif kind == "reasoning":
            if not item.emitted:
                text = reasoning_text(raw)
                if text:
                    out.append(ir.ThinkingDelta(text))
            encrypted = raw.get("encrypted_content")
            if isinstance(encrypted, str) and encrypted:
                if self._wrap:
                    encrypted = signatures.carry("encrypted", encrypted, self._issuer)
                out.append(ir.ThinkingEncrypted(encrypted))
        elif kind in _TOOL_KINDS:
            if not item.started:
                self._start_call(item, raw, out)
                if self.done:
                    return
            elif not item.emitted:
                value = raw.get("input" if kind == "custom_tool_call" else "arguments")
                if isinstance(value, str) and value:
                    out.append(ir.ToolCallDelta(escape_fragment(value)
                                                if kind == "custom_tool_call" else value))
        self._close(out)

    def _end(self, response: object, out: list[ir.StreamEvent]) -> None:
        self._close(out)
        self.done = True
        status = details = usage = None
        if isinstance(response, dict):
            status = response.get("status")
            details = response.get("incomplete_details")
            usage = response.get("usage")
        if status is None:
            status = "completed"
        out.append(ir.MessageEnd(stop_reason_in(status, details, self._calls > 0),
                                 decode_usage(usage)))
