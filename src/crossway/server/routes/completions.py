"""POST /v1/chat/completions and POST /v1/messages: preflight, route, relay."""

from __future__ import annotations

from aiohttp import web

from crossway import ir
from crossway.dialects import registry
from crossway.dialects.base import Dialect
from crossway.exchange import Exchange
from crossway.observability.records import RequestRecord
from crossway.routing.session import session_id
from crossway.server.body import read_json_object
from crossway.server.downstream import AiohttpDownstream
from crossway.server.state import STATE


async def handle_completion(request: web.Request, client: Dialect) -> web.StreamResponse:
    state = request.app[STATE]
    record: RequestRecord = request["record"]
    body = await read_json_object(request, state.settings.max_body_bytes)
    pre = client.preflight(body)
    record.model, record.stream = pre.model, pre.stream
    decoded: list[ir.Request] = []

    def decode() -> ir.Request:
        # Auto routers classify the conversation; the Exchange keeps the decoded request
        # for translated attempts, so it is decoded at most once.
        if not decoded:
            decoded.append(client.decode_request(body))
        return decoded[0]

    plan = state.router.plan(pre.model, session_id(request.headers, body), decode)
    record.session_id = plan.session_id
    ex = Exchange(client, body, request.headers, plan, record, pre.stream, pre.include_usage,
                  decoded[0] if decoded else None)
    down = AiohttpDownstream(request, record.request_id)
    await state.get_relay().handle(ex, down)
    assert down.response is not None, "the relay answered nothing"
    return down.response


_CHAT = registry.get("openai_chat")
_MESSAGES = registry.get("anthropic")


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await handle_completion(request, _CHAT)


async def messages(request: web.Request) -> web.StreamResponse:
    return await handle_completion(request, _MESSAGES)
