"""Routing and resilience through the running gateway, against the fake OpenCode Go server:
fallback triggers and non-triggers, committed streams, circuit breakers, attempt budgets,
the key pool (cooldowns, rejected keys), the dialect retry and what it learns, Claude names,
go-auto, and start-up checks of the routing section. Real HTTP end to end."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from crossway.routing.keypool import rendezvous_weight
from tests.fakes.opencode import FakeOpenCode, Reply
from tests.gateway import Gateway, free_port, request

A_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
O_HEADERS = {"content-type": "application/json"}
K1, K2 = "sk-test-routing-key-one-1111", "sk-test-routing-key-two-2222"
FALLBACK = "opencode-go/deepseek-v4-flash"

ROUTING = {
    "fallbacks": {
        **{f"opencode-go/{m}": [FALLBACK] for m in (
            "glm-5.2", "kimi-k3", "mimo-v2-omni", "mimo-v2.5", "glm-5.3", "qwen3.7-max",
            "kimi-k2.7-code", "mimo-v2.5-pro")},
        "opencode-go/glm-5.1": ["opencode-go/glm-5", "opencode-go/deepseek-v4-pro"],
        "opencode-go/kimi-k2.6": ["opencode-go/glm-5"],
    },
    "aliases": {"many": ["opencode-go/minimax-m2.5", "opencode-go/qwen3.7-plus",
                         "opencode-go/minimax-m3", "opencode-go/minimax-m2.7"]},
    "breaker": {"failures": 2, "cooldown": 1.0},
    "budget": {"attempts": 3},
}


def post(gw: Gateway, model: str, *, dialect: str = "anthropic", stream: bool = False,
         session: str | None = None, text: str = "hi",
         **extra: Any) -> tuple[int, dict[str, str], bytes]:
    body: dict[str, Any] = {"model": model, "max_tokens": 50, "stream": stream,
                            "messages": [{"role": "user", "content": text}], **extra}
    path = "/v1/messages" if dialect == "anthropic" else "/v1/chat/completions"
    headers = dict(A_HEADERS if dialect == "anthropic" else O_HEADERS)
    if session is not None:
        headers["x-opencode-session"] = session
    return request(gw, "POST", path, json.dumps(body).encode(), headers)


def streamed_text(payload: bytes) -> str:
    return "".join(m.decode() for m in re.findall(rb'"text_delta","text":"([^"]*)"', payload))


def served(headers: dict[str, str]) -> tuple[str, int]:
    return headers["x-crossway-target"], int(headers["x-crossway-attempts"])


def models_sent(fake: FakeOpenCode) -> list[tuple[str | None, str | None, int | None]]:
    return [(r.model, r.route, r.status) for r in fake.completions()]


def logged(gw: Gateway, text: str, timeout: float = 3.0) -> str:
    """The gateway's log once it holds `text` (log lines are written by a background
    thread, a little after the request that caused them)."""
    deadline = time.monotonic() + timeout
    while text not in (logs := gw.logs()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert text in logs, logs[-3000:]
    return logs


def session_homed_at(instance: str, others: tuple[str, ...]) -> str:
    """A conversation id whose rendezvous home key is `instance`."""
    for n in range(1000):
        sid = f"ses_routingtest{n:06d}"
        if max((instance, *others), key=lambda i: rendezvous_weight(sid, i)) == instance:
            return sid
    raise AssertionError("no session found")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenCode]:
    with FakeOpenCode(tier="go", keys=(K1, K2)) as f:
        yield f


@pytest.fixture(scope="module")
def routed(fake: FakeOpenCode) -> Iterator[Gateway]:
    env = {"OPENCODE_GO_API_KEY": K1, "OPENCODE_GO_BASE_URL": fake.base_url,
           "CROSSWAY_ROUTING": json.dumps(ROUTING)}
    with Gateway(env) as gw:
        yield gw


@pytest.fixture(autouse=True)
def _clean(fake: FakeOpenCode) -> Iterator[None]:
    fake.reset()
    yield


# ------------------------------------------------------------------ fallback triggers

TRIGGERS = [
    ("glm-5.2", (500, "error", "Internal server error"), 2),
    ("kimi-k3", (529, "overloaded_error", "Overloaded"), 2),
    ("mimo-v2-omni", (403, "FreeTierError", "free tier only in OpenCode"), 2),
    ("mimo-v2.5", (503, "error", "Service Unavailable"), 2),
    # not on this route: retried once on the other route (refused too), then the fallback
    ("glm-5.3", (401, "ModelError", "Model glm-5.3 is not supported"), 3),
]


@pytest.mark.parametrize(("model", "error", "attempts"), TRIGGERS,
                         ids=[t[1][1] + f"-{t[1][0]}" for t in TRIGGERS])
def test_upstream_failure_falls_back(routed: Gateway, fake: FakeOpenCode, model: str,
                                     error: tuple[int, str, str], attempts: int) -> None:
    fake.fault(*error, model=model)
    status, headers, payload = post(routed, model)
    assert status == 200, payload
    assert served(headers) == ("opencode-go:deepseek-v4-flash", attempts)
    assert json.loads(payload)["model"] == model  # what the client asked for, always
    sent = models_sent(fake)
    assert sent[0][0] == model and sent[-1] == ("deepseek-v4-flash", "chat/completions", 200)
    if error[1] == "ModelError":
        assert sent[1] == (model, "messages", 401)  # the other route was asked once


def test_client_error_is_not_retried(routed: Gateway, fake: FakeOpenCode) -> None:
    message = "Error from provider (Console Go): Upstream request failed: [1210] Invalid API"
    fake.fault(400, "invalid_request_error", message, model="qwen3.7-max")
    status, headers, payload = post(routed, "qwen3.7-max")
    assert status == 400 and message in payload.decode()
    assert served(headers) == ("opencode-go:qwen3.7-max", 1)  # headers on errors too
    assert [m for m, _, _ in models_sent(fake)] == ["qwen3.7-max"]


def test_context_overflow_goes_only_to_a_larger_window(routed: Gateway,
                                                       fake: FakeOpenCode) -> None:
    too_long = "prompt is too long: 300000 tokens > 202752 maximum"
    fake.fault(400, "invalid_request_error", too_long, model="glm-5.1")
    status, headers, _ = post(routed, "glm-5.1")
    # glm-5 (same window) is skipped; deepseek-v4-pro (1M) takes it
    assert status == 200 and served(headers) == ("opencode-go:deepseek-v4-pro", 2)
    assert [m for m, _, _ in models_sent(fake)] == ["glm-5.1", "deepseek-v4-pro"]
    fake.reset()
    fake.fault(400, "invalid_request_error", too_long, model="kimi-k2.6")
    status, headers, payload = post(routed, "kimi-k2.6")  # its chain has only a smaller one
    assert status == 400 and b"prompt is too long" in payload
    assert served(headers) == ("opencode-go:kimi-k2.6", 1)
    assert [m for m, _, _ in models_sent(fake)] == ["kimi-k2.6"]


def test_committed_stream_is_never_sent_twice(routed: Gateway, fake: FakeOpenCode) -> None:
    fake.script(Reply(text="a partial answer that breaks", stream_failure="disconnect"))
    status, headers, payload = post(routed, "mimo-v2.5-pro", stream=True)
    assert status == 200
    assert streamed_text(payload) and b"event: error" in payload
    assert served(headers) == ("opencode-go:mimo-v2.5-pro", 1)
    assert [m for m, _, _ in models_sent(fake)] == ["mimo-v2.5-pro"]  # no second request


def test_stream_failing_before_content_falls_back(routed: Gateway, fake: FakeOpenCode) -> None:
    fake.script(Reply(stream_failure="error_first"), Reply(text="from the fallback"))
    status, headers, payload = post(routed, "mimo-v2.5-pro", stream=True)
    assert status == 200 and streamed_text(payload) == "from the fallback"
    assert served(headers) == ("opencode-go:deepseek-v4-flash", 2)


def test_attempt_budget(routed: Gateway, fake: FakeOpenCode) -> None:
    fake.fault(500, "error", "Internal server error")  # every model
    status, headers, _ = post(routed, "many")
    assert status == 500
    assert served(headers) == ("opencode-go:minimax-m3", 3)  # budget: 3 of 4 tried
    assert len(fake.completions()) == 3


def test_breaker_opens_skips_probes_and_closes(routed: Gateway, fake: FakeOpenCode) -> None:
    broken = fake.fault(500, "error", "Internal server error", model="kimi-k2.7-code")
    for _ in range(2):  # two consecutive failures open it (breaker.failures = 2)
        status, headers, _ = post(routed, "kimi-k2.7-code")
        assert status == 200 and served(headers) == ("opencode-go:deepseek-v4-flash", 2)
    assert broken.hits == 2
    status, headers, _ = post(routed, "kimi-k2.7-code")
    assert status == 200 and served(headers) == ("opencode-go:deepseek-v4-flash", 1)
    assert broken.hits == 2  # skipped while open
    logged(routed, "circuit breaker for opencode-go model kimi-k2.7-code open")
    time.sleep(1.1)  # the cool-down: the next request probes, fails, and it opens again
    status, headers, _ = post(routed, "kimi-k2.7-code")
    assert status == 200 and served(headers) == ("opencode-go:deepseek-v4-flash", 2)
    assert broken.hits == 3
    status, headers, _ = post(routed, "kimi-k2.7-code")
    assert served(headers) == ("opencode-go:deepseek-v4-flash", 1) and broken.hits == 3
    logged(routed, "(the probe failed too)")
    fake.clear_fault(broken)
    time.sleep(1.1)  # the next probe finds it answering
    status, headers, _ = post(routed, "kimi-k2.7-code")
    assert status == 200 and served(headers) == ("opencode-go:kimi-k2.7-code", 1)
    status, headers, _ = post(routed, "kimi-k2.7-code")
    assert served(headers) == ("opencode-go:kimi-k2.7-code", 1)
    logged(routed, "kimi-k2.7-code closed: it answered again")


@pytest.fixture
def unanswering_port() -> Iterator[int]:
    """A port whose listener never accepts and whose backlog is full: connecting hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
        for filler in fillers:
            filler.close()


