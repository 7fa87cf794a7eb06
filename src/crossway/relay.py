"""The attempt loop: for each target of a plan, build the upstream request, send it, and answer
the client; commit to a target only once the upstream answered with a success status, so an
early upstream error becomes a real HTTP error (and, with several targets, a fallback).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from crossway import adapt, ir
from crossway.dialects import openai_chat, registry
from crossway.dialects.anthropic_stream import usage_from_wire
from crossway.errors import (
    CrosswayError,
    InvalidRequest,
    UpstreamError,
    UpstreamTimeout,
)
from crossway.observability.records import RequestRecord
from crossway.relay_stream import pump_stream
from crossway.routing.plan import Plan, Target
from crossway.signatures import is_ours
from crossway.transport.http import MAX_ERROR_BODY, MAX_RESPONSE_BODY, read_limited


@dataclass(slots=True)
class Exchange:
    """One client request on its way through the gateway."""

    client_dialect: str
    body: dict[str, Any]
    headers: Mapping[str, str]
    plan: Plan
    record: RequestRecord
    stream: bool
    include_usage: bool  # OpenAI clients: stream_options.include_usage
    _ir: ir.Request | None = field(default=None)
    # Tool names shortened for the current target, upstream name -> client name.
    restore_names: dict[str, str] = field(default_factory=dict)

    def ir_request(self) -> ir.Request:
        if self._ir is None:
            self._ir = registry.codec(self.client_dialect).decode_request(self.body)
        return self._ir


class Relay:
    def __init__(self, session: aiohttp.ClientSession, *, ping_interval: float = 10.0) -> None:
        self.session = session
        self.ping_interval = ping_interval

    async def handle(self, request: web.Request, ex: Exchange) -> web.StreamResponse:
        last: CrosswayError | None = None
        for target in ex.plan.targets:
            ex.record.attempts += 1
            ex.record.target = target.label
            ex.record.upstream_dialect = target.dialect
            try:
                return await self._attempt(request, ex, target)
            except CrosswayError as exc:
                # Nothing reached the client yet (a committed stream reports its own
                # errors in-band), so the next target may still answer.
                last = exc
        assert last is not None
        raise last

    async def _attempt(self, request: web.Request, ex: Exchange, t: Target) -> web.StreamResponse:
        upstream = registry.codec(t.dialect)
        fast = ex.client_dialect == t.dialect and _fast_path_ok(ex.body, t)
        ex.record.fast_path = fast
        if fast:
            body = _fast_body(ex, t)
        else:
            adapted = adapt.for_target(ex.ir_request(), t.dialect, t.caps)
            ex.restore_names = adapted.restore_names
            body = upstream.encode_request(adapted.request, t.model.id, t.caps)
        provider = t.provider
        headers = provider.headers(
            t.dialect, t.instance.key, session_id=ex.plan.session_id, stream=ex.stream,
            client_headers=ex.headers, caps=t.caps,
        )
        url = provider.url(t.dialect)
        try:
            resp = await self.session.post(url, data=orjson.dumps(body), headers=headers)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{t.instance.name} did not accept a connection in time") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"cannot reach {t.instance.name} at {provider.base_url}: "
                                f"{type(exc).__name__}: {exc}") from exc
        try:
            if resp.status >= 400:
                raise await self._upstream_error(resp, t)
            if ex.stream:
                return await pump_stream(request, ex, t, resp, fast=fast,
                                         ping_interval=self.ping_interval)
            return await self._unary(ex, t, resp, fast=fast)
        finally:
            resp.release()

    async def _upstream_error(self, resp: aiohttp.ClientResponse, t: Target) -> CrosswayError:
        try:
            raw = await read_limited(resp, MAX_ERROR_BODY)
        except (TimeoutError, aiohttp.ClientError, ValueError):
            raw = b""
        failure = t.provider.parse_failure(resp.status, raw, resp.headers)
        return t.provider.map_error(t.instance, failure)

    async def _unary(
        self, ex: Exchange, t: Target, resp: aiohttp.ClientResponse, *, fast: bool
    ) -> web.Response:
        try:
            raw = await read_limited(resp, MAX_RESPONSE_BODY)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{t.instance.name} stopped answering mid-response") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise UpstreamError(f"{t.instance.name} response failed: {exc}") from exc
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(
                f"{t.instance.name} answered HTTP {resp.status} with a body that is not JSON"
            ) from exc
        if not isinstance(data, dict):
            raise UpstreamError(f"{t.instance.name} answered with a JSON {type(data).__name__}")
        if fast:
            # Only usage is needed from a passed-through body (a full decode cost ~4 us more).
            usage = data.get("usage")
            ex.record.usage = (openai_chat.decode_usage(usage) if t.dialect == "openai_chat"
                               else usage_from_wire(usage))
            data["model"] = ex.plan.requested
            out = data
        else:
            parsed = registry.codec(t.dialect).decode_response(data, t.caps)
            adapt.restore_response(parsed, ex.restore_names)
            ex.record.usage = parsed.usage
            out = registry.codec(ex.client_dialect).encode_response(parsed, ex.plan.requested)
        ex.record.mark_first_byte()
        return web.Response(body=orjson.dumps(out), content_type="application/json")


def _fast_path_ok(body: dict[str, Any], t: Target) -> bool:
    """Same dialect both sides, and an upstream whose output needs no repair.

    OpenAI-compatible upstreams: forwarded with the per-model history edits of
    `_fast_openai_message`, unless the model's output needs repair (Kimi's leaked tool
    tokens). Anthropic Messages: only real Anthropic models; the
    Anthropic-compatible ones (MiniMax, Qwen on OpenCode Go) reject inline system turns and
    emit things Claude Code cannot replay (whitespace-only text blocks), so they go through
    the codecs, which sanitise both directions for about a microsecond per event.
    """
    if t.caps.repair_output:
        return False
    if t.dialect == "openai_chat":
        return True
    if t.dialect != "anthropic" or not t.caps.anthropic_native:
        return False
    for m in body.get("messages") or ():
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            for block in content:
                # Thinking we minted, replayed to real Anthropic, must be stripped (B7).
                if isinstance(block, dict) and block.get("type") == "thinking" and (
                    not block.get("signature") or is_ours(block.get("signature"))
                ):
                    return False
    return True


def _fast_body(ex: Exchange, t: Target) -> dict[str, Any]:
    body = dict(ex.body)
    body["model"] = t.model.id
    if t.dialect == "openai_chat":
        messages = body.get("messages")
        if isinstance(messages, list):
            body["messages"] = [_fast_openai_message(m, t) for m in messages]
        if ex.stream:
            # Always ask for usage (accounting); relay_stream hides the usage chunk from a
            # client that did not ask for it.
            opts = body.get("stream_options")
            body["stream_options"] = {**(opts if isinstance(opts, dict) else {}),
                                      "include_usage": True}
        if not t.caps.parallel_tool_calls:
            body.pop("parallel_tool_calls", None)
        if t.caps.max_output_tokens:
            for key in ("max_tokens", "max_completion_tokens"):
                if isinstance(body.get(key), int) and body[key] > t.caps.max_output_tokens:
                    body[key] = t.caps.max_output_tokens
    elif t.caps.max_output_tokens and isinstance(body.get("max_tokens"), int):
        body["max_tokens"] = min(body["max_tokens"], t.caps.max_output_tokens)
    return body


def _fast_openai_message(m: Any, t: Target) -> Any:
    """The per-model history rules the codec also applies (spec A6, A10, B1.6): GLM rejects
    `content: null` beside tool calls; DeepSeek/Kimi want `reasoning_content` on assistant
    turns, GLM rejects it. Copies the message it changes (the body may serve another target)."""
    if not isinstance(m, dict) or m.get("role") != "assistant":
        return m
    fixed = dict(m)
    if fixed.get("content") is None and fixed.get("tool_calls"):
        fixed["content"] = ""
    if t.caps.reasoning_replay:
        if not isinstance(fixed.get("reasoning_content"), str):
            reasoning = fixed.pop("reasoning", None)
            fixed["reasoning_content"] = reasoning if isinstance(reasoning, str) else ""
    else:
        fixed.pop("reasoning_content", None)
        fixed.pop("reasoning", None)
    return fixed


def require_fields(body: dict[str, Any], dialect: str) -> None:
    """The minimal validation the fast path needs before routing (the codec validates fully)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("model: a non-empty string is required", param="model")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidRequest("messages: a non-empty list is required", param="messages")
    if dialect == "anthropic":
        mt = body.get("max_tokens")
        if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
            raise InvalidRequest("max_tokens: a positive integer is required", param="max_tokens")
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("stream: must be a boolean", param="stream")
