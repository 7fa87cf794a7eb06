"""A fake Anthropic API (api.anthropic.com/v1): messages, count_tokens, models.

What Anthropic enforces, in its words: `x-api-key` (401 authentication_error) and
`anthropic-version` (400); prompt-caching breakpoints of type `ephemeral` with ttl 5m or 1h,
at most four (400 "A maximum of 4 blocks with cache_control may be provided"); count_tokens
takes only the fields a count needs ("Extra inputs are not permitted"). Answers report cache
writes and reads the way Anthropic does: a prefix seen before is read from the cache.
Counts are deliberately unlike any local estimate (so a test can tell who counted).

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.threaded import Recorded, Rejected, ThreadedFake

MODELS = ("claude-sonnet-4-20250514", "claude-haiku-4-5-20251001")
_COUNT_FIELDS = frozenset(("model", "messages", "system", "tools", "tool_choice", "thinking",
                           "mcp_servers"))


@dataclass
class Reply:
    text: str = "hello from anthropic"


def exact_count(body: dict[str, Any]) -> int:
    """The fake's token count: a fixed function of the fields Anthropic counts."""
    counted = [body.get("system"), body.get("messages"), body.get("tools")]
    return len(json.dumps(counted)) // 3 + 1009


class FakeAnthropic(ThreadedFake[Reply]):
    name = "fake-anthropic"

    def __init__(self, keys: tuple[str, ...] = ("sk-ant-test",)) -> None:
        super().__init__()
        self.keys = keys
        self._cached: set[str] = set()

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    async def route(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        if rec.headers.get("x-api-key") not in self.keys:
            raise _error(401, "authentication_error", "invalid x-api-key")
        if not rec.headers.get("anthropic-version"):
            raise _error(400, "invalid_request_error", "anthropic-version: header is required")
        if request.method == "GET" and rec.path == "/v1/models":
            data = [{"type": "model", "id": m, "display_name": m} for m in MODELS]
            return web.json_response({"data": data, "has_more": False})
        body = rec.json
        if not isinstance(body, dict) or body.get("model") not in MODELS:
            raise _error(404, "not_found_error", f"model: {body and body.get('model')}")
        if rec.path == "/v1/messages/count_tokens":
            extra = sorted(set(body) - _COUNT_FIELDS)
            if extra:
                raise _error(400, "invalid_request_error",
                             f"{extra[0]}: Extra inputs are not permitted")
            return web.json_response({"input_tokens": exact_count(body)})
        if rec.path != "/v1/messages":
            raise _error(404, "not_found_error", "Not Found")
        cache_write, cache_read = self._caching(body)
        reply = self.next_reply(Reply())
        usage = {"input_tokens": 10, "output_tokens": max(1, len(reply.text) // 4),
                 "cache_creation_input_tokens": cache_write,
                 "cache_read_input_tokens": cache_read}
        message = {"id": "msg_" + secrets.token_hex(8), "type": "message", "role": "assistant",
                   "model": body["model"], "content": [{"type": "text", "text": reply.text}],
                   "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}
        if not body.get("stream"):
            return web.json_response(message)
        return await _stream(request, message)

    def _caching(self, body: dict[str, Any]) -> tuple[int, int]:
        """(tokens written, tokens read) for the request's cache breakpoints."""
        marks: list[str] = []

        def walk(node: Any, path: str) -> None:
            if isinstance(node, dict):
                cc = node.get("cache_control")
                if cc is not None:
                    if not isinstance(cc, dict) or cc.get("type") != "ephemeral" or \
                            cc.get("ttl", "5m") not in ("5m", "1h"):
                        raise _error(400, "invalid_request_error",
                                     f"{path}.cache_control: invalid cache_control")
                    marks.append(path)
                for k, v in node.items():
                    walk(v, f"{path}.{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{path}.{i}")

        walk({k: body.get(k) for k in ("tools", "system", "messages")}, "body")
        if len(marks) > 4:
            raise _error(400, "invalid_request_error", "A maximum of 4 blocks with "
                         f"cache_control may be provided. Found {len(marks)}.")
        if not marks:
            return 0, 0
        prefix = json.dumps([body.get("tools"), body.get("system"), body.get("messages")])
        size = len(prefix) // 4
        if prefix in self._cached:
            return 0, size
        self._cached.add(prefix)
        return size, 0


def _error(status: int, etype: str, message: str) -> Rejected:
    return Rejected(status, {"type": "error", "error": {"type": etype, "message": message}})


async def _stream(request: web.Request, message: dict[str, Any]) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(request)
    start = {**message, "content": [], "stop_reason": None,
             "usage": {**message["usage"], "output_tokens": 1}}
    text = message["content"][0]["text"]
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": text}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": message["usage"]["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    for name, data in events:
        await resp.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
    await resp.write_eof()
    return resp
