"""GET /metrics: Prometheus text format (observability/metrics.py says what is in it)."""

from __future__ import annotations

import time

from aiohttp import web

from crossway.observability import metrics
from crossway.observability.store.base import StoreError
from crossway.server.state import STATE


async def prometheus(request: web.Request) -> web.Response:
    rt = request.app[STATE].observability
    assert rt is not None, "the edge refuses operator requests without observability"
    rt.flush()
    try:
        quota = await rt.meter.snapshot()
    except StoreError:
        # The quota needs the store; the rest of the metrics do not (and say the store is
        # unhealthy themselves through crossway_usage_store_healthy).
        quota = []
    body = metrics.render(rt, quota, time.time())
    return web.Response(body=body, headers={"content-type": metrics.CONTENT_TYPE})


ROUTES = [("GET", "/metrics", prometheus)]
