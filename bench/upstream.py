"""Fake LLM upstream tuned for load: OpenAI chat/completions and Anthropic messages.

A bare asyncio protocol (no web framework) answering from pre-built bytes, so the upstream
costs as little CPU as possible and the core it shares with the load generator stays free.
Replies are shaped like OpenCode's (chat.completion(.chunk) and Anthropic Messages events),
with a configurable reply size, number of stream chunks, pacing between chunks and time to
first token. `POST /_bench/config` (JSON) changes those between measurement phases;
`GET /_bench/stats` returns counters.

    python -m bench.upstream --port 9100 --chunks 50 --pace-ms 20 --ttft-ms 0 --reply-chars 1000

Only HTTP/1.1 with Content-Length request bodies (aiohttp, httpx and LiteLLM send that).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass
from typing import Any

import orjson

WORDS = ("alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot ", "golf ", "hotel ")


@dataclass
class Profile:
    reply_chars: int = 1000  # length of the reply text
    chunks: int = 50  # stream content chunks the text is split into
    pace_ms: float = 0.0  # delay between two content chunks
    ttft_ms: float = 0.0  # delay before the first frame (stream) or the body (non-stream)


def reply_text(chars: int) -> str:
    out: list[str] = []
    n = 0
    i = 0
    while n < chars:
        w = WORDS[i % len(WORDS)]
        out.append(w)
        n += len(w)
        i += 1
    return "".join(out)[:chars]


def split_text(text: str, chunks: int) -> list[str]:
    chunks = max(1, min(chunks, len(text) or 1))
    size, extra = divmod(len(text), chunks)
    parts, pos = [], 0
    for i in range(chunks):
        n = size + (1 if i < extra else 0)
        parts.append(text[pos:pos + n])
        pos += n
    return parts


def _chunked(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(data: dict[str, Any] | bytes, event: str | None = None) -> bytes:
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return _chunked(head + b"data: " + body + b"\n\n")


USAGE_OPENAI = {"prompt_tokens": 120, "completion_tokens": 250, "total_tokens": 370,
                "prompt_tokens_details": {"cached_tokens": 20}}
USAGE_ANTHROPIC_IN = {"input_tokens": 100, "output_tokens": 1, "cache_read_input_tokens": 20,
                      "cache_creation_input_tokens": 0}


@dataclass
class Wire:
    """Every byte the upstream sends for one profile, built once."""

    openai_unary: bytes
    anthropic_unary: bytes
    openai_head: list[bytes]  # frames sent together at first token
    openai_parts: list[bytes]  # one per content chunk
    openai_tail: bytes  # finish, usage, [DONE], end of chunked body
    anthropic_head: list[bytes]
    anthropic_parts: list[bytes]
    anthropic_tail: bytes


def build_wire(p: Profile, model_openai: str = "glm-5.1",
               model_anthropic: str = "minimax-m2.7") -> Wire:
    text = reply_text(p.reply_chars)
    parts = split_text(text, p.chunks)
    created = int(time.time())
    oid = "chatcmpl-bench0000000000000000"
    openai_unary = orjson.dumps({
        "id": oid, "object": "chat.completion", "created": created, "model": model_openai,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": USAGE_OPENAI,
    })
    anthropic_unary = orjson.dumps({
        "id": "msg_bench0000000000000000", "type": "message", "role": "assistant",
        "model": model_anthropic, "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {**USAGE_ANTHROPIC_IN, "output_tokens": 250},
    })

    def ochunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({"id": oid, "object": "chat.completion.chunk", "created": created,
                     "model": model_openai,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    openai_head = [ochunk({"role": "assistant", "content": ""})]
    openai_parts = [ochunk({"content": t}) for t in parts]
    openai_tail = (
        ochunk({}, "stop")
        + _sse({"id": oid, "object": "chat.completion.chunk", "created": created,
                "model": model_openai, "choices": [], "usage": USAGE_OPENAI})
        + _sse(b"[DONE]") + b"0\r\n\r\n"
    )
    anthropic_head = [
        _sse({"type": "message_start", "message": {
            "id": "msg_bench0000000000000000", "type": "message", "role": "assistant",
            "model": model_anthropic, "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": USAGE_ANTHROPIC_IN}}, "message_start")
        + _sse({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}, "content_block_start")
        + _sse({"type": "ping"}, "ping")
    ]
    anthropic_parts = [
        _sse({"type": "content_block_delta", "index": 0,
              "delta": {"type": "text_delta", "text": t}}, "content_block_delta")
        for t in parts
    ]
    anthropic_tail = (
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        + _sse({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 250}}, "message_delta")
        + _sse({"type": "message_stop"}, "message_stop")
        + b"0\r\n\r\n"
    )
    return Wire(openai_unary, anthropic_unary, openai_head, openai_parts, openai_tail,
                anthropic_head, anthropic_parts, anthropic_tail)


class State:
    def __init__(self, profile: Profile) -> None:
        self.set_profile(profile)
        self.requests = 0
        self.streams_open = 0
        self.frames = 0

    def set_profile(self, profile: Profile) -> None:
        self.profile = profile
        self.wire = build_wire(profile)


_UNARY_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
               b"content-length: %d\r\n\r\n")
_STREAM_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")


def _plain(status: bytes, body: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % len(body)) + body


class Stream:
    """One paced SSE reply, driven by loop timers (no task per stream)."""

    __slots__ = ("i", "interval", "loop", "parts", "proto", "state", "tail")

    def __init__(self, proto: UpstreamProtocol, head: list[bytes], parts: list[bytes],
                 tail: bytes, p: Profile) -> None:
        self.proto = proto
        self.state = proto.state
        self.loop = asyncio.get_running_loop()
        self.parts = parts
        self.tail = tail
        self.i = 0
        self.interval = p.pace_ms / 1000
        self.state.streams_open += 1
        proto.write(_STREAM_HEAD)
        if self.interval <= 0:
            # No pacing: the whole body after the time to first token.
            body = b"".join(head) + b"".join(parts) + tail
            self.state.frames += len(parts)
            self.loop.call_later(p.ttft_ms / 1000, self._all, body)
        else:
            self.loop.call_later(p.ttft_ms / 1000, self._first, b"".join(head))

    def _all(self, body: bytes) -> None:
        self.proto.write(body)
        self._end()

    def _first(self, head: bytes) -> None:
        self.proto.write(head + self.parts[0])
        self.state.frames += 1
        self.i = 1
        self._schedule()

    def _schedule(self) -> None:
        if self.i < len(self.parts):
            self.loop.call_later(self.interval, self._next)
        else:
            self.proto.write(self.tail)
            self._end()

    def _next(self) -> None:
        if self.proto.closed:
            self._end()
            return
        self.proto.write(self.parts[self.i])
        self.state.frames += 1
        self.i += 1
        self._schedule()

    def _end(self) -> None:
        self.state.streams_open -= 1
        self.proto.busy = False
        self.proto.serve_buffered()


class UpstreamProtocol(asyncio.Protocol):
    def __init__(self, state: State) -> None:
        self.state = state
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.busy = False  # a paced stream is still being written on this connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.serve_buffered()

    def serve_buffered(self) -> None:
        while not self.busy and not self.closed:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            lower = head.lower()
            pos = lower.find(b"\r\ncontent-length:")
            if pos >= 0:
                stop = lower.find(b"\r\n", pos + 2)
                length = int(lower[pos + 17:stop if stop > 0 else None].strip())
            elif b"\r\ntransfer-encoding: chunked" in lower:
                self.write(_plain(b"411 Length Required", b'{"error":"content-length only"}'))
                self.transport.close()  # type: ignore[union-attr]
                return
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4:end + 4 + length]
            self.buf = self.buf[end + 4 + length:]
            self.handle(head, body)

    def handle(self, head: bytes, body: bytes) -> None:
        line_end = head.find(b"\r\n")
        method, _, rest = head[:line_end].partition(b" ")
        path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        st = self.state
        if path.endswith(b"/chat/completions"):
            dialect = "openai"
        elif path.endswith(b"/messages"):
            dialect = "anthropic"
        elif path == b"/_bench/config" and method == b"POST":
            st.set_profile(Profile(**{**asdict(st.profile), **orjson.loads(body)}))
            self.write(_plain(b"200 OK", orjson.dumps(asdict(st.profile))))
            return
        elif path == b"/_bench/stats":
            stats = {"requests": st.requests, "streams_open": st.streams_open,
                     "frames": st.frames, "profile": asdict(st.profile)}
            self.write(_plain(b"200 OK", orjson.dumps(stats)))
            return
        else:
            self.write(_plain(b"404 Not Found", b'{"error":{"message":"no such route"}}'))
            return
        st.requests += 1
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            self.write(_plain(b"400 Bad Request", b'{"error":{"message":"body is not JSON"}}'))
            return
        w, p = st.wire, st.profile
        if isinstance(req, dict) and req.get("stream") is True:
            self.busy = True
            if dialect == "openai":
                Stream(self, w.openai_head, w.openai_parts, w.openai_tail, p)
            else:
                Stream(self, w.anthropic_head, w.anthropic_parts, w.anthropic_tail, p)
            return
        payload = w.openai_unary if dialect == "openai" else w.anthropic_unary
        reply = _UNARY_HEAD % len(payload) + payload
        if p.ttft_ms > 0:
            self.busy = True
            asyncio.get_running_loop().call_later(p.ttft_ms / 1000, self._delayed, reply)
        else:
            self.write(reply)

    def _delayed(self, reply: bytes) -> None:
        self.write(reply)
        self.busy = False
        self.serve_buffered()


async def serve(host: str, port: int, profile: Profile) -> None:
    loop = asyncio.get_running_loop()
    state = State(profile)
    server = await loop.create_server(lambda: UpstreamProtocol(state), host, port,
                                      backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9100)
    ap.add_argument("--reply-chars", type=int, default=Profile.reply_chars)
    ap.add_argument("--chunks", type=int, default=Profile.chunks)
    ap.add_argument("--pace-ms", type=float, default=Profile.pace_ms)
    ap.add_argument("--ttft-ms", type=float, default=Profile.ttft_ms)
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the bench upstream listens on loopback only")
    profile = Profile(a.reply_chars, a.chunks, a.pace_ms, a.ttft_ms)
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(a.host, a.port, profile))


def run(main: Any) -> None:
    """uvloop when installed (as crossway uses it), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


if __name__ == "__main__":
    main()