def test_connect_failures_and_timeouts_fall_back(fake: FakeOpenCode, tmp_path: Any,
                                                 unanswering_port: int) -> None:
    config = tmp_path / "crossway.yaml"
    config.write_text(
        "backends:\n"
        "  dead:\n"
        "    type: openai\n"
        f"    api_url: http://127.0.0.1:{free_port()}/v1\n"
        "    api_key: sk-dead-0123456789\n"
        "    models: [m1]\n"
        "  mute:\n"
        "    type: openai\n"
        f"    api_url: http://127.0.0.1:{unanswering_port}/v1\n"
        "    api_key: sk-mute-0123456789\n"
        "    models: [m2]\n"
        "timeouts: {connect: 0.3, read: 0.5}\n"
        "routing:\n"
        "  fallbacks:\n"
        "    dead/m1: [opencode-go/deepseek-v4-flash]\n"
        "    mute/m2: [opencode-go/deepseek-v4-flash]\n"
        "    opencode-go/glm-5.1: [opencode-go/deepseek-v4-flash]\n")
    env = {"OPENCODE_GO_API_KEY": K1, "OPENCODE_GO_BASE_URL": fake.base_url}
    with Gateway(env, ("--config", str(config))) as gw:
        status, headers, _ = post(gw, "dead/m1", dialect="openai")  # connection refused
        assert status == 200 and served(headers) == ("opencode-go:deepseek-v4-flash", 2)
        status, headers, _ = post(gw, "mute/m2", dialect="openai")  # connect timeout
        assert status == 200 and served(headers) == ("opencode-go:deepseek-v4-flash", 2)
        logged(gw, "tried=mute:m2:connect_timeout")
        fake.script(Reply(text="too late", delay=1.5))
        status, headers, _ = post(gw, "glm-5.1", dialect="openai")  # read timeout
        assert status == 200 and served(headers) == ("opencode-go:deepseek-v4-flash", 2)


