"""GET /v1/models: OpenAI list shape, or Anthropic's when an `anthropic-version` header is sent.

Only chat models crossway can serve today, with the ids written into client configs by
`crossway config` (one list, crossway.integrations.discovery). OpenAI-shaped entries carry
extra fields an agent can use (context and output limits, modalities, tools, reasoning);
clients that know only `id`/`object`/`created`/`owned_by` ignore them. At most 256 entries
(some agents choke on long lists) unless `?all=1`.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from crossway.integrations.discovery import advertised, metadata
from crossway.server.state import STATE

# A fixed timestamp: the catalog has no real creation dates, and a stable answer caches well.
_CREATED = 1767225600  # 2026-01-01T00:00:00Z
MAX_LISTED = 256


async def list_models(request: web.Request) -> web.Response:
    models = advertised(request.app[STATE].router)
    # Models of backends with a key first: a truncated list keeps the ones that work.
    models.sort(key=lambda m: not m.ready)
    truncated = len(models) > MAX_LISTED and request.query.get("all") not in ("1", "true")
    if truncated:
        models = models[:MAX_LISTED]
    if request.headers.get("anthropic-version"):
        data = [{"type": "model", "id": m.id, "display_name": m.id,
                 "created_at": "2026-01-01T00:00:00Z"} for m in models]
        body: dict[str, object] = {
            "data": data, "has_more": truncated,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    else:
        body = {"object": "list", "data": [
            {"id": m.id, "object": "model", "created": _CREATED, "owned_by": m.owned_by,
             **metadata(m)} for m in models]}
    return web.Response(body=orjson.dumps(body), content_type="application/json")
