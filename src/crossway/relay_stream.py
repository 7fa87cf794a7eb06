"""Streaming half of the relay: upstream SSE in, client SSE out.

Two pumps share one loop: the translated pump decodes upstream events into the canonical
model and re-encodes them in the client's dialect; the fast path (same dialect both sides)
forwards frames as they came, parsing only the frames accounting needs. Both respond to the
client only when the first frame is ready, stop at the upstream's terminal event (dropping
Zen's trailing cost frames, spec A8), and end a broken upstream stream with an error event,
never a fake success (spec B3.8).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web

from crossway import adapt, ir
from crossway.dialects import openai_chat, registry
from crossway.dialects.anthropic_stream import merge_usage
from crossway.dialects.sse import SSEEvent, SSEParser, frame
from crossway.errors import (
    CrosswayError,
    UpstreamError,
    UpstreamTimeout,
    error_class_for_status,
)

if TYPE_CHECKING:
    from crossway.relay import Exchange
    from crossway.routing.plan import Target

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


class _ClientGone(Exception):
    pass


class _Translated:
    def __init__(self, ex: Exchange, t: Target) -> None:
        self.decoder = registry.codec(t.dialect).StreamDecoder(t.caps)
        self.encoder = registry.codec(ex.client_dialect).StreamEncoder(
            ex.plan.requested, include_usage=ex.include_usage)
        self.ex = ex
        self.started = False  # a MessageStart went to the encoder

    @property
    def done(self) -> bool:
        return self.decoder.done

    def feed(self, events: list[SSEEvent]) -> bytes:
        out: list[bytes] = []
        for ev in events:
            self._translate(self.decoder.feed(ev), out)
            if self.decoder.done:
                break
        return b"".join(out)

    def finish(self) -> bytes:
        out: list[bytes] = []
        self._translate(self.decoder.finish(), out)
        return b"".join(out)

    def _translate(self, items: list[ir.StreamEvent], out: list[bytes]) -> None:
        for item in items:
            if isinstance(item, ir.StreamError) and not self.started:
                # Failed before saying anything: a real HTTP error, which SDKs retry and
                # the relay may still fall back from (spec B3.1).
                raise _http_error(item)
            self.started = True
            self._account(item)
            out.append(self.encoder.encode(adapt.restore_event(item, self.ex.restore_names)))

    def fail(self, message: str, status: int) -> bytes:
        self.ex.record.outcome = "upstream_error_mid_stream"
        return self.encoder.encode(ir.StreamError(message, status=status))

    def _account(self, item: ir.StreamEvent) -> None:
        if isinstance(item, ir.MessageEnd):
            self.ex.record.usage = item.usage
        elif isinstance(item, ir.StreamError):
            self.ex.record.outcome = "upstream_error_mid_stream"
            self.ex.record.error = item.message


class _Passthrough:
    """Same dialect: forward frames; look inside only the frames carrying usage or ending
    the stream."""

    def __init__(self, ex: Exchange, t: Target) -> None:
        self.ex = ex
        self.openai = t.dialect == "openai_chat"
        self.done = False
        self.started = False
        # Chunks name the upstream's bare id; clients get back the model string they sent.
        # A byte replacement, not a parse and re-dump of every chunk.
        self.renames: tuple[tuple[bytes, bytes], ...] = ()
        if ex.plan.requested != t.model.id:
            old, new = orjson.dumps(t.model.id), orjson.dumps(ex.plan.requested)
            self.renames = ((b'"model":' + old, b'"model":' + new),
                            (b'"model": ' + old, b'"model": ' + new))

    def feed(self, events: list[SSEEvent]) -> bytes:
        out = []
        for ev in events:
            piece = self._openai(ev) if self.openai else self._anthropic(ev)
            if piece:
                if self.done and self.ex.record.error and not self.started:
                    raise _http_error(self._read_error(ev))  # failed before any content (B3.1)
                self.started = True
                out.append(piece)
            if self.done:
                break
        return b"".join(out)

    def _openai(self, ev: SSEEvent) -> bytes:
        data = ev.data
        if data == b"[DONE]":
            self.done = True
            return b"data: [DONE]\n\n"
        if data.startswith(b'{"error"'):
            self.done = True
            self._note_error(data)
            return ev.raw + b"\n\n"
        if b'"usage":{' in data or b'"usage": {' in data:
            chunk = _loads(data)
            if isinstance(chunk, dict):
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    self.ex.record.usage = openai_chat.decode_usage(usage)
                if not self.ex.include_usage and not chunk.get("choices"):
                    return b""  # we asked for usage; the client did not
        raw = ev.raw
        for old, new in self.renames:
            raw = raw.replace(old, new)
        return raw + b"\n\n"

    def _anthropic(self, ev: SSEEvent) -> bytes:
        kind = ev.event
        if kind is None or kind in ("message_start", "message_delta"):
            obj = _loads(ev.data)
            if not isinstance(obj, dict):
                return ev.raw + b"\n\n"
            kind = str(obj.get("type", kind))
            if kind == "message_start" and isinstance(obj.get("message"), dict):
                msg = obj["message"]
                msg["model"] = self.ex.plan.requested
                self._merge_usage(msg.get("usage"))
                return frame(orjson.dumps(obj), "message_start")
            if kind == "message_delta":
                self._merge_usage(obj.get("usage"))
            if ev.event is None:  # Anthropic clients need `event:` lines (spec B0)
                return frame(ev.data, kind)
        if kind == "message_stop":
            self.done = True
        elif kind == "error":
            self.done = True
            self._note_error(ev.data)
        return ev.raw + b"\n\n"

    def _read_error(self, ev: SSEEvent) -> ir.StreamError:
        # The upstream codec knows how its dialect words errors (type -> status).
        decoder = registry.codec("openai_chat" if self.openai else "anthropic").StreamDecoder()
        for item in decoder.feed(ev):
            if isinstance(item, ir.StreamError):
                return item
        return ir.StreamError("upstream stream failed before any content")

    def _merge_usage(self, usage: Any) -> None:
        # message_start carries input counts, message_delta cumulative output: merge them.
        if self.ex.record.usage is None:
            self.ex.record.usage = ir.Usage()
        merge_usage(self.ex.record.usage, usage)

    def _note_error(self, data: bytes) -> None:
        self.ex.record.outcome = "upstream_error_mid_stream"
        self.ex.record.error = data[:300].decode("utf-8", "replace")

    def finish(self) -> bytes:
        if self.done:
            return b""
        return self.fail("upstream stream ended before its terminal event", 502)

    def fail(self, message: str, status: int) -> bytes:
        self.done = True
        self.ex.record.outcome = "upstream_error_mid_stream"
        self.ex.record.error = message
        if self.openai:
            err = {"error": {"message": message, "type": "server_error", "code": None}}
            return frame(orjson.dumps(err))
        body = {"type": "error", "error": {"type": "api_error", "message": message}}
        return frame(orjson.dumps(body), "error")


_ANTHROPIC_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_SSE_COMMENT_PING = b": keep-alive\n\n"  # OpenAI SDKs and the AI SDK skip SSE comments


async def pump_stream(
    request: web.Request,
    ex: Exchange,
    t: Target,
    resp: aiohttp.ClientResponse,
    *,
    fast: bool,
    ping_interval: float,
) -> web.StreamResponse:
    ctype = resp.headers.get("content-type", "")
    if "text/event-stream" not in ctype:
        raise UpstreamError(
            f"{t.instance.name} answered a streaming request with content-type "
            f"{ctype or 'none'} instead of text/event-stream")
    pump = _Passthrough(ex, t) if fast else _Translated(ex, t)
    return await _Stream(request, ex, t, pump, ping_interval).run(resp)


class _Stream:
    """One client stream: respond only when the first bytes are ready, ping while a
    committed stream is silent, turn upstream failures into errors in the right form."""

    def __init__(self, request: web.Request, ex: Exchange, t: Target,
                 pump: _Translated | _Passthrough, ping_interval: float) -> None:
        self.request, self.ex, self.t, self.pump = request, ex, t, pump
        self.ping_interval = ping_interval
        self.out = web.StreamResponse(status=200, headers=SSE_HEADERS)
        self.loop = asyncio.get_running_loop()
        self.committed = False
        self.last_write = 0.0

    async def run(self, resp: aiohttp.ClientResponse) -> web.StreamResponse:
        name = self.t.instance.name
        pinger = asyncio.create_task(self._keepalive())
        try:
            try:
                await self._pump(resp)
            except TimeoutError:
                if not self.committed:
                    raise UpstreamTimeout(f"{name} sent no data for too long") from None
                await self._send(self.pump.fail(f"{name} went silent mid-stream", 504))
            except aiohttp.ClientError as exc:
                if not self.committed:
                    raise UpstreamError(f"{name} stream failed: {exc}") from exc
                await self._send(self.pump.fail(f"{name} connection dropped mid-stream", 502))
        except _ClientGone:
            self.ex.record.outcome = "client_closed"
            return self.out
        finally:
            pinger.cancel()
        if not self.committed:
            # The upstream closed without a single frame: say so as a real HTTP error.
            raise UpstreamError(f"{name} closed the stream without sending anything")
        await self.out.write_eof()
        return self.out

    async def _pump(self, resp: aiohttp.ClientResponse) -> None:
        parser = SSEParser()
        async for chunk in resp.content.iter_any():
            await self._send(self.pump.feed(parser.feed(chunk)))
            if self.pump.done:
                return
        await self._send(self.pump.feed(parser.flush()))
        await self._send(self.pump.finish())

    async def _send(self, data: bytes) -> None:
        if not data:
            return
        try:
            if not self.committed:
                await self.out.prepare(self.request)
                self.committed = True
                self.ex.record.mark_first_byte()
            self.last_write = self.loop.time()
            await self.out.write(data)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError) as exc:
            raise _ClientGone from exc

    async def _keepalive(self) -> None:
        # Pings only once committed: before the first byte an upstream failure must still
        # be able to become an HTTP error (and a fallback).
        ping = _ANTHROPIC_PING if self.ex.client_dialect == "anthropic" else _SSE_COMMENT_PING
        while True:
            await asyncio.sleep(self.ping_interval)
            idle = self.loop.time() - self.last_write
            if self.committed and not self.pump.done and idle >= self.ping_interval:
                try:
                    await self._send(ping)
                except _ClientGone:
                    return


def _http_error(err: ir.StreamError) -> CrosswayError:
    """A stream that failed before anything reached the client, as a real HTTP error."""
    return error_class_for_status(err.status)(err.message, status=err.status)


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None

