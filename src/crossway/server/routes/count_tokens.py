"""POST /v1/messages/count_tokens: forwarded to a real Anthropic upstream for an exact count,
counted locally with a BPE otherwise (OpenCode and the OpenAI-compatible services have no
such route)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web

from crossway.errors import CrosswayError, InvalidRequest
from crossway.failures import TransportFailure
from crossway.providers.generic import AnthropicProvider
from crossway.routing.session import session_id
from crossway.server.body import read_json_object
from crossway.server.state import STATE, AppState
from crossway.transport.base import MAX_ERROR_BODY

log = logging.getLogger("crossway.count_tokens")
# Anthropic's own answer is tiny; anything larger is not a count.
_MAX_COUNT_BODY = 64 * 1024


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
    exact = await _upstream_count(state, request, body, model)
    if exact is not None:
        return web.Response(body=exact, content_type="application/json",
                            headers={"x-crossway-count": "upstream"})
    counter = await state.get_tokens()
    # Large requests take milliseconds to tokenize: keep that off the event loop.
    n = await asyncio.get_running_loop().run_in_executor(None, counter.count_request, body)
    return web.Response(body=orjson.dumps({"input_tokens": n}), content_type="application/json",
                        headers={"x-crossway-count": "estimated"})


async def _upstream_count(state: AppState, request: web.Request, body: dict[str, Any],
                          model: str) -> bytes | None:
    """The upstream's own answer when the model's first target is a real Anthropic API;
    None to count locally. The upstream's refusal of the request itself is the client's."""
    sid = session_id(request.headers, body)
    try:
        plan = state.router.plan(model, sid)
    except CrosswayError:
        return None  # an unknown model is still countable; the completion will say more
    target = plan.targets[0]
    provider = target.provider
    if not isinstance(provider, AnthropicProvider) or not target.caps.anthropic_native:
        return None
    upstream = provider.count_tokens_request(target, body, session_id=sid,
                                             client_headers=request.headers)
    try:
        resp = await state.get_relay().transport.send(upstream)
        try:
            raw = await resp.read(_MAX_COUNT_BODY if resp.status == 200 else MAX_ERROR_BODY)
        finally:
            resp.release()
    except TransportFailure as exc:
        log.warning("count_tokens: %s unreachable (%s); counting locally", target.label,
                    exc.detail)
        return None
    if resp.status == 200:
        return raw
    failure = provider.parse_failure(resp.status, raw, resp.headers)
    if resp.status in (400, 404, 413, 422):
        raise provider.map_error(target.instance, failure)
    log.warning("count_tokens: %s answered HTTP %d (%s); counting locally", target.label,
                resp.status, failure.message)
    return None