# ------------------------------------------------------------------ the key pool


def two_key_gateway(fake: FakeOpenCode, **extra: str) -> Gateway:
    env = {"OPENCODE_GO_API_KEY_1": K1, "OPENCODE_GO_API_KEY_2": K2,
           "OPENCODE_GO_BASE_URL": fake.base_url, **extra}
    return Gateway(env)


def test_rate_limited_key_rests_and_its_conversations_move(fake: FakeOpenCode) -> None:
    fake.fault(429, "GoUsageLimitError", "5 hour usage limit reached", key=K2,
               retry_after="18000", limit_name="5 hour")
    home2 = session_homed_at("opencode-go.2", ("opencode-go.1",))
    other2 = session_homed_at("opencode-go.2", ("opencode-go.1",)) + "x"
    while max(("opencode-go.1", "opencode-go.2"),
              key=lambda i: rendezvous_weight(other2, i)) != "opencode-go.2":
        other2 += "x"
    with two_key_gateway(fake) as gw:
        status, headers, _ = post(gw, "glm-5.1", session=home2)
        assert status == 200 and served(headers) == ("opencode-go.1:glm-5.1", 2)
        status, headers, _ = post(gw, "glm-5.1", session=home2)
        assert status == 200 and served(headers) == ("opencode-go.1:glm-5.1", 1)
        status, headers, _ = post(gw, "minimax-m2.7", session=other2)
        assert status == 200 and served(headers) == ("opencode-go.1:minimax-m2.7", 1)
        assert [r.key for r in fake.completions()] == [K2, K1, K1, K1]  # K2 asked once
        logs = logged(gw, "key opencode-go.2 (OPENCODE_GO_API_KEY_2) rate-limited")
        assert "5 hour" in logs and K2 not in logs


