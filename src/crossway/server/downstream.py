"""The relay's Downstream over an aiohttp request: a JSON reply or a committed SSE stream."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp
from aiohttp import web

from crossway.downstream import ClientGone


class AiohttpDownstream:
    def __init__(self, request: web.Request, request_id: str) -> None:
        self.request = request
        self.request_id = request_id
        self.response: web.StreamResponse | None = None

    async def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.response = web.Response(status=status, body=body, headers=headers)

    async def open_stream(self, headers: Mapping[str, str]) -> None:
        out = web.StreamResponse(status=200, headers=headers)
        out.headers["x-request-id"] = self.request_id
        self.response = out
        try:
            await out.prepare(self.request)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError) as exc:
            raise ClientGone from exc

    async def write(self, data: bytes) -> None:
        assert self.response is not None, "write before open_stream"
        try:
            await self.response.write(data)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError) as exc:
            raise ClientGone from exc

    async def close_stream(self) -> None:
        assert self.response is not None, "close before open_stream"
        try:
            await self.response.write_eof()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError) as exc:
            raise ClientGone from exc
