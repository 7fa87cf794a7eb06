"""POST /v1/messages/count_tokens: answered locally (OpenCode has no such route)."""

from __future__ import annotations

import orjson
from aiohttp import web

from crossway.errors import InvalidRequest
from crossway.server.body import read_json_object
from crossway.server.state import STATE
from crossway.tokens import estimate_tokens


async def count_tokens(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_json_object(request, state.settings.max_body_bytes)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: a non-empty string is required", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages: a list is required", param="messages")
    request["record"].model = model
    return web.Response(body=orjson.dumps({"input_tokens": estimate_tokens(body)}),
                        content_type="application/json")
