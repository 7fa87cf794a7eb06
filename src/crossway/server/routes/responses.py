"""POST /v1/responses (and /responses), GET and DELETE /v1/responses/{id}.

The same steps as the other completion routes (preflight, route, relay), plus the response
store: a `previous_response_id` is resolved before routing (the stored conversation is
prepended to `input`), so every upstream, whatever its dialect, gets the whole conversation and
the same-dialect fast path still applies; and an answer the client asked to store (`store`
defaults to true, as at OpenAI) is captured on its way out, from the unary body or from the
stream's terminal event, without the relay knowing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from crossway.dialects import registry
from crossway.dialects.sse import SSEParser
from crossway.downstream import Downstream
from crossway.errors import InvalidRequest, NotFound
from crossway.exchange import Exchange
from crossway.observability.records import RequestRecord
from crossway.routing.session import session_id
from crossway.server.body import read_json_object
from crossway.server.downstream import AiohttpDownstream
from crossway.server.response_store import ResponseStore
from crossway.server.state import STATE

_RESPONSES = registry.get("openai_responses")
_TERMINAL = frozenset(("response.completed", "response.incomplete"))
def store_of(app: web.Application) -> ResponseStore:
    """The running application's store of recent responses (created with its state)."""
    return app[STATE].responses


def _as_items(raw: object) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    assert isinstance(raw, list), "preflight checked input's type"
    return list(raw)


def _resolve(body: dict[str, Any], store: ResponseStore) -> dict[str, Any]:
    """The body with a previous_response_id replaced by the conversation it names."""
    prev = body.get("previous_response_id")
    if prev is None:
        return body
    if not isinstance(prev, str) or not prev:
        raise InvalidRequest("previous_response_id must be a non-empty string",
                             param="previous_response_id")
    stored = store.get(prev)
    if stored is None:
        raise InvalidRequest(
            f"Previous response with id '{prev}' not found. crossway keeps stored responses "
            "in memory only (a restart forgets them, and responses sent with store=false are "
            "never kept): send the whole conversation in `input` instead.",
            param="previous_response_id", code="previous_response_not_found")
    out = {k: v for k, v in body.items() if k != "previous_response_id"}
    out["input"] = stored.conversation() + _as_items(body.get("input"))
    return out


class _Capture:
    """A Downstream that hands the finished response object to `keep` as it passes."""

    def __init__(self, inner: Downstream, keep: Callable[[dict[str, Any]], None]) -> None:
        self.inner = inner
        self.keep = keep
        self.parser: SSEParser | None = None

    async def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        if status == 200:
            obj = orjson.loads(body)
            if isinstance(obj, dict) and obj.get("object") == "response":
                self.keep(obj)
        await self.inner.reply(status, body, headers)

    async def open_stream(self, headers: Mapping[str, str]) -> None:
        self.parser = SSEParser()
        await self.inner.open_stream(headers)

    async def write(self, data: bytes) -> None:
        assert self.parser is not None, "write before open_stream"
        for ev in self.parser.feed(data):
            # Only the terminal event is parsed (each frame already was, once, upstream).
            if ev.event in _TERMINAL or (ev.event is None and b'"response.c' in ev.data[:40]):
                obj = orjson.loads(ev.data)
                response = obj.get("response") if isinstance(obj, dict) else None
                if isinstance(response, dict) and obj.get("type") in _TERMINAL:
                    self.keep(response)
        await self.inner.write(data)

    async def close_stream(self) -> None:
        await self.inner.close_stream()


async def create_response(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    record: RequestRecord = request["record"]
    store = store_of(request.app)
    body = await read_json_object(request, state.settings.max_body_bytes)
    pre = _RESPONSES.preflight(body)
    record.model, record.stream = pre.model, pre.stream
    body = _resolve(body, store)
    plan = state.router.plan(pre.model, session_id(request.headers, body))
    record.session_id = plan.session_id
    ex = Exchange(_RESPONSES, body, request.headers, plan, record, pre.stream,
                  pre.include_usage)
    down = AiohttpDownstream(request, record.request_id)
    target: Downstream = down
    if body.get("store") is not False:
        items = _as_items(body.get("input"))

        def keep(response: dict[str, Any]) -> None:
            rid, output = response.get("id"), response.get("output")
            if isinstance(rid, str) and isinstance(output, list):
                store.put(rid, response, items + output)

        target = _Capture(down, keep)
    await state.get_relay().handle(ex, target)
    assert down.response is not None, "the relay answered nothing"
    return down.response


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


async def get_response(request: web.Request) -> web.StreamResponse:
    rid = request.match_info["response_id"]
    stored = store_of(request.app).get(rid)
    if stored is None:
        raise _not_found(rid)
    return web.Response(body=stored.response, content_type="application/json")


async def delete_response(request: web.Request) -> web.StreamResponse:
    rid = request.match_info["response_id"]
    if not store_of(request.app).delete(rid):
        raise _not_found(rid)
    body = {"id": rid, "object": "response.deleted", "deleted": True}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


ROUTES = [
    ("POST", "/v1/responses", create_response),
    ("POST", "/responses", create_response),
    ("GET", "/v1/responses/{response_id}", get_response),
    ("DELETE", "/v1/responses/{response_id}", delete_response),
]
