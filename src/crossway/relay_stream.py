"""Streaming half of the relay: upstream stream in, client SSE out.

Two pumps share one loop: the translated pump decodes upstream events into the canonical
model and re-encodes them in the client's dialect; the passthrough (same dialect both sides)
forwards frames as they came, through the dialect's own passthrough. On every path the
client response is committed only at the first content (or a successful end): what comes
before (a message_start, a role-only chunk) is held, so a stream that fails before saying
anything is a real HTTP error, which SDKs retry and the relay may still fall back from
(spec B3.1). After the commit a failure ends the stream with an error event in the client's
dialect, never a fake success (spec B3.8). Both stop forwarding at the upstream's terminal
event: Zen's trailing cost frame (spec A8) never reaches the client. It is read, though, after
the client's stream is closed (so it delays nobody), also when the client has already gone,
for at most TRAILER_WAIT seconds, into Attempt.cost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson

from crossway import adapt, failures, ir
from crossway.dialects.base import Dialect
from crossway.dialects.sse import SSEEvent
from crossway.downstream import SSE_HEADERS, ClientGone, Downstream, served_by
from crossway.exchange import Attempt, Exchange
from crossway.failures import FailureKind, TransportFailure
from crossway.providers.base import StreamReader
from crossway.reasoning_cache import BlockCollector, ReasoningCache
from crossway.transport.base import UpstreamResponse

log = logging.getLogger("crossway")

# Zen writes its cost frame right after the upstream's end: waiting longer than this for it
# means the upstream is not Zen or the frame is lost; the cost is then estimated.
TRAILER_WAIT = 1.5


def frame_cost(ev: SSEEvent) -> float | None:
    """The `cost` of a trailing frame (`{"type":"ping","cost":"0.0042"}` or a chat chunk with
    `"choices":[],"cost":...`), as a number of US dollars; None for any other frame."""
    data = ev.data
    if b'"cost"' not in data:
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return body_cost(obj)


def body_cost(obj: object) -> float | None:
    """A top-level `cost` (a decimal string or a number) of a JSON object."""
    if not isinstance(obj, dict):
        return None
    value = obj.get("cost")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        cost = float(value)
    except ValueError:
        return None
    return cost if cost >= 0 else None


def _note_mid_stream(ex: Exchange, attempt: Attempt, kind: FailureKind, message: str) -> None:
    attempt.failure, attempt.error = kind, message
    ex.record.outcome, ex.record.error = "upstream_error_mid_stream", message


class _Translated:
    def __init__(self, ex: Exchange, attempt: Attempt, upstream: Dialect,
                 reasoning: ReasoningCache | None = None) -> None:
        # Reasoning blocks and their tokens, kept for a client that cannot carry them.
        self.reasoning = reasoning
        self.blocks = BlockCollector() if reasoning is not None else None
        self.decoder = upstream.stream_decoder(attempt.target.caps)
        self.encoder = ex.client.stream_encoder(ex.plan.requested,
                                                include_usage=ex.include_usage,
                                                request=ex.ir_request())
        self.ex, self.attempt = ex, attempt
        self.content = False  # something beyond MessageStart was decoded
        self.trailer: list[SSEEvent] = []  # events that came after the terminal one

    @property
    def done(self) -> bool:
        return self.decoder.done

    def feed(self, events: list[SSEEvent]) -> bytes:
        out: list[bytes] = []
        for i, ev in enumerate(events):
            self._translate(self.decoder.feed(ev), out)
            if self.decoder.done:
                self.trailer = events[i + 1:]
                break
        return b"".join(out)

    def finish(self) -> bytes:
        out: list[bytes] = []
        self._translate(self.decoder.finish(), out)
        return b"".join(out)

    def _translate(self, items: list[ir.StreamEvent], out: list[bytes]) -> None:
        names = self.attempt.restore_names
        for item in items:
            if isinstance(item, ir.StreamError):
                if not self.content:
                    raise failures.from_stream_error(item.message, item.status,
                                                     protocol_error=False)
                _note_mid_stream(self.ex, self.attempt, FailureKind.UPSTREAM_STATUS,
                                 item.message)
            elif isinstance(item, ir.MessageEnd):
                self.content = True
                self.attempt.usage = item.usage
                if self.blocks is not None and self.reasoning is not None:
                    self.reasoning.remember(self.ex.plan.session_id, self.blocks.blocks())
            elif not isinstance(item, ir.MessageStart):
                self.content = True
            if self.blocks is not None:
                self.blocks.feed(item)
            out.append(self.encoder.encode(adapt.restore_event(item, names)))

    def fail(self, message: str, status: int, kind: FailureKind) -> bytes:
        _note_mid_stream(self.ex, self.attempt, kind, message)
        return self.encoder.encode(ir.StreamError(message, status=status))


class _Passthrough:
    """Same dialect: the dialect's passthrough forwards frames; this records and decides."""

    def __init__(self, ex: Exchange, attempt: Attempt, upstream: Dialect) -> None:
        self.inner = upstream.passthrough_stream(
            requested=ex.plan.requested, upstream_model=attempt.target.model.id,
            include_usage=ex.include_usage)
        self.upstream = upstream
        self.ex, self.attempt = ex, attempt
        self.trailer: list[SSEEvent] = []  # events that came after the terminal one

    @property
    def done(self) -> bool:
        return self.inner.done

    @property
    def content(self) -> bool:
        return self.inner.content

    def feed(self, events: list[SSEEvent]) -> bytes:
        inner = self.inner
        out: list[bytes] = []
        for i, ev in enumerate(events):
            piece = inner.feed(ev)
            err = inner.error
            if err is not None:
                if not inner.content:
                    raise failures.from_stream_error(err.message, err.status,
                                                     protocol_error=inner.protocol_error)
                kind = FailureKind.PROTOCOL if inner.protocol_error else \
                    FailureKind.UPSTREAM_STATUS
                _note_mid_stream(self.ex, self.attempt, kind, err.message)
                # The upstream's own error frame is forwarded; one crossway detected (a frame
                # it cannot parse) is replaced by an error event of its own.
                piece = piece or inner.error_frame(err.message, status=err.status,
                                                   error_type=err.type)
            if piece:
                out.append(piece)
            if inner.done:
                self.trailer = events[i + 1:]
                break
        if inner.usage is not None:
            self.attempt.usage = inner.usage
        return b"".join(out)

    def finish(self) -> bytes:
        if self.inner.done:
            return b""
        message = f"{self.attempt.target.instance.name} ended its stream before its terminal event"
        if not self.inner.content:
            raise failures.protocol(message)
        return self.fail(message, 502, FailureKind.PROTOCOL)

    def fail(self, message: str, status: int, kind: FailureKind) -> bytes:
        self.inner.done = True
        _note_mid_stream(self.ex, self.attempt, kind, message)
        return self.inner.error_frame(message, status=status)


