"""POST /v1/chat/completions and POST /v1/messages: validate, route, relay."""

from __future__ import annotations

from aiohttp import web

from crossway.observability.records import RequestRecord
from crossway.relay import Exchange, require_fields
from crossway.routing.session import session_id
from crossway.server.body import read_json_object
from crossway.server.state import STATE


async def handle_completion(request: web.Request, dialect: str) -> web.StreamResponse:
    state = request.app[STATE]
    record: RequestRecord = request["record"]
    body = await read_json_object(request, state.settings.max_body_bytes)
    require_fields(body, dialect)
    record.model = body["model"]
    stream = body.get("stream") is True
    record.stream = stream
    opts = body.get("stream_options")
    include_usage = dialect == "anthropic" or (
        isinstance(opts, dict) and opts.get("include_usage") is True)
    plan = state.router.plan(body["model"], session_id(request.headers, body))
    ex = Exchange(dialect, body, request.headers, plan, record, stream, include_usage)
    return await state.get_relay().handle(request, ex)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await handle_completion(request, "openai_chat")


async def messages(request: web.Request) -> web.StreamResponse:
    return await handle_completion(request, "anthropic")