@pytest.mark.parametrize(("etype", "window"), [("CreditsError", "30 min"),
                                               ("MonthlyLimitError", "24 h 0 min")])
def test_billing_errors_rest_the_key_and_fall_back(fake: FakeOpenCode, etype: str,
                                                   window: str) -> None:
    fake.fault(401, etype, "Insufficient balance", key=K2)
    home2 = session_homed_at("opencode-go.2", ("opencode-go.1",))
    with two_key_gateway(fake) as gw:
        status, headers, _ = post(gw, "kimi-k2.6", session=home2)
        assert status == 200 and served(headers) == ("opencode-go.1:kimi-k2.6", 2)
        logged(gw, f"key opencode-go.2 (OPENCODE_GO_API_KEY_2) rate-limited ({etype}")
        assert f"not used for {window}" in gw.logs()


def test_all_keys_limited_answers_429_with_the_earliest_retry_after(
        fake: FakeOpenCode) -> None:
    fake.fault(429, "GoUsageLimitError", "weekly usage limit reached", key=K1,
               retry_after="7200", limit_name="weekly")
    fake.fault(429, "GoUsageLimitError", "5 hour usage limit reached", key=K2,
               retry_after="3600", limit_name="5 hour")
    with two_key_gateway(fake) as gw:
        status, headers, payload = post(gw, "glm-5.1", dialect="openai")
        assert status == 429 and headers["retry-after"] == "3600"  # smallest of the tried
        assert served(headers)[1] == 2 and b"usage limit" in payload
        assert headers["x-should-retry"] == "false"
        # every key rests now: answered at once, without calling upstream
        status, headers, payload = post(gw, "kimi-k2.6", dialect="openai")
        assert status == 429 and 3590 <= int(headers["retry-after"]) <= 3600
        assert b"every API key of backend opencode-go is rate-limited" in payload
        assert len(fake.completions()) == 2


def test_rejected_key_is_taken_out(fake: FakeOpenCode) -> None:
    bad = "sk-test-routing-revoked-9999"
    home1 = session_homed_at("opencode-go.1", ("opencode-go.2",))
    env = {"OPENCODE_GO_API_KEY_1": bad, "OPENCODE_GO_API_KEY_2": K2,
           "OPENCODE_GO_BASE_URL": fake.base_url}
    with Gateway(env) as gw:
        status, headers, _ = post(gw, "glm-5.1", session=home1)
        assert status == 200 and served(headers) == ("opencode-go.2:glm-5.1", 2)
        for n in range(3):
            status, headers, _ = post(gw, "glm-5.1", session=f"{home1}{n}")
            assert status == 200 and served(headers) == ("opencode-go.2:glm-5.1", 1)
        assert [r.key for r in fake.completions()] == [bad, K2, K2, K2, K2]
        logs = logged(gw, "rejected the API key from OPENCODE_GO_API_KEY_1")
        assert logs.count("rejected the API key from OPENCODE_GO_API_KEY_1") == 1
        assert bad not in logs


