"""A fake OpenCode Zen / OpenCode Go upstream: a real aiohttp HTTP server on 127.0.0.1.

It enforces the rules the real service (and the providers behind it) enforce, so a gateway
bug fails a test instead of passing against a lenient mock. See spec A1/A2/A4/A6/A8/A10.

    with FakeOpenCode(tier="go", keys=("sk-test-go",)) as fake:
        fake.script(Reply(text="hi"), Reply(tool_calls=[ToolCallSpec("bash", {"cmd": "ls"})]))
        ... point the gateway at fake.base_url ...
        assert fake.completions()[0].headers["x-opencode-session"]

Order of checks on POST chat/completions | messages | responses:
    auth (401 AuthError) -> x-opencode-session on go (400 MissingSessionID) -> body is a JSON
    object with a string `model` (400) -> model served on this route (401 ModelError) ->
    route body rules (400 invalid_request_error, provider-prefixed) -> the next scripted Reply
    (only requests passing every check consume one; the first in FIFO order whose `when_tools`
    matches, so a reply can wait for the request that offers tools) -> Reply.delay ->
    Reply.error or the answer.

/responses (opencode_responses.py) enforces OpenAI's Responses rules: item shapes, tool
outputs paired with their calls, encrypted reasoning accepted only if this server minted it
(it answers reasoning with `encrypted_content` when `include` asks for it), calls of tools
the request declares custom answered as custom_tool_call items.

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.opencode_responses import (
    ENCRYPTED_PREFIX,
    check_responses,
    custom_input,
    custom_tool_names,
    responses_object,
    responses_stream,
    wants_encrypted,
)
from tests.fakes.opencode_rules import (
    Bad,
    Reject,
    check_chat,
    check_messages,
    echo_text,
)
from tests.fakes.opencode_wire import (
    FAKE_COST,
    FakeUsage,
    Reply,
    StreamPlan,
    ToolCallSpec,
    Turn,
    chat_completion,
    chat_stream,
    messages_message,
    messages_stream,
    resolve_turn,
)
from tests.fakes.threaded import ServerThread

__all__ = [
    "CATALOG",
    "FAKE_COST",
    "MISSING_SESSION_MESSAGE",
    "PREFIXES",
    "FakeOpenCode",
    "FakeUsage",
    "Fault",
    "Recorded",
    "Reply",
    "ToolCallSpec",
]

# tier -> route -> model ids (a model is served on exactly one route per tier)
CATALOG: dict[str, dict[str, tuple[str, ...]]] = {
    "go": {
        "chat/completions": (
            "glm-5.1",
            "glm-5",
            "glm-5.2",
            "glm-5.3",
            "kimi-k2.6",
            "kimi-k2.7-code",
            "kimi-k3",
            "deepseek-v4-pro",
            "deepseek-v4-flash",
            "mimo-v2.5",
            "mimo-v2.5-pro",
            "mimo-v2-omni",
        ),
        "messages": ("minimax-m3", "minimax-m2.7", "minimax-m2.5", "qwen3.7-max",
                     "qwen3.7-plus"),
        "responses": ("grok-4.5", "gpt-5.6-luna", "muse-spark-1.2-contributor"),
    },
    "zen": {
        "chat/completions": (
            "glm-5.1",
            "kimi-k2.6",
            "minimax-m2.7",
            "deepseek-v4-flash",
            "grok-4.5",
        ),
        "messages": ("claude-sonnet-4-6", "claude-haiku-4-5", "qwen3.7-max"),
        "responses": ("gpt-5.5",),
    },
}

PREFIXES = {"go": "/zen/go/v1", "zen": "/zen/v1"}

MISSING_SESSION_MESSAGE = (
    "Error from provider (Console Go): Request is missing x-opencode-session and cannot be "
    "routed efficiently. Please see https://opencode.ai/docs/go/#where-can-i-use-it"
)

COMPLETION_ROUTES = ("chat/completions", "messages", "responses")
_ROUTE_KIND = {"chat/completions": "chat", "messages": "messages", "responses": "responses"}

NOT_FOUND_HTML = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Not Found | '
    "opencode</title></head><body><main><h1>404</h1><p>Page not found</p></main></body></html>"
)


@dataclass
class Recorded:
    """One request the fake received, and the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    json: Any  # parsed body, None when absent / not JSON
    body: bytes = b""
    status: int | None = None
    route: str | None = None  # "chat/completions" | "messages" | "responses" | "models" | None

    @property
    def model(self) -> str | None:
        model = self.json.get("model") if isinstance(self.json, dict) else None
        return model if isinstance(model, str) else None

    @property
    def key(self) -> str | None:
        """The API key the request carried (x-api-key on /messages, else Bearer)."""
        if self.headers.get("x-api-key"):
            return self.headers["x-api-key"]
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value if scheme == "Bearer" and value else None


