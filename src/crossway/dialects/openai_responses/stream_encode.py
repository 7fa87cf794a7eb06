"""ir stream events -> Responses SSE for the client, in the order the openai SDK and Codex need.

`response.created`, `response.in_progress`, then one output item at a time: `output_item.added`,
its part / delta / done events, `output_item.done` (the copy Codex keeps), then exactly one
terminal `response.completed`, `response.incomplete` or `response.failed` carrying the whole
response. Every event has the next `sequence_number`; every item its own `output_index`
(the openai SDK rejects a reused one). Custom tool input is buffered and sent whole when the
call ends: the upstream streams it as JSON arguments, the client wants the raw text.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects.openai_responses.response import (
    call_item,
    custom_names,
    message_item,
    reasoning_item,
    snapshot,
    wants_encrypted,
)
from crossway.dialects.openai_responses.wire import (
    client_call_id,
    failed_code,
    new_item_id,
    new_response_id,
    status_out,
    unwrap_input,
)
from crossway.dialects.sse import frame

_MESSAGE, _REASONING, _FUNCTION, _CUSTOM = "message", "reasoning", "function", "custom"


class _Open:
    """The output item being written."""

    __slots__ = ("call_id", "encrypted", "id", "index", "kind", "name", "parts", "prefix",
                 "summary")

    def __init__(self, kind: str, item_id: str, index: int) -> None:
        self.kind = kind
        self.id = item_id
        self.index = index
        self.parts: list[str] = []
        self.call_id = ""
        self.name = ""
        self.encrypted: str | None = None
        self.summary = False  # a reasoning summary part was opened
        self.prefix = b""  # the frame of this item's delta events up to the delta itself

    def where(self) -> dict[str, Any]:
        return {"item_id": self.id, "output_index": self.index}


class StreamEncoder:
    """ir stream events in, Responses SSE bytes for the client out.

    `request` (the decoded client request) lets the stream word custom tool calls, echo the
    request's settings and include encrypted reasoning only when the client asked for it.
    `include_usage` exists for interface parity: Responses streams always carry usage.
    """

    __slots__ = ("_created", "_custom", "_encrypted_ok", "_id", "_model", "_open", "_output",
                 "_request", "_seq", "_started", "_usage", "_ws", "done", "include_usage")

    def __init__(self, model: str, *, include_usage: bool = True,
                 request: ir.Request | None = None) -> None:
        self._model = model
        self.include_usage = include_usage
        self._request = request
        self._custom = custom_names(request)
        self._encrypted_ok = wants_encrypted(request)
        self._id = new_response_id()
        self._created = int(time.time())
        self._seq = 0
        self._started = False
        self._open: _Open | None = None
        self._output: list[dict[str, Any]] = []
        self._usage: ir.Usage | None = None
        self._ws = ""  # whitespace-only text held until real text follows
        self.done = False

    @property
    def response_id(self) -> str:
        return self._id

    def encode(self, event: ir.StreamEvent) -> bytes:
        if self.done:
            return b""
        if isinstance(event, ir.MessageStart):
            if self._started:
                return b""
            if event.id and event.id.startswith("resp_"):
                self._id = event.id
            self._usage = event.usage
            return self._begin()
        head = b"" if self._started else self._begin()
        return head + self._content(event)

    # -- framing

    def _event(self, kind: str, body: dict[str, Any]) -> bytes:
        data = orjson.dumps({"type": kind, **body, "sequence_number": self._seq})
        self._seq += 1
        return frame(data, kind)

    def _delta(self, item: _Open, kind: bytes, fields: bytes, value: str,
               tail: bytes = b"") -> bytes:
        """A delta event, from bytes prepared once per item: deltas are most of a stream,
        and this is what every other event's dict building would cost each of them."""
        if not item.prefix:
            item.prefix = (b"event: " + kind + b'\ndata: {"type":"' + kind + b'","item_id":'
                           + orjson.dumps(item.id) + b',"output_index":'
                           + str(item.index).encode() + fields + b',"delta":')
        seq = str(self._seq).encode()
        self._seq += 1
        return item.prefix + orjson.dumps(value) + tail + b',"sequence_number":' + seq + b"}\n\n"

    def _snapshot(self, status: str, **extra: Any) -> dict[str, Any]:
        return snapshot(self._id, self._model, self._created, self._request, status=status,
                        output=list(self._output), **extra)

    def _begin(self) -> bytes:
        self._started = True
        pending = self._snapshot("in_progress")
        return (self._event("response.created", {"response": pending})
                + self._event("response.in_progress", {"response": pending}))

    # -- content

    def _content(self, event: ir.StreamEvent) -> bytes:
        if isinstance(event, ir.TextDelta):
            return self._text(event.text)
        if isinstance(event, ir.ThinkingDelta):
            return self._thinking(event.text)
        if isinstance(event, ir.ToolCallDelta):
            return self._arguments(event.arguments)
        if isinstance(event, ir.ToolCallStart):
            return self._call(event)
        if isinstance(event, ir.ThinkingEncrypted):
            return self._encrypted(event.encrypted_content)
        if isinstance(event, ir.ThinkingSignature):
            if signatures.kind_of(event.signature) == "signature":
                # Another upstream's signature, carried by crossway: replayable from here.
                return self._encrypted(event.signature)
            # A signature with no place here (Claude's, one crossway minted) ends the thinking
            # block all the same.
            return self._close() if self._open is not None and \
                self._open.kind == _REASONING else b""
        if isinstance(event, ir.MessageEnd):
            return self._end(event)
        if isinstance(event, ir.StreamError):
            return self._fail(event)
        return b""

    def _new(self, kind: str, prefix: str) -> tuple[bytes, _Open]:
        out = self._close()
        item = _Open(kind, new_item_id(prefix), len(self._output))
        self._open = item
        return out, item

    def _text(self, text: str) -> bytes:
        item = self._open
        if item is None or item.kind != _MESSAGE:
            if not text.strip():
                # Never open a message for whitespace alone: a client keeps and replays it.
                self._ws += text
                return b""
            text, self._ws = self._ws + text, ""
            out, item = self._new(_MESSAGE, "msg")
            out += self._event("response.output_item.added", {
                "output_index": item.index, "item": message_item(item.id, "", "in_progress")})
            part = {"type": "output_text", "text": "", "annotations": []}
            out += self._event("response.content_part.added",
                               {**item.where(), "content_index": 0, "part": part})
        else:
            out = b""
        if not text:
            return out
        item.parts.append(text)
        return out + self._delta(item, b"response.output_text.delta", b',"content_index":0',
                                 text, b',"logprobs":[]')

    def _open_reasoning(self, with_summary: bool) -> tuple[bytes, _Open]:
        out, item = self._new(_REASONING, "rs")
        out += self._event("response.output_item.added", {
            "output_index": item.index, "item": reasoning_item(item.id, "", None)})
        if with_summary:
            item.summary = True
            part = {"type": "summary_text", "text": ""}
            out += self._event("response.reasoning_summary_part.added",
                               {**item.where(), "summary_index": 0, "part": part})
        return out, item

    def _thinking(self, text: str) -> bytes:
        if not text:
            return b""
        item = self._open
        out = b""
        if item is None or item.kind != _REASONING or not item.summary:
            out, item = self._open_reasoning(True)
        item.parts.append(text)
        return out + self._delta(item, b"response.reasoning_summary_text.delta",
                                 b',"summary_index":0', text)

    def _encrypted(self, encrypted: str) -> bytes:
        item = self._open
        if not self._encrypted_ok:
            return self._close() if item is not None and item.kind == _REASONING else b""
        out = b""
        if item is None or item.kind != _REASONING:
            out, item = self._open_reasoning(False)
        item.encrypted = encrypted
        return out + self._close()  # the encrypted state comes last: the item is complete

    def _call(self, event: ir.ToolCallStart) -> bytes:
        custom = event.custom or event.name in self._custom
        out, item = self._new(_CUSTOM if custom else _FUNCTION, "ctc" if custom else "fc")
        item.call_id = client_call_id(event.id, self._id)
        item.name = event.name
        added = call_item(item.id, item.call_id, item.name, "", custom=custom,
                          status="in_progress")
        return out + self._event("response.output_item.added",
                                 {"output_index": item.index, "item": added})

    def _arguments(self, fragment: str) -> bytes:
        item = self._open
        if not fragment or item is None or item.kind not in (_FUNCTION, _CUSTOM):
            return b""
        item.parts.append(fragment)
        if item.kind == _CUSTOM:
            return b""  # JSON-wrapped on the way in; sent unwrapped when the call ends
        return self._delta(item, b"response.function_call_arguments.delta", b"", fragment)

    # -- closing items and the response

    def _close(self, status: str = "completed") -> bytes:
        item = self._open
        if item is None:
            return b""
        self._open = None
        text = "".join(item.parts)
        where = item.where()
        if item.kind == _MESSAGE:
            part = {"type": "output_text", "text": text, "annotations": []}
            done = message_item(item.id, text, status)
            out = (self._event("response.output_text.done",
                               {**where, "content_index": 0, "text": text, "logprobs": []})
                   + self._event("response.content_part.done",
                                 {**where, "content_index": 0, "part": part}))
        elif item.kind == _REASONING:
            out = b""
            if item.summary:
                part = {"type": "summary_text", "text": text}
                out = (self._event("response.reasoning_summary_text.done",
                                   {**where, "summary_index": 0, "text": text})
                       + self._event("response.reasoning_summary_part.done",
                                     {**where, "summary_index": 0, "part": part}))
            done = reasoning_item(item.id, text, item.encrypted)
        elif item.kind == _FUNCTION:
            arguments = text or "{}"
            out = self._event("response.function_call_arguments.done",
                              {**where, "arguments": arguments})
            done = call_item(item.id, item.call_id, item.name, arguments, custom=False,
                             status=status)
        else:
            value = unwrap_input(text)
            out = b""
            if value:
                out = self._event("response.custom_tool_call_input.delta",
                                  {**where, "delta": value})
            out += self._event("response.custom_tool_call_input.done", {**where, "input": value})
            done = call_item(item.id, item.call_id, item.name, value, custom=True, status=status)
        self._output.append(done)
        return out + self._event("response.output_item.done",
                                 {"output_index": item.index, "item": done})

    def _end(self, event: ir.MessageEnd) -> bytes:
        status, incomplete = status_out(event.stop_reason)
        out = self._close("completed" if incomplete is None else "incomplete")
        self.done = True
        kind = "response.completed" if incomplete is None else "response.incomplete"
        final = self._snapshot(status, usage=event.usage, incomplete=incomplete)
        return out + self._event(kind, {"response": final})

    def _fail(self, error: ir.StreamError) -> bytes:
        out = self._close("incomplete")
        self.done = True
        err = {"code": failed_code(error), "message": error.message}
        final = self._snapshot("failed", usage=self._usage, error=err)
        return out + self._event("response.failed", {"response": final})
