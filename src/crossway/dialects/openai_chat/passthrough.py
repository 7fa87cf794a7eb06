"""The OpenAI Chat fast path: a chat client on a chat upstream, forwarded with minimal edits.

The body keeps everything the client sent except what the upstream model needs changed
(model id, history rules shared with the encoder, max_tokens clamp, usage in streams).
Stream frames are forwarded as received, each parsed once: to know when content starts
(the relay commits the client response there), to read usage, and to stop a frame the
client's SDK could not parse from reaching it (the openai SDK crashes on a non-JSON frame).
"""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir
from crossway.dialects.caps import Capabilities
from crossway.dialects.openai_chat.request_encode import history_rules
from crossway.dialects.openai_chat.stream_encode import StreamEncoder
from crossway.dialects.openai_chat.wire import decode_usage, error_event
from crossway.dialects.sse import SSEEvent

_DONE = b"data: [DONE]\n\n"


def passthrough_ok(body: dict[str, Any], caps: Capabilities) -> bool:
    # Kimi leaks raw tool-call tokens into content: its output always needs the codecs.
    return not caps.repair_output


def passthrough_body(body: dict[str, Any], *, model: str, caps: Capabilities,
                     stream: bool) -> dict[str, Any]:
    out = dict(body)
    out["model"] = model
    messages = out.get("messages")
    if isinstance(messages, list):
        out["messages"] = [
            history_rules(dict(m), caps.reasoning_replay)
            if isinstance(m, dict) and m.get("role") == "assistant" else m
            for m in messages
        ]
    if stream:
        # Always ask for usage (accounting); the stream hides the usage chunk from a client
        # that did not ask for it.
        opts = out.get("stream_options")
        out["stream_options"] = {**(opts if isinstance(opts, dict) else {}),
                                 "include_usage": True}
    if not caps.parallel_tool_calls:
        out.pop("parallel_tool_calls", None)
    for key in ("max_tokens", "max_completion_tokens"):
        value = out.get(key)
        if isinstance(value, int):
            out[key] = caps.clamp_max_tokens(value)
    return out


def passthrough_unary(data: dict[str, Any], requested: str) -> ir.Usage:
    data["model"] = requested
    return decode_usage(data.get("usage"))


def _has_content(chunk: dict[str, Any]) -> bool:
    choices = chunk.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        return False
    choice = choices[0]
    if choice.get("finish_reason") is not None:
        return True
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return False
    return bool(delta.get("content") or delta.get("tool_calls") or delta.get("refusal")
                or delta.get("reasoning_content") or delta.get("reasoning")
                or delta.get("reasoning_details"))


class ChatPassthrough:
    __slots__ = ("content", "done", "error", "include_usage", "protocol_error", "renames",
                 "usage")

    def __init__(self, *, requested: str, upstream_model: str, include_usage: bool) -> None:
        self.done = False
        self.content = False
        self.error: ir.StreamError | None = None
        self.protocol_error = False
        self.usage: ir.Usage | None = None
        self.include_usage = include_usage
        # Chunks name the upstream's bare id; clients get back the model string they sent.
        # A byte replacement, not a re-dump of every chunk.
        self.renames: tuple[tuple[bytes, bytes], ...] = ()
        if requested != upstream_model:
            old, new = orjson.dumps(upstream_model), orjson.dumps(requested)
            self.renames = ((b'"model":' + old, b'"model":' + new),
                            (b'"model": ' + old, b'"model": ' + new))

    def feed(self, ev: SSEEvent) -> bytes:
        data = ev.data
        if data == b"[DONE]":
            self.done = True
            if not self.content:
                self._fail("upstream stream ended without a finish_reason", protocol=True)
            return _DONE
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fail(f"upstream sent a stream frame that is not JSON: {data[:120]!r}",
                              protocol=True)
        if not isinstance(chunk, dict):
            return self._fail("upstream sent a stream frame that is not a JSON object",
                              protocol=True)
        err = chunk.get("error")
        if err or ev.event == "error":
            self.error = error_event(err or chunk)
            self.done = True
            return ev.raw + b"\n\n"
        if not self.content and _has_content(chunk):
            self.content = True
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = decode_usage(usage)
            if not self.include_usage and not chunk.get("choices"):
                return b""  # we asked for usage; the client did not
        raw = ev.raw
        for old, new in self.renames:
            raw = raw.replace(old, new)
        return raw + b"\n\n"

    def error_frame(self, message: str, *, status: int = 502,
                    error_type: str = "api_error") -> bytes:
        return StreamEncoder("", include_usage=False).encode(
            ir.StreamError(message, error_type, status))

    def _fail(self, message: str, *, protocol: bool) -> bytes:
        self.done = True
        self.protocol_error = protocol
        self.error = ir.StreamError(message)
        return b""