@dataclass
class Fault:
    """A standing failure: every valid completion request for `model` (any when None) made
    with `key` (any when None) gets this error, before any scripted reply, until removed."""

    error: tuple[int, str, str]
    model: str | None = None
    key: str | None = None
    retry_after: str | None = None
    limit_name: str | None = None  # OpenCode Go's metadata.limitName ("5 hour", ...)
    hits: int = 0

    def matches(self, model: str, key: str | None) -> bool:
        return (self.model is None or self.model == model) and \
            (self.key is None or self.key == key)

    def body(self) -> dict[str, Any]:
        _, etype, message = self.error
        error: dict[str, Any] = {"type": etype, "message": message}
        if self.limit_name is not None:
            error["metadata"] = {"workspace": "wrk_fake0123456789", "limitName": self.limit_name}
        return {"type": "error", "error": error}


@dataclass
class _State:
    script: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    signatures: dict[str, str] = field(default_factory=dict)  # minted signature -> thinking
    sig_counter: int = 0
    encrypted: dict[str, str] = field(default_factory=dict)  # minted encrypted_content -> text
    faults: list[Fault] = field(default_factory=list)


class FakeOpenCode(ServerThread):
    """Fake OpenCode Zen/Go upstream running in a background thread with its own loop."""

    def __init__(self, tier: str = "go", keys: tuple[str, ...] = ("sk-test-key",)) -> None:
        if tier not in CATALOG:
            raise ValueError(f"tier must be 'go' or 'zen', not {tier!r}")
        super().__init__()
        self.name = f"fake-opencode-{tier}"
        self.tier = tier
        self.keys = tuple(keys)
        self.prefix = PREFIXES[tier]
        # A copy: `serve` adds models to this server only.
        self.catalog = {route: tuple(models) for route, models in CATALOG[tier].items()}
        self._lock = threading.Lock()
        self._state = _State()

    # ------------------------------------------------------------------ public API

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeOpenCode is not started")
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply) -> FakeOpenCode:
        with self._lock:
            self._state.script.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """Scripted replies not consumed yet."""
        with self._lock:
            return len(self._state.script)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.requests)

    def completions(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.route in COMPLETION_ROUTES]

    @property
    def session_ids(self) -> list[str]:
        """x-opencode-session values of completion requests, in arrival order."""
        with self._lock:
            return list(self._state.session_ids)

    def reset(self) -> None:
        with self._lock:
            self._state.script.clear()
            self._state.requests.clear()
            self._state.session_ids.clear()
            self._state.faults.clear()

    def fault(self, status: int, etype: str, message: str, *, model: str | None = None,
              key: str | None = None, retry_after: str | None = None,
              limit_name: str | None = None) -> Fault:
        """Make every request for `model` and/or with `key` fail this way (see Fault)."""
        f = Fault((status, etype, message), model, key, retry_after, limit_name)
        with self._lock:
            self._state.faults.append(f)
        return f

    def clear_fault(self, f: Fault) -> None:
        with self._lock:
            if f in self._state.faults:
                self._state.faults.remove(f)

    def serve(self, model: str, route: str) -> FakeOpenCode:
        """Serve `model` on `route` from now on (listed by GET /models too), as when
        OpenCode adds a model or moves it to another route."""
        with self._lock:
            for r in self.catalog:
                self.catalog[r] = tuple(m for m in self.catalog[r] if m != model)
            self.catalog[route] = (*self.catalog[route], model)
        return self

    def route_of(self, model: str) -> str | None:
        for route, models in self.catalog.items():
            if model in models:
                return route
        return None

    # ------------------------------------------------------------------ server plumbing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        parsed: Any = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        rec = Recorded(
            method=request.method,
            path=request.path,
            query=dict(parse_qsl(request.query_string, keep_blank_values=True)),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=parsed,
            body=raw,
        )
        with self._lock:
            self._state.requests.append(rec)
        sub = (
            request.path[len(self.prefix) + 1 :]
            if request.path.startswith(self.prefix + "/")
            else None
        )
        if request.method == "POST" and sub in COMPLETION_ROUTES:
            rec.route = sub
            return await self._completion(request, rec, sub)
        if request.method == "GET" and sub == "models":
            rec.route = sub
            return self._answer(rec, web.json_response(self._models_body()))
        html = web.Response(status=404, text=NOT_FOUND_HTML, content_type="text/html")
        return self._answer(rec, html)

    def _answer(self, rec: Recorded, resp: web.StreamResponse) -> web.StreamResponse:
        rec.status = resp.status
        return resp

    def _error(
        self, rec: Recorded, status: int, etype: str, message: str, retry_after: str | None = None
    ) -> web.StreamResponse:
        body = {"type": "error", "error": {"type": etype, "message": message}}
        resp = web.json_response(body, status=status)
        if retry_after is not None:
            resp.headers["retry-after"] = retry_after
        return self._answer(rec, resp)

    def _models_body(self) -> dict[str, Any]:
        now = int(time.time())
        data = [
            {"id": m, "object": "model", "created": now, "owned_by": "opencode"}
            for models in self.catalog.values()
            for m in models
        ]
        return {"object": "list", "data": data}

    # ------------------------------------------------------------------ completions

    def _provider(self, model: str) -> str:
        if self.tier == "go":
            return "Console Go"
        return "Anthropic" if model.startswith("claude-") else "Console"

    def _check_auth(self, headers: dict[str, str], route: str) -> None:
        if route == "messages":
            key = headers.get("x-api-key")  # Authorization is ignored on /messages
        else:
            parts = headers.get("authorization", "").split(" ")
            key = parts[1] if len(parts) == 2 and parts[0] == "Bearer" else None
        if not key:
            raise Reject(401, "AuthError", "Missing API key.")
        if key not in self.keys:
            raise Reject(401, "AuthError", "Invalid API key.")

    def _validate(self, rec: Recorded, route: str) -> tuple[dict[str, Any], str]:
        self._check_auth(rec.headers, route)
        session = rec.headers.get("x-opencode-session")
        if session:
            with self._lock:
                self._state.session_ids.append(session)
        elif self.tier == "go":
            raise Reject(400, "MissingSessionID", MISSING_SESSION_MESSAGE)
        body = rec.json
        if not isinstance(body, dict):
            bad = Bad(self._provider(""))
            raise bad("Request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str):
            bad = Bad(self._provider(""))
            if route == "messages":
                raise bad("model: Field required")
            raise bad("Missing required parameter: 'model'.")
        if model not in self.catalog[route]:
            raise Reject(401, "ModelError", f"Model {model} is not supported")
        bad = Bad(self._provider(model))
        if route == "chat/completions":
            check_chat(body, model, bad)
        elif route == "messages":
            with self._lock:
                sigs = dict(self._state.signatures) if model.startswith("claude-") else None
            check_messages(body, model, bad, sigs)
        else:
            with self._lock:
                minted = dict(self._state.encrypted)
            check_responses(body, bad, minted)
        return body, model

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        """The first scripted reply matching this request (FIFO), else the default echo."""
        with self._lock:
            script = self._state.script
            for i, reply in enumerate(script):
                if reply.matches(body):
                    del script[i]
                    return reply
            return Reply()

    def _mint_signature(self, thinking: str) -> str:
        with self._lock:
            self._state.sig_counter += 1
            sig = f"fake-sig-{self._state.sig_counter}"
            self._state.signatures[sig] = thinking
        return sig

    def _mint_encrypted(self, reasoning: str) -> str:
        """Opaque reasoning state only this server recognises (it is all a real upstream's is)."""
        with self._lock:
            self._state.sig_counter += 1
            value = f"{ENCRYPTED_PREFIX}{self._state.sig_counter}-{secrets.token_hex(16)}"
            self._state.encrypted[value] = reasoning
        return value

    def _responses_turn(self, turn: Turn, body: dict[str, Any]) -> None:
        """Calls of tools the request declares custom are custom_tool_calls; reasoning state is
        returned (encrypted) when the request asks for it, as OpenAI does."""
        custom = custom_tool_names(body)
        for tool in turn.tools:
            if tool.name in custom:
                tool.custom = True
                tool.arguments = custom_input(tool.arguments)
        if turn.reasoning and wants_encrypted(body):
            turn.encrypted = self._mint_encrypted(turn.reasoning)

    async def _completion(
        self, request: web.Request, rec: Recorded, route: str
    ) -> web.StreamResponse:
        try:
            body, model = self._validate(rec, route)
        except Reject as r:
            return self._error(rec, r.status, r.etype, r.message)
        with self._lock:
            fault = next((f for f in self._state.faults if f.matches(model, rec.key)), None)
            if fault is not None:
                fault.hits += 1
        if fault is not None:
            resp = web.json_response(fault.body(), status=fault.error[0])
            if fault.retry_after is not None:
                resp.headers["retry-after"] = fault.retry_after
            return self._answer(rec, resp)
        reply = self._next_reply(body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.error is not None:
            status, etype, message = reply.error
            return self._error(rec, status, etype, message, reply.retry_after)
        kind = _ROUTE_KIND[route]
        signature = ""
        if kind == "messages" and reply.reasoning:
            signature = self._mint_signature(reply.reasoning)
        turn = resolve_turn(
            reply,
            route=kind,
            model=model,
            default_text=echo_text(kind, body),
            request_body=body,
            signature=signature,
        )
        if kind == "responses":
            self._responses_turn(turn, body)
        if body.get("stream") is not True:
            return self._answer(rec, web.json_response(_non_stream(turn)))
        plan = _stream_plan(turn, body)
        return await self._stream(request, rec, plan, reply.stream_failure, reply.gap)

    async def _stream(
        self,
        request: web.Request,
        rec: Recorded,
        plan: StreamPlan,
        failure: str | None,
        gap: float = 0.0,
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        rec.status = 200
        await resp.prepare(request)
        frames = plan.frames if failure is None else plan.frames[: plan.cut]
        if failure == "error_first":  # a 200 whose very first frame is an error
            frames = []
        try:
            for n, frame in enumerate(frames):
                if gap and n:
                    await asyncio.sleep(gap)
                await resp.write(frame)
            if failure in ("error_frame", "error_first"):
                await resp.write(plan.error_frame)
            elif failure == "disconnect" and request.transport is not None:
                request.transport.abort()  # socket dies mid-stream, no clean chunked EOF
                return resp
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client went away
        return resp


def _non_stream(turn: Turn) -> dict[str, Any]:
    if turn.route == "chat":
        return chat_completion(turn)
    if turn.route == "messages":
        return messages_message(turn)
    return responses_object(turn)


def _stream_plan(turn: Turn, body: dict[str, Any]) -> StreamPlan:
    if turn.route == "chat":
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return chat_stream(turn, include_usage)
    if turn.route == "messages":
        return messages_stream(turn)
    return responses_stream(turn)