def test_every_key_rejected_answers_503_without_calling_upstream(fake: FakeOpenCode) -> None:
    env = {"OPENCODE_GO_API_KEY": "sk-test-routing-revoked-8888",
           "OPENCODE_GO_BASE_URL": fake.base_url}
    with Gateway(env) as gw:
        status, _, payload = post(gw, "glm-5.1")
        assert status == 502 and b"OPENCODE_GO_API_KEY" in payload  # the upstream's refusal
        status, headers, payload = post(gw, "kimi-k2.6")
        assert status == 503 and b"rejected every configured API key" in payload
        assert headers["x-should-retry"] == "false"
        assert len(fake.completions()) == 1


# ------------------------------------------------------------------ the self-healing catalog


def wait_listed(gw: Gateway, model_id: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, _, body = request(gw, "GET", "/v1/models")
        if model_id in {m["id"] for m in json.loads(body)["data"]}:
            return
        time.sleep(0.05)
    raise AssertionError(f"{model_id} never listed\n{gw.logs()}")


def test_discovered_model_learns_its_dialect(fake: FakeOpenCode) -> None:
    fake.serve("glm-6", "messages")  # new, only on /messages, absent from the built-in table
    try:
        env = {"OPENCODE_GO_API_KEY": K1, "OPENCODE_GO_BASE_URL": fake.base_url}
        with Gateway(env) as gw:
            wait_listed(gw, "opencode-go/glm-6")
            status, headers, _ = post(gw, "glm-6", dialect="openai")
            assert status == 200 and served(headers) == ("opencode-go:glm-6", 2)
            status, headers, _ = post(gw, "glm-6", dialect="openai")
            assert status == 200 and served(headers) == ("opencode-go:glm-6", 1)
            assert [(r.route, r.status) for r in fake.completions()] == [
                ("chat/completions", 401), ("messages", 200), ("messages", 200)]
            logged(gw, "now serves glm-6 on anthropic")
    finally:
        fake.catalog["messages"] = tuple(m for m in fake.catalog["messages"] if m != "glm-6")


# ------------------------------------------------------------------ names


def test_claude_names_with_only_a_go_key(routed: Gateway, fake: FakeOpenCode) -> None:
    for model, target in [("claude-opus-5-5", "opencode-go:deepseek-v4-flash"),
                          ("claude-sonnet-4-6[1m]", "opencode-go:deepseek-v4-flash"),
                          ("claude-haiku-4-5-20251001", "opencode-go:deepseek-v4-flash")]:
        status, headers, payload = post(routed, model)
        assert status == 200, payload
        assert served(headers)[0] == target
        assert json.loads(payload)["model"] == model


def test_go_auto_classifies_and_sticks(routed: Gateway, fake: FakeOpenCode) -> None:
    code = "Fix this bug:\n```python\ndef f(x):\n    return x +\n```"
    status, headers, _ = post(routed, "go-auto", text=code)
    assert served(headers)[0] == "opencode-go:kimi-k2.7-code"
    session = "ses_stickytest0000001"
    status, headers, _ = post(routed, "go-auto", session=session, text="hello there")
    assert status == 200 and served(headers)[0] == "opencode-go:deepseek-v4-flash"
    # the same conversation, now about code: stays where its prompt cache is
    status, headers, _ = post(routed, "go-auto", session=session, text=code)
    assert served(headers)[0] == "opencode-go:deepseek-v4-flash"
    tools = [{"name": "bash", "description": "run", "input_schema": {"type": "object"}}]
    loop = [{"role": "user", "content": "list files"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py"}]}]
    body = {"model": "auto", "max_tokens": 50, "messages": loop, "tools": tools}
    status, headers, payload = request(routed, "POST", "/v1/messages",
                                       json.dumps(body).encode(), A_HEADERS)
    assert status == 200, payload
    assert served(headers)[0] == "opencode-go:kimi-k2.7-code"  # agent chain


def test_unknown_name_in_routing_config_stops_start_up(fake: FakeOpenCode) -> None:
    env = {"OPENCODE_GO_API_KEY": K1, "OPENCODE_GO_BASE_URL": fake.base_url,
           "CROSSWAY_ROUTING": json.dumps(
               {"fallbacks": {"opencode-go/glm-5.1": ["opencode-go/nope-9"]}})}
    with pytest.raises(RuntimeError) as info:
        Gateway(env).stop()
    assert "CROSSWAY_ROUTING.fallbacks.opencode-go/glm-5.1[0]" in str(info.value)
    assert "'opencode-go/nope-9' is not a model" in str(info.value)
