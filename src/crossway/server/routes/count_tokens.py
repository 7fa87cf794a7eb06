"""POST /v1/messages/count_tokens: counted locally with a BPE (OpenCode has no such route)."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from crossway.errors import InvalidRequest
from crossway.server.body import read_json_object
from crossway.server.state import STATE


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
    counter = await state.get_tokens()
    # Large requests take milliseconds to tokenize: keep that off the event loop.
    n = await asyncio.get_running_loop().run_in_executor(None, counter.count_request, body)
    return web.Response(body=orjson.dumps({"input_tokens": n}), content_type="application/json")
