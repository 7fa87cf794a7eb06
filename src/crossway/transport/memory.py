"""An in-memory transport: scripted upstream answers, no sockets. For tests of the relay.

A handler gets each UpstreamRequest and returns a `Reply` (or raises TransportFailure to
fail before any answer). A reply's body is a list of steps: bytes are delivered as one
chunk, a float sleeps that many seconds, a TransportFailure is raised mid-body. Every request
sent is kept in `requests`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from crossway.failures import FailureKind, TransportFailure
from crossway.transport.base import UpstreamRequest

Step = bytes | float | TransportFailure


@dataclass(slots=True)
class Reply:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Sequence[Step] = ()


class MemoryResponse:
    def __init__(self, reply: Reply) -> None:
        self.status = reply.status
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in reply.headers.items()}
        self._steps = list(reply.body)
        self.released = False

    async def chunks(self) -> AsyncIterator[bytes]:
        for step in self._steps:
            if isinstance(step, TransportFailure):
                raise step
            if isinstance(step, float):
                await asyncio.sleep(step)
            elif step:
                yield step

    async def read(self, limit: int) -> bytes:
        out = b""
        async for chunk in self.chunks():
            out += chunk
            if len(out) > limit:
                raise TransportFailure(FailureKind.PROTOCOL, f"the body exceeds {limit} bytes")
        return out

    def release(self) -> None:
        self.released = True


Handler = Callable[[UpstreamRequest], Reply | Awaitable[Reply]]


class MemoryTransport:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[UpstreamRequest] = []
        self.responses: list[MemoryResponse] = []

    async def send(self, request: UpstreamRequest) -> MemoryResponse:
        self.requests.append(request)
        reply = self.handler(request)
        if inspect.isawaitable(reply):
            reply = await reply
        response = MemoryResponse(reply)
        self.responses.append(response)
        return response

    async def close(self) -> None:
        return None
