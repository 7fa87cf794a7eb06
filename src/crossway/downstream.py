"""The client side of the relay's seam: where answers go. The server adapts it to aiohttp;
tests collect it in memory (`MemoryDownstream`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from crossway.exchange import Exchange

JSON_HEADERS = {"content-type": "application/json"}
SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


def served_by(headers: Mapping[str, str], ex: Exchange) -> dict[str, str]:
    """`headers` plus what served the request: `x-crossway-target` (instance:model that
    answered) and `x-crossway-attempts` (upstream tries, fallbacks included)."""
    out = dict(headers)
    out.update(ex.record.served_headers())
    return out


class ClientGone(Exception):
    """The client closed its connection; nothing more can be sent."""


class Downstream(Protocol):
    async def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """A whole (non-stream) answer."""
        ...

    async def open_stream(self, headers: Mapping[str, str]) -> None:
        """Commit a 200 stream: from here on, failures are reported in-band."""
        ...

    async def write(self, data: bytes) -> None:
        """Raises ClientGone when the client has left."""
        ...

    async def close_stream(self) -> None: ...


class MemoryDownstream:
    def __init__(self, *, gone_after: int | None = None) -> None:
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self.writes: list[bytes] = []
        self.streaming = False
        self.closed = False
        self._gone_after = gone_after  # writes accepted before the client "leaves"

    async def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.status, self.body, self.headers = status, body, dict(headers)

    async def open_stream(self, headers: Mapping[str, str]) -> None:
        self.status, self.headers, self.streaming = 200, dict(headers), True

    async def write(self, data: bytes) -> None:
        if self._gone_after is not None and len(self.writes) >= self._gone_after:
            raise ClientGone
        self.writes.append(data)
        self.body += data

    async def close_stream(self) -> None:
        self.closed = True
