"""Liveness and the small probes Claude Code sends to its base URL (spec C1)."""

from __future__ import annotations

import orjson
from aiohttp import web

from crossway import __version__
from crossway.server.state import STATE


async def healthz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    backends = {p.name: len(p.instances) for p in state.router.providers.values()}
    body = {"status": "ok", "version": __version__, "backends": backends}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def hello(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def event_logging(request: web.Request) -> web.Response:
    # Claude Code's telemetry batch: accept and drop, there is nowhere to send it.
    await request.read()
    return web.Response(status=204)