_Pump = _Translated | _Passthrough


async def pump_stream(ex: Exchange, attempt: Attempt, upstream: Dialect,
                      resp: UpstreamResponse, down: Downstream, *,
                      ping_interval: float, reasoning: ReasoningCache | None = None) -> None:
    provider = attempt.target.provider
    ctype = resp.headers.get("content-type", "")
    if provider.stream_content_type not in ctype:
        raise failures.protocol(
            f"{attempt.target.instance.name} answered a streaming request with content-type "
            f"{ctype or 'none'} instead of {provider.stream_content_type}")
    pump: _Pump = _Passthrough(ex, attempt, upstream) if attempt.fast else \
        _Translated(ex, attempt, upstream, reasoning)
    await _Stream(ex, attempt, pump, down, ping_interval).run(resp, provider.stream_reader())


_MID_STREAM = {
    FailureKind.READ_TIMEOUT: ("went silent mid-stream", 504),
    FailureKind.DISCONNECTED: ("dropped the connection mid-stream", 502),
}


class _Stream:
    """One client stream: commit at the first content, ping while a committed stream is
    silent, turn upstream failures into errors in the right form."""

    def __init__(self, ex: Exchange, attempt: Attempt, pump: _Pump, down: Downstream,
                 ping_interval: float) -> None:
        self.ex, self.attempt, self.pump, self.down = ex, attempt, pump, down
        self.ping_interval = ping_interval
        self.loop = asyncio.get_running_loop()
        self.committed = False
        self.held: list[bytes] = []  # output before the first content
        self.last_write = 0.0

    async def run(self, resp: UpstreamResponse, reader: StreamReader) -> None:
        name = self.attempt.target.instance.name
        record = self.ex.record
        chunks = aiter(resp.chunks())
        pinger = asyncio.create_task(self._keepalive())
        try:
            try:
                await self._pump(chunks, reader)
            except TransportFailure as exc:
                if not self.committed:
                    raise  # the relay turns it into an attempt failure (and maybe a fallback)
                words, status = _MID_STREAM.get(exc.kind, ("stream failed", 502))
                await self._send(self.pump.fail(f"{name} {words} ({exc.detail})", status,
                                                exc.kind))
        except ClientGone:
            record.outcome = "client_closed"
            record.mark_ended()
            if self.pump.done:
                await self._trailer(chunks, reader)
            return
        finally:
            pinger.cancel()
        if not self.committed:
            # Nothing with content came, and nothing failed either: say so as an HTTP error.
            raise failures.protocol(f"{name} closed the stream without sending anything")
        try:
            await self.down.close_stream()
        except ClientGone:
            record.outcome = "client_closed"
        record.mark_ended()
        if self.pump.done and self.attempt.failure is None:
            await self._trailer(chunks, reader)

    async def _pump(self, chunks: AsyncIterator[bytes], reader: StreamReader) -> None:
        pump = self.pump
        async for chunk in chunks:
            await self._send(pump.feed(reader.feed(chunk)))
            if pump.done:
                return
        await self._send(pump.feed(reader.flush()))
        if not pump.done:
            await self._send(pump.finish())

    async def _trailer(self, chunks: AsyncIterator[bytes], reader: StreamReader) -> None:
        """Read Zen's cost frame after the terminal event (the client's stream is closed or
        gone by now): from what came with the terminal event, else from what follows, until
        the upstream's end or TRAILER_WAIT seconds."""
        if self._take_cost(self.pump.trailer):
            return
        try:
            async with asyncio.timeout(TRAILER_WAIT):
                async for chunk in chunks:
                    if self._take_cost(reader.feed(chunk)):
                        return
                self._take_cost(reader.flush())
        except (TimeoutError, TransportFailure) as exc:
            # Not an error of the request (it is answered): the cost is estimated instead.
            log.debug("%s: no cost frame after the stream's end (%s)",
                      self.ex.record.request_id, exc)

    def _take_cost(self, events: list[SSEEvent]) -> bool:
        for ev in events:
            cost = frame_cost(ev)
            if cost is not None:
                self.attempt.cost = cost
                return True
        return False

    async def _send(self, data: bytes) -> None:
        if not data:
            return
        if not self.committed:
            if not self.pump.content:
                self.held.append(data)
                return
            await self.down.open_stream(served_by(SSE_HEADERS, self.ex))
            self.committed = self.attempt.committed = True
            self.ex.record.mark_first_byte()
            if self.held:
                data = b"".join(self.held) + data
                self.held = []
        self.last_write = self.loop.time()
        await self.down.write(data)

    async def _keepalive(self) -> None:
        # Pings only once committed: before the first content an upstream failure must still
        # be able to become an HTTP error (and a fallback).
        ping = self.ex.client.keepalive
        while True:
            await asyncio.sleep(self.ping_interval)
            idle = self.loop.time() - self.last_write
            if self.committed and not self.pump.done and idle >= self.ping_interval:
                try:
                    await self.down.write(ping)
                    self.last_write = self.loop.time()
                except ClientGone:
                    return
