"""GET /admin/stats, /admin/requests, /admin/usage: the operator's figures as JSON (what the
dashboard draws). Behind the admin key (server/auth.py AdminAccess, checked by the edge)."""

from __future__ import annotations

import orjson
from aiohttp import web

from crossway.errors import InvalidRequest
from crossway.observability import stats
from crossway.observability.setup import ObservabilityRuntime
from crossway.server.state import STATE


def _runtime(request: web.Request) -> ObservabilityRuntime:
    rt = request.app[STATE].observability
    assert rt is not None, "the edge refuses operator requests without observability"
    return rt


def _json(body: object) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json",
                        headers={"cache-control": "no-store"})


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number (got {raw!r})") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be between {low} and {high} (got {value})")
    return value


async def admin_stats(request: web.Request) -> web.Response:
    return _json(await stats.stats(_runtime(request)))


async def admin_requests(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 50, 1, 100)
    return _json({"requests": stats.recent(_runtime(request), limit)})


async def admin_usage(request: web.Request) -> web.Response:
    days = _int_param(request, "days", 30, 1, 366)
    rt = _runtime(request)
    body = await stats.usage(rt, days)
    body["minutes"] = rt.live.minutes(60)
    return _json(body)


ROUTES = [
    ("GET", "/admin/stats", admin_stats),
    ("GET", "/admin/requests", admin_requests),
    ("GET", "/admin/usage", admin_usage),
]
