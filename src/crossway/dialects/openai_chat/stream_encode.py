"""OpenAI Chat Completions client stream, sans-I/O: ir events -> chat.completion.chunk SSE."""

from __future__ import annotations

import secrets
import time

import orjson

from crossway import ir
from crossway.dialects.openai_chat.wire import ERROR_TYPE_OUT, encode_usage, finish_reason_out
from crossway.dialects.sse import frame


class StreamEncoder:
    """ir stream events -> client chat.completion.chunk SSE frames (`data:` only, spec B6)."""

    __slots__ = (
        "_args_sent",
        "_created",
        "_id",
        "_include_usage",
        "_model",
        "_prefix",
        "_started",
        "_tool_index",
        "done",
    )

    def __init__(self, model: str, *, include_usage: bool = True) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id = "chatcmpl-" + secrets.token_hex(12)
        self._created = int(time.time())
        self._prefix = b""
        self._started = False
        self._tool_index = -1
        self._args_sent = True
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
            if event.id and event.id.startswith("chatcmpl-"):
                self._id = event.id
            return self._start()
        if isinstance(event, ir.StreamError):
            self.done = True
            etype = ERROR_TYPE_OUT.get(event.type, event.type)
            error = {"message": event.message, "type": etype, "code": None}
            return frame(orjson.dumps({"error": error}))
        head = b"" if self._started else self._start()
        return head + self._content(event)

    def _content(self, event: ir.StreamEvent) -> bytes:
        if isinstance(event, ir.TextDelta):
            if not event.text:
                return b""
            return self._end_tool() + self._chunk(b'{"content":' + orjson.dumps(event.text) + b"}")
        if isinstance(event, ir.ThinkingDelta):
            if not event.text:
                return b""
            delta = b'{"reasoning_content":' + orjson.dumps(event.text) + b"}"
            return self._end_tool() + self._chunk(delta)
        if isinstance(event, ir.ToolCallStart):
            head = self._end_tool()
            self._tool_index += 1
            self._args_sent = False
            call = {
                "index": self._tool_index,
                "id": event.id,
                "type": "function",
                "function": {"name": event.name, "arguments": ""},
            }
            return head + self._chunk(orjson.dumps({"tool_calls": [call]}))
        if isinstance(event, ir.ToolCallDelta):
            if not event.arguments or self._tool_index < 0:
                return b""
            self._args_sent = True
            return self._arguments(event.arguments)
        if isinstance(event, ir.MessageEnd):
            return self._finish(event)
        return b""  # ThinkingSignature has no Chat Completions form

    def _start(self) -> bytes:
        self._started = True
        self._prefix = (
            b'{"id":'
            + orjson.dumps(self._id)
            + b',"object":"chat.completion.chunk","created":'
            + str(self._created).encode()
            + b',"model":'
            + orjson.dumps(self._model)
            + b',"choices":'
        )
        return self._chunk(b'{"role":"assistant","content":""}')

    def _chunk(self, delta: bytes, finish_reason: bytes = b"null") -> bytes:
        return frame(
            self._prefix
            + b'[{"index":0,"delta":'
            + delta
            + b',"finish_reason":'
            + finish_reason
            + b"}]}"
        )

    def _arguments(self, fragment: str) -> bytes:
        index = str(self._tool_index).encode()
        delta = (
            b'{"tool_calls":[{"index":'
            + index
            + b',"function":{"arguments":'
            + orjson.dumps(fragment)
            + b"}}]}"
        )
        return self._chunk(delta)

    def _end_tool(self) -> bytes:
        """A call that got no arguments gets "{}": clients parse the arguments as JSON."""
        if self._args_sent:
            return b""
        self._args_sent = True
        return self._arguments("{}")

    def _finish(self, event: ir.MessageEnd) -> bytes:
        self.done = True
        reason = orjson.dumps(finish_reason_out(event.stop_reason))
        out = self._end_tool() + self._chunk(b"{}", reason)
        if self._include_usage:
            usage = orjson.dumps(encode_usage(event.usage))
            out += frame(self._prefix + b'[],"usage":' + usage + b"}")
        return out + b"data: [DONE]\n\n"
