"""GET /v1/models: OpenAI list shape, or Anthropic's when an `anthropic-version` header is sent."""

from __future__ import annotations

import orjson
from aiohttp import web

from crossway.server.state import STATE

# A fixed timestamp: the catalog has no real creation dates, and a stable answer caches well.
_CREATED = 1767225600  # 2026-01-01T00:00:00Z


async def list_models(request: web.Request) -> web.Response:
    routes = request.app[STATE].router.routes()
    if request.headers.get("anthropic-version"):
        data = [{"type": "model", "id": r.public_id, "display_name": r.public_id,
                 "created_at": "2026-01-01T00:00:00Z"} for r in routes]
        body: dict[str, object] = {
            "data": data, "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    else:
        body = {"object": "list", "data": [
            {"id": r.public_id, "object": "model", "created": _CREATED,
             "owned_by": r.provider.name} for r in routes]}
    return web.Response(body=orjson.dumps(body), content_type="application/json")
