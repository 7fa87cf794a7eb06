"""The fake OpenCode upstream enforces the real service's rules (spec A1/A2/A6/A8/A10)."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.opencode import (
    CATALOG,
    FAKE_COST,
    MISSING_SESSION_MESSAGE,
    FakeOpenCode,
    FakeUsage,
    Reply,
    ToolCallSpec,
)

KEY = "sk-test-key"
USER = [{"role": "user", "content": "hi there"}]


@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def ctype(self) -> str:
        return self.headers.get("content-type", "")

    def error(self) -> tuple[str, str]:
        body = self.json()
        assert body["type"] == "error", body
        return body["error"]["type"], body["error"]["message"]

    def events(self) -> list[tuple[str | None, str]]:
        """SSE frames as (event name or None, data)."""
        out: list[tuple[str | None, str]] = []
        for frame in self.raw.decode().split("\n\n"):
            if not frame.strip():
                continue
            event: str | None = None
            data: list[str] = []
            for line in frame.split("\n"):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
            out.append((event, "\n".join(data)))
        return out

    def chunks(self) -> list[Any]:
        return [json.loads(d) for _, d in self.events() if d != "[DONE]"]


def request(
    url: str, body: Any = None, headers: dict[str, str] | None = None, method: str = "POST"
) -> Resp:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return Resp(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def auth_headers(fake: FakeOpenCode, route: str, session: bool = True) -> dict[str, str]:
    h = {"content-type": "application/json"}
    if route == "messages":
        h["x-api-key"] = KEY
    else:
        h["authorization"] = f"Bearer {KEY}"
    if session:
        h["x-opencode-session"] = "ses_0123abcd"
    return h


def post(fake: FakeOpenCode, route: str, body: Any, headers: dict[str, str] | None = None) -> Resp:
    return request(f"{fake.base_url}/{route}", body, auth_headers(fake, route) | (headers or {}))


def chat(fake: FakeOpenCode, model: str, messages: list[Any], **extra: Any) -> Resp:
    return post(fake, "chat/completions", {"model": model, "messages": messages, **extra})


def msgs(fake: FakeOpenCode, model: str, messages: list[Any], **extra: Any) -> Resp:
    body = {"model": model, "max_tokens": 256, "messages": messages, **extra}
    return post(fake, "messages", body)


def assert_bad(resp: Resp, fragment: str, provider: str = "Console Go") -> None:
    assert resp.status == 400, resp.raw
    assert resp.ctype.startswith("application/json")
    etype, message = resp.error()
    assert etype == "invalid_request_error"
    assert message.startswith(f"Error from provider ({provider}): "), message
    assert fragment in message, message


@pytest.fixture(scope="module")
def go_server() -> Iterator[FakeOpenCode]:
    with FakeOpenCode(tier="go") as fake:
        yield fake


@pytest.fixture(scope="module")
def zen_server() -> Iterator[FakeOpenCode]:
    with FakeOpenCode(tier="zen") as fake:
        yield fake


@pytest.fixture
def go(go_server: FakeOpenCode) -> FakeOpenCode:
    go_server.reset()
    return go_server


@pytest.fixture
def zen(zen_server: FakeOpenCode) -> FakeOpenCode:
    zen_server.reset()
    return zen_server


# ------------------------------------------------------------------- server, routes, models


def test_base_urls_and_models_list(go: FakeOpenCode, zen: FakeOpenCode) -> None:
    assert go.base_url.startswith("http://127.0.0.1:") and go.base_url.endswith("/zen/go/v1")
    assert zen.base_url.endswith("/zen/v1") and "/go/" not in zen.base_url
    for fake, tier in ((go, "go"), (zen, "zen")):
        resp = request(f"{fake.base_url}/models", method="GET")
        assert resp.status == 200
        body = resp.json()
        assert body["object"] == "list"
        ids = {m["id"] for m in body["data"]}
        assert ids == {m for models in CATALOG[tier].values() for m in models}
        first = body["data"][0]
        assert first["object"] == "model" and first["owned_by"] == "opencode"
        assert isinstance(first["created"], int)


def test_unknown_paths_are_html_404(go: FakeOpenCode) -> None:
    for url in (
        f"{go.base_url}/embeddings",
        f"{go.base_url}/messages/count_tokens",
        f"{go.origin}/zen/v1/chat/completions",  # zen prefix on the go tier
        f"{go.origin}/v1/messages",
    ):
        resp = request(url, {"model": "glm-5.1", "messages": USER}, auth_headers(go, "chat"))
        assert resp.status == 404, url
        assert resp.ctype.startswith("text/html")
        assert b"<html" in resp.raw
    resp = request(f"{go.base_url}/chat/completions", method="GET")
    assert resp.status == 404 and resp.ctype.startswith("text/html")
    assert [r.status for r in go.requests] == [404] * 5
    assert go.completions() == []


def test_two_servers_and_restart() -> None:
    a, b = FakeOpenCode(tier="go").start(), FakeOpenCode(tier="go").start()
    try:
        assert a.port != b.port
    finally:
        a.stop()
        b.stop()
    b.stop()  # idempotent


# --------------------------------------------------------------------------- session header


def test_go_requires_session_header(go: FakeOpenCode) -> None:
    for route, model in (
        ("chat/completions", "glm-5.1"),
        ("messages", "minimax-m2.7"),
        ("responses", "grok-4.5"),
    ):
        body = {"model": model, "messages": USER, "max_tokens": 10, "input": "hi"}
        resp = request(f"{go.base_url}/{route}", body, auth_headers(go, route, session=False))
        assert resp.status == 400
        assert resp.ctype.startswith("application/json")
        assert resp.json() == {
            "type": "error",
            "error": {"type": "MissingSessionID", "message": MISSING_SESSION_MESSAGE},
        }
    assert MISSING_SESSION_MESSAGE == (
        "Error from provider (Console Go): Request is missing x-opencode-session and cannot be "
        "routed efficiently. Please see https://opencode.ai/docs/go/#where-can-i-use-it"
    )
    assert [r.status for r in go.completions()] == [400, 400, 400]
    assert go.session_ids == []


def test_session_ids_recorded(go: FakeOpenCode, zen: FakeOpenCode) -> None:
    h = {"x-opencode-session": "ses_aaa"}
    post(go, "chat/completions", {"model": "glm-5.1", "messages": USER}, h)
    post(go, "chat/completions", {"model": "glm-5.1", "messages": USER}, h)
    assert go.session_ids == ["ses_aaa", "ses_aaa"]
    assert go.completions()[0].headers["x-opencode-session"] == "ses_aaa"
    # zen does not require the header
    body = {"model": "glm-5.1", "messages": USER}
    resp = request(f"{zen.base_url}/chat/completions", body, auth_headers(zen, "chat", False))
    assert resp.status == 200
    assert zen.session_ids == []


# -------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer sk-wrong"},
        {"authorization": f"bearer {KEY}"},
        {"authorization": f"Bearer  {KEY}"},
        {"authorization": KEY},
        {"authorization": f"Bearer {KEY} extra"},
        {"x-api-key": KEY},  # chat/completions reads Authorization only
    ],
)
def test_chat_and_responses_auth(go: FakeOpenCode, headers: dict[str, str]) -> None:
    for route, model in (("chat/completions", "glm-5.1"), ("responses", "grok-4.5")):
        body = {"model": model, "messages": USER, "input": "hi"}
        resp = request(f"{go.base_url}/{route}", body, {"x-opencode-session": "s"} | headers)
        assert resp.status == 401, (route, headers)
        assert resp.error()[0] == "AuthError"


def test_messages_auth_reads_x_api_key_only(go: FakeOpenCode) -> None:
    body = {"model": "minimax-m2.7", "max_tokens": 10, "messages": USER}
    bearer_only = {"authorization": f"Bearer {KEY}", "x-opencode-session": "s"}
    resp = request(f"{go.base_url}/messages", body, bearer_only)
    assert resp.status == 401 and resp.error()[0] == "AuthError"
    resp = request(
        f"{go.base_url}/messages", body, {"x-api-key": "nope", "x-opencode-session": "s"}
    )
    assert resp.status == 401 and resp.error()[0] == "AuthError"
    ok = {"x-api-key": KEY, "authorization": "Bearer garbage", "x-opencode-session": "s"}
    assert request(f"{go.base_url}/messages?beta=true", body, ok).status == 200
    last = go.completions()[-1]
    assert last.route == "messages" and last.query == {"beta": "true"}
    assert last.headers["x-api-key"] == KEY and last.model == "minimax-m2.7"


def test_custom_keys() -> None:
    with FakeOpenCode(tier="zen", keys=("sk-a", "sk-b")) as fake:
        body = {"model": "glm-5.1", "messages": USER}
        for key, status in (("sk-a", 200), ("sk-b", 200), (KEY, 401)):
            resp = request(
                f"{fake.base_url}/chat/completions", body, {"authorization": f"Bearer {key}"}
            )
            assert resp.status == status


def test_auth_is_checked_before_model(go: FakeOpenCode) -> None:
    body = {"model": "no-such-model", "messages": USER}
    resp = request(
        f"{go.base_url}/chat/completions",
        body,
        {"authorization": "Bearer bad", "x-opencode-session": "s"},
    )
    assert resp.status == 401 and resp.error()[0] == "AuthError"


# ---------------------------------------------------------------------------------- models


@pytest.mark.parametrize(
    ("route", "model"),
    [
        ("chat/completions", "gpt-4o"),
        ("chat/completions", "opencode-go/glm-5.1"),
        ("chat/completions", "minimax-m2.7"),  # a /messages model on go
        ("chat/completions", "grok-4.5"),  # a /responses model on go
        ("messages", "glm-5.1"),
        ("messages", "claude-sonnet-4-6"),  # zen only
        ("responses", "kimi-k2.6"),
    ],
)
def test_model_error(go: FakeOpenCode, route: str, model: str) -> None:
    body = {"model": model, "messages": USER, "max_tokens": 10, "input": "hi"}
    resp = post(go, route, body)
    assert resp.status == 401
    assert resp.error() == ("ModelError", f"Model {model} is not supported")


def test_catalog_differs_per_tier(zen: FakeOpenCode) -> None:
    assert "minimax-m2.7" in CATALOG["go"]["messages"]
    assert "minimax-m2.7" in CATALOG["zen"]["chat/completions"]
    assert chat(zen, "minimax-m2.7", USER).status == 200
    assert chat(zen, "grok-4.5", USER).status == 200
    assert msgs(zen, "claude-haiku-4-5", USER).status == 200
    assert post(zen, "responses", {"model": "gpt-5.5", "input": "hi"}).status == 200
    assert post(zen, "responses", {"model": "grok-4.5", "input": "hi"}).status == 401
    assert zen.route_of("gpt-5.5") == "responses"


# --------------------------------------------------------------------- chat/completions body


def test_chat_body_required_fields(go: FakeOpenCode, zen: FakeOpenCode) -> None:
    assert_bad(post(go, "chat/completions", {"model": "glm-5.1"}), "'messages'")
    assert_bad(chat(go, "glm-5.1", []), "empty array")
    assert_bad(post(go, "chat/completions", {"messages": USER}), "'model'")
    assert_bad(post(go, "chat/completions", [1, 2]), "JSON object")
    assert_bad(chat(zen, "glm-5.1", []), "empty array", provider="Console")
    assert_bad(chat(go, "glm-5.1", [{"role": "bot", "content": "x"}]), "'bot'")
    assert go.pending == 0 and [r.status for r in go.completions()] == [400] * 5


def _call(cid: str, name: str = "bash", args: str = '{"cmd":"ls"}') -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}


def _asst(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": "", "tool_calls": list(calls), "reasoning_content": ""}


def test_chat_tool_ordering(go: FakeOpenCode) -> None:
    model = "mimo-v2.5-pro"
    ok = [*USER, _asst(_call("call_1"), _call("call_2"))]
    ok += [
        {"role": "tool", "tool_call_id": "call_2", "content": "b"},
        {"role": "tool", "tool_call_id": "call_1", "content": "a"},
    ]
    assert chat(go, model, ok).status == 200

    # a user message between the assistant tool call and its tool message
    broken = [*USER, _asst(_call("call_1")), {"role": "user", "content": "well?"}]
    broken.append({"role": "tool", "tool_call_id": "call_1", "content": "a"})
    assert_bad(chat(go, model, broken), "did not have response messages: call_1")
    # only one of two calls answered
    partial = [*USER, _asst(_call("call_1"), _call("call_2"))]
    partial += [{"role": "tool", "tool_call_id": "call_1", "content": "a"}, *USER]
    resp = chat(go, model, partial)
    assert_bad(resp, "must be followed by tool messages responding to each 'tool_call_id'")
    assert resp.error()[1].endswith("did not have response messages: call_2")
    # conversation ends right after the tool call
    assert_bad(chat(go, model, [*USER, _asst(_call("call_9"))]), "call_9")
    # tool message without a preceding tool call / with a wrong id / answered twice
    orphan = [*USER, {"role": "tool", "tool_call_id": "call_1", "content": "a"}]
    assert_bad(chat(go, model, orphan), "must be a response to a preceeding message")
    wrong = [*USER, _asst(_call("call_1")), {"role": "tool", "tool_call_id": "x", "content": "a"}]
    assert_bad(chat(go, model, wrong), "must be a response to a preceeding message")
    twice = [*ok, {"role": "tool", "tool_call_id": "call_1", "content": "again"}]
    assert_bad(chat(go, model, twice), "must be a response to a preceeding message")


def test_chat_tool_call_shape(go: FakeOpenCode) -> None:
    model = "mimo-v2.5-pro"
    answer = {"role": "tool", "tool_call_id": "c1", "content": "ok"}

    def convo(call: dict[str, Any]) -> list[Any]:
        return [*USER, _asst(call), answer]

    assert chat(go, model, convo(_call("c1"))).status == 200
    no_type = {"id": "c1", "function": {"name": "bash", "arguments": "{}"}}
    assert_bad(chat(go, model, convo(no_type)), "type")
    obj_args = {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": {}}}
    assert_bad(chat(go, model, convo(obj_args)), "function.arguments")
    no_name = {"id": "c1", "type": "function", "function": {"arguments": "{}"}}
    assert_bad(chat(go, model, convo(no_name)), "function.name")
    no_id = {"type": "function", "function": {"name": "bash", "arguments": "{}"}}
    assert_bad(chat(go, model, [*USER, _asst(no_id)]), ".id")
    empty = {"role": "assistant", "content": "", "tool_calls": []}
    assert_bad(chat(go, model, [*USER, empty, *USER]), "empty array")


def test_kimi_requires_reasoning_content_on_tool_call_messages(go: FakeOpenCode) -> None:
    asst = {"role": "assistant", "content": "", "tool_calls": [_call("functions.bash:0")]}
    answer = {"role": "tool", "tool_call_id": "functions.bash:0", "content": "ok"}
    history = [{"role": "system", "content": "sys"}, *USER, asst, answer]
    for model in ("kimi-k2.6", "kimi-k3"):
        assert_bad(
            chat(go, model, history),
            "thinking is enabled but reasoning_content is missing in assistant tool call "
            "message at index 2",
        )
    assert (
        chat(go, "kimi-k2.6", [*history[:2], {**asst, "reasoning_content": ""}, answer]).status
        == 200
    )
    # other models do not care; a plain assistant text message is fine for kimi
    assert chat(go, "glm-5.1", history).status == 200
    plain = [*USER, {"role": "assistant", "content": "hello"}, *USER]
    assert chat(go, "kimi-k2.6", plain).status == 200


def test_glm_rejects_null_assistant_content(go: FakeOpenCode) -> None:
    null = {"role": "assistant", "content": None, "tool_calls": [_call("c1")]}
    answer = {"role": "tool", "tool_call_id": "c1", "content": "ok"}
    for model in ("glm-5.1", "glm-5", "glm-5.2"):
        assert_bad(
            chat(go, model, [*USER, null, answer]), "[1214] The messages parameter is illegal"
        )
    missing = {"role": "assistant", "tool_calls": [_call("c1")]}
    assert_bad(chat(go, "glm-5.1", [*USER, missing, answer]), "[1214]")
    assert chat(go, "glm-5.1", [*USER, {**null, "content": ""}, answer]).status == 200
    assert chat(go, "mimo-v2.5-pro", [*USER, null, answer]).status == 200


def test_chat_tools_and_tool_choice(go: FakeOpenCode) -> None:
    def tools(name: str) -> list[Any]:
        params = {"type": "object", "properties": {}}
        return [{"type": "function", "function": {"name": name, "parameters": params}}]

    assert (
        chat(go, "glm-5.1", USER, tools=tools("mcp__srv__do-it"), tool_choice="auto").status == 200
    )
    assert_bad(chat(go, "glm-5.1", USER, tools=tools("has space")), "does not match pattern")
    assert_bad(chat(go, "glm-5.1", USER, tools=tools("x" * 65)), "maximum length 64")
    anthropic_shaped = [{"name": "bash", "input_schema": {"type": "object"}}]
    assert_bad(chat(go, "glm-5.1", USER, tools=anthropic_shaped), "tools[0]")
    assert_bad(chat(go, "glm-5.1", USER, tool_choice="any"), "Invalid value: 'any'")
    named = {"type": "function", "function": {"name": "bash"}}
    assert chat(go, "glm-5.1", USER, tools=tools("bash"), tool_choice=named).status == 200


# ------------------------------------------------------------------------------ messages body


def test_messages_required_fields(go: FakeOpenCode, zen: FakeOpenCode) -> None:
    base = {"model": "minimax-m2.7", "max_tokens": 10, "messages": USER}
    assert_bad(
        post(go, "messages", {k: v for k, v in base.items() if k != "max_tokens"}),
        "max_tokens: Field required",
    )
    assert_bad(post(go, "messages", {**base, "max_tokens": "10"}), "max_tokens")
    assert_bad(
        post(go, "messages", {k: v for k, v in base.items() if k != "messages"}),
        "messages: Field required",
    )
    assert_bad(post(go, "messages", {**base, "messages": []}), "at least 1 item")
    assert_bad(post(go, "messages", {"max_tokens": 10, "messages": USER}), "model: Field required")
    resp = post(zen, "messages", {"model": "claude-sonnet-4-6", "messages": USER})
    assert_bad(resp, "max_tokens: Field required", provider="Anthropic")


def test_messages_reject_system_role(go: FakeOpenCode, zen: FakeOpenCode) -> None:
    history = [*USER, {"role": "system", "content": "env info"}]
    for fake, model in ((go, "minimax-m2.7"), (go, "qwen3.7-max"), (zen, "qwen3.7-max")):
        resp = msgs(fake, model, history)
        assert resp.status == 400
        assert 'messages: Unexpected role "system"' in resp.error()[1]
    assert msgs(go, "minimax-m2.7", USER, system="env info").status == 200


def test_messages_reject_empty_text_blocks(go: FakeOpenCode) -> None:
    for text in ("", "  \n "):
        history = [
            *USER,
            {"role": "assistant", "content": [{"type": "text", "text": text}]},
            *USER,
        ]
        assert_bad(
            msgs(go, "minimax-m2.7", history), "messages: text content blocks must be non-empty"
        )
    blocks = [{"type": "text", "text": " "}, {"type": "text", "text": "hi"}]
    assert_bad(msgs(go, "minimax-m2.7", [{"role": "user", "content": blocks}]), "non-empty")
    system = [{"type": "text", "text": ""}]
    assert_bad(msgs(go, "minimax-m2.7", USER, system=system), "non-empty")
    assert_bad(msgs(go, "minimax-m2.7", [{"role": "user", "content": ""}]), "non-empty content")
    # an empty final assistant message (prefill) is fine
    assert msgs(go, "minimax-m2.7", [*USER, {"role": "assistant", "content": ""}]).status == 200


def _tool_use(tid: str, name: str = "bash") -> dict[str, Any]:
    return {"type": "tool_use", "id": tid, "name": name, "input": {"cmd": "ls"}}


def _tool_result(tid: str, text: str = "file.txt") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tid, "content": text}


def test_messages_tool_use_rules(go: FakeOpenCode) -> None:
    model = "minimax-m2.5"

    def turn(*blocks: dict[str, Any], role: str = "assistant") -> dict[str, Any]:
        return {"role": role, "content": list(blocks)}

    def user(*blocks: dict[str, Any]) -> dict[str, Any]:
        return turn(*blocks, role="user")

    text = {"type": "text", "text": "and now?"}
    ok = [
        *USER,
        turn(_tool_use("toolu_1"), _tool_use("toolu_2")),
        user(_tool_result("toolu_2"), _tool_result("toolu_1"), text),
    ]
    assert msgs(go, model, ok).status == 200

    resp = msgs(go, model, [*USER, turn(_tool_use("functions.bash:0")), user(_tool_result("x"))])
    assert_bad(
        resp, "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
    )
    dup = [*ok, turn(_tool_use("toolu_1")), user(_tool_result("toolu_1"))]
    assert_bad(msgs(go, model, dup), "`tool_use` ids must be unique")
    missing = [
        *USER,
        turn(_tool_use("toolu_1"), _tool_use("toolu_2")),
        user(_tool_result("toolu_1")),
    ]
    assert_bad(
        msgs(go, model, missing),
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately "
        "after: toolu_2",
    )
    late = [*USER, turn(_tool_use("toolu_1")), *USER, user(_tool_result("toolu_1"))]
    assert_bad(msgs(go, model, late), "messages.1: `tool_use` ids were found without")
    not_first = [*USER, turn(_tool_use("toolu_1")), user(text, _tool_result("toolu_1"))]
    assert_bad(
        msgs(go, model, not_first), "without `tool_result` blocks immediately after: toolu_1"
    )
    trailing = [*USER, turn(_tool_use("toolu_1"))]
    assert_bad(msgs(go, model, trailing), "without `tool_result` blocks immediately after")
    orphan = [*USER, turn({"type": "text", "text": "hm"}), user(_tool_result("toolu_7"))]
    assert_bad(
        msgs(go, model, orphan), "unexpected `tool_use_id` found in `tool_result` blocks: toolu_7"
    )
    stray = [*ok, turn({"type": "text", "text": "ok"}), user(_tool_result("toolu_2"))]
    assert_bad(msgs(go, model, stray), "unexpected `tool_use_id`")
    # OpenAI-shaped parts are not Anthropic blocks
    image_url = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    assert_bad(msgs(go, model, [user(image_url)]), "Input tag 'image_url'")


def test_messages_tools_schema(go: FakeOpenCode) -> None:
    good = [
        {"name": "bash", "description": "d", "input_schema": {"type": "object", "properties": {}}}
    ]
    assert msgs(go, "minimax-m2.7", USER, tools=good, tool_choice={"type": "auto"}).status == 200
    no_schema = [{"name": "bash"}]
    assert_bad(msgs(go, "minimax-m2.7", USER, tools=no_schema), "input_schema: Field required")
    not_object = [{"name": "bash", "input_schema": {"type": "string"}}]
    assert_bad(msgs(go, "minimax-m2.7", USER, tools=not_object), "input_schema.type")
    nameless = [{"input_schema": {"type": "object"}}]
    assert_bad(msgs(go, "minimax-m2.7", USER, tools=nameless), "name: Field required")
    openai_shaped = [{"type": "function", "function": {"name": "bash", "parameters": {}}}]
    assert_bad(msgs(go, "minimax-m2.7", USER, tools=openai_shaped), "Input tag 'function'")
    assert_bad(msgs(go, "minimax-m2.7", USER, tools=good, tool_choice="required"), "tool_choice")


def test_claude_thinking_signatures_must_be_minted_here(zen: FakeOpenCode) -> None:
    zen.script(Reply(reasoning="let me think", text="done"))
    first = msgs(zen, "claude-sonnet-4-6", USER).json()
    thinking = first["content"][0]
    assert thinking["type"] == "thinking" and thinking["signature"].startswith("fake-sig-")
    replay = [*USER, {"role": "assistant", "content": first["content"]}, *USER]
    assert msgs(zen, "claude-sonnet-4-6", replay).status == 200
    forged = {**thinking, "signature": "gateway-made-this"}
    resp = msgs(
        zen, "claude-sonnet-4-6", [*USER, {"role": "assistant", "content": [forged]}, *USER]
    )
    assert_bad(resp, "Invalid `signature` in `thinking` block", provider="Anthropic")
    tampered = {**thinking, "thinking": "something else"}
    bad = [*USER, {"role": "assistant", "content": [tampered]}, *USER]
    assert msgs(zen, "claude-sonnet-4-6", bad).status == 400
    # non-Claude /messages models (Qwen, MiniMax) refuse a signature they did not issue too
    resp = msgs(zen, "qwen3.7-max", [*USER, {"role": "assistant", "content": [forged]}, *USER])
    assert_bad(resp, "Invalid `signature` in `thinking` block", provider="Console")
    unsigned = {"type": "thinking", "thinking": "hmm"}
    resp = msgs(zen, "qwen3.7-max", [*USER, {"role": "assistant", "content": [unsigned]}, *USER])
    assert resp.status == 400
    zen.script(Reply(reasoning="qwen thinks", text="ok"))
    own = msgs(zen, "qwen3.7-max", USER).json()["content"]
    assert own[0]["signature"].startswith("fake-sig-")
    replay = [*USER, {"role": "assistant", "content": own}, *USER]
    assert msgs(zen, "qwen3.7-max", replay).status == 200


# --------------------------------------------------------------------------------- replies


def test_default_echo_replies(go: FakeOpenCode) -> None:
    parts = [{"type": "text", "text": "one "}, {"type": "text", "text": "two"}]
    body = chat(go, "glm-5.1", [{"role": "user", "content": parts}]).json()
    assert body["choices"][0]["message"]["content"] == "echo: one two"
    history = [*USER, _asst(_call("c1")), {"role": "tool", "tool_call_id": "c1", "content": "42"}]
    body = chat(go, "glm-5.1", history).json()
    assert body["choices"][0]["message"]["content"] == "tool said: 42"
    assert body["choices"][0]["finish_reason"] == "stop"

    content = msgs(go, "minimax-m2.7", USER).json()["content"]
    assert content == [{"type": "text", "text": "echo: hi there"}]
    tool_turn = [
        *USER,
        {"role": "assistant", "content": [_tool_use("toolu_a")]},
        {"role": "user", "content": [_tool_result("toolu_a", "out")]},
    ]
    reply = msgs(go, "minimax-m2.7", tool_turn).json()
    assert reply["content"][0]["text"] == "tool said: out"
    assert reply["stop_reason"] == "end_turn"


def test_script_is_fifo_and_only_valid_requests_consume_it(go: FakeOpenCode) -> None:
    go.script(Reply(text="first"), Reply(text="second"))
    assert_bad(chat(go, "glm-5.1", []), "empty array")
    assert post(go, "chat/completions", {"model": "nope", "messages": USER}).status == 401
    assert go.pending == 2
    assert chat(go, "glm-5.1", USER).json()["choices"][0]["message"]["content"] == "first"
    assert msgs(go, "minimax-m2.7", USER).json()["content"][0]["text"] == "second"
    assert chat(go, "glm-5.1", USER).json()["choices"][0]["message"]["content"] == "echo: hi there"
    assert len(go.completions()) == 5
    go.script(Reply(text="x"))
    go.reset()
    assert go.pending == 0 and go.requests == []


def test_when_tools_targets_requests_with_or_without_tools(go: FakeOpenCode) -> None:
    tools = [{"type": "function", "function": {"name": "bash", "parameters": {}}}]
    a_tools = [{"name": "bash", "input_schema": {"type": "object"}}]
    go.script(
        Reply(text="for tools", when_tools=True),
        Reply(text="anything"),
        Reply(text="no tools", when_tools=False),
    )

    def text(resp: Resp) -> str:
        return str(resp.json()["choices"][0]["message"]["content"])

    # a tool-less request skips the head (kept queued) and takes the first match
    assert text(chat(go, "glm-5.1", USER)) == "anything"
    assert go.pending == 2
    assert text(chat(go, "glm-5.1", USER, tools=[])) == "no tools"  # empty list = no tools
    assert text(chat(go, "glm-5.1", USER)) == "echo: hi there"  # nothing matches: default
    assert go.pending == 1
    go.script(Reply(text="later, for tools", when_tools=True))
    assert text(chat(go, "glm-5.1", USER, tools=tools)) == "for tools"  # still FIFO
    reply = msgs(go, "minimax-m2.7", USER, tools=a_tools).json()
    assert reply["content"][0]["text"] == "later, for tools"
    assert go.pending == 0
    # a request rejected by the rules consumes nothing, matching or not
    go.script(Reply(text="kept", when_tools=True))
    bad_tools = [{"type": "function", "function": {"name": "bad name!", "parameters": {}}}]
    assert_bad(chat(go, "glm-5.1", USER, tools=bad_tools), "does not match pattern")
    assert go.pending == 1
    assert Reply().matches({"tools": tools}) and Reply().matches(None)
    assert not Reply(when_tools=True).matches(None)


def test_chat_non_stream_shape(go: FakeOpenCode) -> None:
    go.script(
        Reply(
            reasoning="hmm",
            tool_calls=[
                ToolCallSpec("bash", {"cmd": "ls"}),
                ToolCallSpec("read", '{"p":1}', id="my_id"),
            ],
            usage=FakeUsage(prompt_tokens=100, completion_tokens=7, cached_tokens=40),
        )
    )
    body = chat(go, "deepseek-v4-flash", USER).json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    assert message["reasoning_content"] == "hmm"
    first, second = message["tool_calls"]
    assert first["id"].startswith("call_") and first["type"] == "function"
    assert first["function"] == {"name": "bash", "arguments": '{"cmd": "ls"}'}
    assert second["id"] == "my_id" and second["function"]["arguments"] == '{"p":1}'
    usage = body["usage"]
    assert usage["prompt_tokens"] == 100  # includes the 40 cached tokens
    assert usage["prompt_tokens_details"] == {"cached_tokens": 40}
    assert usage["completion_tokens"] == 7 and usage["total_tokens"] == 107


def test_messages_non_stream_shape(go: FakeOpenCode) -> None:
    go.script(
        Reply(
            reasoning="hmm",
            text="calling",
            tool_calls=[ToolCallSpec("bash", {"cmd": "ls"})],
            usage=FakeUsage(
                prompt_tokens=100, completion_tokens=7, cached_tokens=30, cache_creation_tokens=20
            ),
        )
    )
    body = msgs(go, "minimax-m2.7", USER).json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["id"].startswith("msg_") and body["model"] == "minimax-m2.7"
    assert [b["type"] for b in body["content"]] == ["thinking", "text", "tool_use"]
    assert body["content"][0]["signature"].startswith("fake-sig-")
    tool = body["content"][2]
    assert tool["id"].startswith("toolu_") and tool["input"] == {"cmd": "ls"}
    assert body["stop_reason"] == "tool_use" and body["stop_sequence"] is None
    assert body["usage"] == {
        "input_tokens": 50,  # excludes cache reads and writes
        "cache_read_input_tokens": 30,
        "cache_creation_input_tokens": 20,
        "output_tokens": 7,
    }


def test_finish_reason_and_estimated_usage(go: FakeOpenCode) -> None:
    go.script(
        Reply(text="cut", finish_reason="length"), Reply(text="cut", finish_reason="max_tokens")
    )
    assert msgs(go, "minimax-m2.7", USER).json()["stop_reason"] == "max_tokens"
    body = chat(go, "glm-5.1", USER).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["prompt_tokens"] >= 1 and body["usage"]["completion_tokens"] >= 1


def test_error_replies_are_json_even_for_streams(go: FakeOpenCode) -> None:
    go.script(
        Reply(error=(429, "GoUsageLimitError", "5 hour limit"), retry_after="3600"),
        Reply(error=(529, "overloaded_error", "Overloaded")),
        Reply(error=(500, "error", "Internal server error")),
    )
    resp = chat(go, "glm-5.1", USER, stream=True)
    assert resp.status == 429 and resp.ctype.startswith("application/json")
    assert resp.headers["retry-after"] == "3600"
    assert resp.json() == {
        "type": "error",
        "error": {"type": "GoUsageLimitError", "message": "5 hour limit"},
    }
    resp = msgs(go, "minimax-m2.7", USER, stream=True)
    assert resp.status == 529 and resp.error() == ("overloaded_error", "Overloaded")
    assert "retry-after" not in resp.headers
    assert chat(go, "glm-5.1", USER).status == 500
    assert [r.status for r in go.completions()] == [429, 529, 500]


def test_delay(go: FakeOpenCode) -> None:
    go.script(Reply(text="slow", delay=0.3))
    started = time.monotonic()
    assert chat(go, "glm-5.1", USER).status == 200
    assert time.monotonic() - started >= 0.3


# ------------------------------------------------------------------------------- streaming


def test_chat_stream_shape_with_usage(go: FakeOpenCode) -> None:
    go.script(
        Reply(
            reasoning="abcdef",
            text="hello world",
            tool_calls=[
                ToolCallSpec("bash", {"cmd": "ls -la"}),
                ToolCallSpec("read", {"path": "x"}),
            ],
            usage=FakeUsage(prompt_tokens=50, completion_tokens=9, cached_tokens=10),
        )
    )
    resp = chat(go, "deepseek-v4-pro", USER, stream=True, stream_options={"include_usage": True})
    assert resp.status == 200 and resp.ctype.startswith("text/event-stream")
    events = resp.events()
    assert all(name is None for name, _ in events)  # data-only frames
    datas = [d for _, d in events]
    done = datas.index("[DONE]")
    assert done == len(datas) - 2
    cost = json.loads(datas[-1])
    assert cost["choices"] == [] and cost["cost"] == FAKE_COST
    assert cost["object"] == "chat.completion.chunk"
    chunks = [json.loads(d) for d in datas[:done]]
    ids = {c["id"] for c in chunks} | {cost["id"]}
    assert len(ids) == 1
    assert all(
        c["object"] == "chat.completion.chunk" and c["model"] == "deepseek-v4-pro" for c in chunks
    )
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = [d["reasoning_content"] for d in deltas if "reasoning_content" in d]
    text = [d["content"] for d in deltas if d.get("content")]
    assert len(reasoning) == 3 and "".join(reasoning) == "abcdef"
    assert len(text) == 3 and "".join(text) == "hello world"
    tool_frags = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    heads = [f for f in tool_frags if "id" in f]
    assert [h["index"] for h in heads] == [0, 1]
    for head in heads:
        assert head["id"].startswith("call_") and head["type"] == "function"
        assert head["function"]["arguments"] == ""
    for idx, expected in ((0, {"cmd": "ls -la"}), (1, {"path": "x"})):
        frags = [f for f in tool_frags if f["index"] == idx and "id" not in f]
        assert len(frags) >= 2
        assert all(
            set(f) == {"index", "function"} and set(f["function"]) == {"arguments"} for f in frags
        )
        assert json.loads("".join(f["function"]["arguments"] for f in frags)) == expected
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0]["finish_reason"] == "tool_calls"
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {
        "prompt_tokens": 50,
        "completion_tokens": 9,
        "total_tokens": 59,
        "prompt_tokens_details": {"cached_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": 1},
    }
    assert all(c["usage"] is None for c in chunks[:-1])


def test_chat_stream_without_include_usage(go: FakeOpenCode) -> None:
    for extra in ({}, {"stream_options": {"include_usage": False}}):
        resp = chat(go, "glm-5.1", USER, stream=True, **extra)
        datas = [d for _, d in resp.events()]
        assert datas[-2] == "[DONE]"
        chunks = [json.loads(d) for d in datas[:-2]]
        assert all("usage" not in c for c in chunks)
        assert all(c["choices"] for c in chunks)
        assert (
            "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "echo: hi there"
        )
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
        assert json.loads(datas[-1])["cost"] == FAKE_COST


def test_kimi_tool_ids_are_turn_scoped(go: FakeOpenCode) -> None:
    calls = [ToolCallSpec("bash", {"cmd": "ls"}), ToolCallSpec("read", {"p": "a"})]
    go.script(Reply(tool_calls=calls), Reply(tool_calls=calls[:1]))
    first = chat(go, "kimi-k2.6", USER, stream=True).chunks()
    heads = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in first
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    assert [h["id"] for h in heads if "id" in h] == ["functions.bash:0", "functions.read:1"]
    second = chat(go, "kimi-k2.6", USER).json()
    assert second["choices"][0]["message"]["tool_calls"][0]["id"] == "functions.bash:0"


def test_messages_stream_shape(go: FakeOpenCode) -> None:
    go.script(
        Reply(
            reasoning="think think",
            text="hello there",
            tool_calls=[
                ToolCallSpec("bash", {"cmd": "ls"}),
                ToolCallSpec("read", {}, id="toolu_given"),
            ],
            usage=FakeUsage(prompt_tokens=120, completion_tokens=11, cached_tokens=100),
        )
    )
    resp = msgs(go, "qwen3.7-max", USER, stream=True)
    assert resp.status == 200 and resp.ctype.startswith("text/event-stream")
    events = [(name, json.loads(data)) for name, data in resp.events()]
    assert all(name == data["type"] for name, data in events)  # `event:` line always present
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-3:] == ["message_delta", "message_stop", "ping"]
    assert events[-1][1] == {"type": "ping", "cost": FAKE_COST}
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"] == {
        "input_tokens": 20,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 0,
        "output_tokens": 1,
    }
    delta = events[-3][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"] == {"output_tokens": 11}
    blocks: dict[int, list[dict[str, Any]]] = {}
    open_index: int | None = None
    for name, data in events[2:-3]:
        if name == "content_block_start":
            assert open_index is None  # one open block at a time
            open_index = data["index"]
            blocks[open_index] = [data["content_block"]]
        elif name == "content_block_delta":
            assert open_index is not None and data["index"] == open_index
            blocks[open_index].append(data["delta"])
        else:
            assert name == "content_block_stop" and data["index"] == open_index
            open_index = None
    assert sorted(blocks) == [0, 1, 2, 3]
    thinking = blocks[0]
    assert thinking[0] == {"type": "thinking", "thinking": "", "signature": ""}
    assert "".join(d["thinking"] for d in thinking[1:-1]) == "think think"
    assert thinking[-1]["type"] == "signature_delta" and thinking[-1]["signature"].startswith(
        "fake-sig-"
    )
    assert blocks[1][0] == {"type": "text", "text": ""}
    assert "".join(d["text"] for d in blocks[1][1:]) == "hello there"
    for idx, expected in ((2, {"cmd": "ls"}), (3, {})):
        head, *frags = blocks[idx]
        assert head["type"] == "tool_use" and head["input"] == {}
        assert len(frags) >= 2 and all(f["type"] == "input_json_delta" for f in frags)
        assert json.loads("".join(f["partial_json"] for f in frags)) == expected
    assert blocks[2][0]["id"].startswith("toolu_") and blocks[3][0]["id"] == "toolu_given"


def test_chunks_controls_delta_count(go: FakeOpenCode) -> None:
    go.script(Reply(text="abcdefghij", chunks=5), Reply(text="abcdefghij", chunks=1))
    texts = [
        c["choices"][0]["delta"].get("content")
        for c in chat(go, "glm-5.1", USER, stream=True).chunks()[:-1]
    ]
    assert [t for t in texts if t] == ["ab", "cd", "ef", "gh", "ij"]
    events = msgs(go, "minimax-m2.7", USER, stream=True).events()
    assert [d for n, d in events if n == "content_block_delta"] == [
        json.dumps(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "abcdefghij"},
            }
        )
    ]


def test_stream_failure_error_frame(go: FakeOpenCode) -> None:
    go.script(Reply(text="partial answer", stream_failure="error_frame"))
    datas = [
        d
        for _, d in chat(
            go, "glm-5.1", USER, stream=True, stream_options={"include_usage": True}
        ).events()
    ]
    assert "[DONE]" not in datas
    chunks = [json.loads(d) for d in datas]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[1]["choices"][0]["delta"]["content"] == "parti"
    assert chunks[-1] == {"error": {"message": "upstream overloaded", "type": "server_error"}}
    assert len(chunks) == 3

    go.script(Reply(text="partial answer", stream_failure="error_frame"))
    events = msgs(go, "minimax-m2.7", USER, stream=True).events()
    names = [n for n, _ in events]
    assert names == ["message_start", "ping", "content_block_start", "content_block_delta", "error"]
    assert json.loads(events[-1][1]) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_stream_failure_eof(go: FakeOpenCode) -> None:
    go.script(Reply(text="partial answer", stream_failure="eof"))
    resp = chat(go, "glm-5.1", USER, stream=True, stream_options={"include_usage": True})
    assert resp.status == 200
    chunks = resp.chunks()
    assert len(chunks) == 2 and "[DONE]" not in resp.raw.decode()
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)

    go.script(Reply(tool_calls=[ToolCallSpec("bash", {"cmd": "ls"})], stream_failure="eof"))
    names = [n for n, _ in msgs(go, "minimax-m2.7", USER, stream=True).events()]
    assert names == ["message_start", "ping", "content_block_start", "content_block_delta"]


def test_stream_failure_disconnect(go: FakeOpenCode) -> None:
    go.script(Reply(text="partial answer", stream_failure="disconnect"))
    body = json.dumps({"model": "glm-5.1", "messages": USER, "stream": True}).encode()
    req = urllib.request.Request(
        f"{go.base_url}/chat/completions", data=body, headers=auth_headers(go, "chat")
    )
    with (
        pytest.raises((http.client.IncompleteRead, ConnectionError)),
        urllib.request.urlopen(req, timeout=5) as r,
    ):
        r.read()


# ------------------------------------------------------------------------------- responses


def test_responses_route(go: FakeOpenCode) -> None:
    go.script(Reply(reasoning="r", text="hey", tool_calls=[ToolCallSpec("bash", {"cmd": "ls"})]))
    body = post(go, "responses", {"model": "grok-4.5", "input": "hi"}).json()
    assert body["object"] == "response" and body["status"] == "completed"
    assert [i["type"] for i in body["output"]] == ["reasoning", "message", "function_call"]
    call = body["output"][2]
    assert call["call_id"].startswith("call_") and json.loads(call["arguments"]) == {"cmd": "ls"}
    inp = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
        {"type": "function_call", "call_id": "call_1", "name": "bash", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "done"},
    ]
    body = post(go, "responses", {"model": "gpt-5.6-luna", "input": inp}).json()
    assert body["output"][0]["content"][0]["text"] == "tool said: done"
    resp = post(go, "responses", {"model": "gpt-5.6-luna", "input": inp[:1] + inp[2:]})
    assert_bad(resp, "No tool call found for function call output with call_id call_1")
    assert_bad(post(go, "responses", {"model": "grok-4.5"}), "'input'")

    go.script(Reply(text="streamed"))
    events = post(go, "responses", {"model": "grok-4.5", "input": "hi", "stream": True}).events()
    names = [n for n, _ in events]
    assert names[0] == "response.created" and names[-2] == "response.completed"
    assert json.loads(events[-1][1]) == {"type": "ping", "cost": FAKE_COST}
    seqs = [json.loads(d)["sequence_number"] for _, d in events[:-1]]
    assert seqs == list(range(len(seqs)))
    text = "".join(json.loads(d)["delta"] for n, d in events if n == "response.output_text.delta")
    assert text == "streamed"


def test_deepseek_requires_reasoning_content_on_every_assistant_message() -> None:
    with FakeOpenCode(tier="go", keys=("k",)) as fake:
        def post(body: dict[str, object]) -> int:
            req = urllib.request.Request(
                fake.base_url + "/chat/completions", data=json.dumps(body).encode(),
                headers={"authorization": "Bearer k", "x-opencode-session": "ses_abcdef12",
                         "content-type": "application/json"})
            try:
                with urllib.request.urlopen(req) as r:
                    return int(r.status)
            except urllib.error.HTTPError as e:
                return int(e.code)

        history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                   {"role": "user", "content": "c"}]
        assert post({"model": "deepseek-v4-pro", "messages": history}) == 400
        assert post({"model": "deepseek-v4-pro", "messages": history,
                     "thinking": {"type": "disabled"}}) == 200
        history[1]["reasoning_content"] = ""
        assert post({"model": "deepseek-v4-pro", "messages": history}) == 200
