"""What crossway does with what upstreams do: errors before and during a stream, trailing
frames, timeouts, unreachable hosts, session headers and key selection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.opencode import FakeOpenCode, Reply
from tests.gateway import Gateway, free_port, request

A_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
O_HEADERS = {"content-type": "application/json"}
MODELS = {"chat": "opencode-go/glm-5.1", "messages": "opencode-go/minimax-m2.7"}


def post(gw: Gateway, dialect: str, model: str, stream: bool = False,
         headers: dict[str, str] | None = None, **extra: Any) -> tuple[int, dict[str, str], bytes]:
    body: dict[str, Any] = {"model": model, "max_tokens": 100, "stream": stream,
                            "messages": [{"role": "user", "content": "hi"}], **extra}
    path = "/v1/messages" if dialect == "anthropic" else "/v1/chat/completions"
    base = A_HEADERS if dialect == "anthropic" else O_HEADERS
    return request(gw, "POST", path, json.dumps(body).encode(), {**base, **(headers or {})})


def sse_frames(payload: bytes) -> list[tuple[str | None, str]]:
    frames = []
    for block in payload.decode().split("\n\n"):
        if not block.strip():
            continue
        event, data = None, []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        frames.append((event, "\n".join(data)))
    return frames


# ---------------------------------------------------------------- errors before the stream

ERROR_CASES = [
    # (upstream status, Zen class, client status, anthropic type, openai type)
    ((401, "ModelError", "Model glm-5.1 is not supported"), 404, "not_found_error",
     "not_found_error"),
    ((401, "CreditsError", "Insufficient balance"), 402, "billing_error", "insufficient_quota"),
    ((401, "AuthError", "Invalid API key."), 502, "api_error", "server_error"),
    ((403, "FreeTierError", "free tier only in OpenCode"), 403, "permission_error",
     "permission_error"),
    ((429, "GoUsageLimitError", "5 hour limit reached"), 429, "rate_limit_error",
     "rate_limit_error"),
    ((500, "error", "Internal server error"), 500, "api_error", "server_error"),
    ((529, "overloaded_error", "Overloaded"), 529, "overloaded_error", "service_unavailable"),
]


POOL_KEYS = tuple(f"sk-test-pool-key-{n:02d}-0123456789" for n in range(1, 41))


@pytest.fixture(scope="module")
def pooled() -> Iterator[tuple[Gateway, FakeOpenCode]]:
    """A 429, AuthError or CreditsError rests the key that got it (the key pool): each case
    below spends one of many keys; no fallback hides the error (one attempt) and no circuit
    breaker opens on the scripted 5xx."""
    with FakeOpenCode(tier="go", keys=POOL_KEYS) as fake:
        env = {f"OPENCODE_GO_API_KEY_{n}": k for n, k in enumerate(POOL_KEYS, 1)}
        env |= {"OPENCODE_GO_BASE_URL": fake.base_url,
                "CROSSWAY_ROUTING": '{"budget": {"attempts": 1}, "breaker": {"failures": 1000}}'}
        with Gateway(env) as gw:
            yield gw, fake


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
@pytest.mark.parametrize("upstream", ["chat", "messages"])
@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize(("err", "status", "a_type", "o_type"), ERROR_CASES,
                         ids=[c[0][1] for c in ERROR_CASES])
def test_upstream_errors_become_client_errors(
    pooled: tuple[Gateway, FakeOpenCode], dialect: str, upstream: str, stream: bool,
    err: tuple[int, str, str], status: int, a_type: str, o_type: str,
) -> None:
    gateway, fake_go = pooled
    fake_go.reset()
    retry_after = "18000" if err[1] == "GoUsageLimitError" else None
    fake_go.script(Reply(error=err, retry_after=retry_after))
    got, headers, payload = post(gateway, dialect, MODELS[upstream], stream=stream)
    body = json.loads(payload)
    if dialect == "anthropic":
        assert got == status
        assert body["type"] == "error" and body["error"]["type"] == a_type
        message = body["error"]["message"]
    else:
        assert got == (503 if status == 529 else status)
        assert body["error"]["type"] == o_type
        message = body["error"]["message"]
    assert headers["content-type"].startswith("application/json")
    assert err[2] in message
    assert "sk-test-go" not in message  # the key's source may be named, never the key
    if err[1] == "GoUsageLimitError":
        assert headers["retry-after"] == "18000"
        assert headers["x-should-retry"] == "false"  # a 5-hour window: do not sit retrying
    if err[1] == "AuthError":
        assert "OPENCODE_GO_API_KEY" in message and headers["x-should-retry"] == "false"


def test_sdks_see_a_model_error_as_not_found(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    fake_go.script(Reply(error=(401, "ModelError", "Model minimax-m2.7 is not supported")),
                   Reply(error=(401, "ModelError", "Model glm-5.1 is not supported")))
    client = anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model=MODELS["messages"], max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}])
    oclient = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        oclient.chat.completions.create(model=MODELS["chat"],
                                        messages=[{"role": "user", "content": "hi"}])


# ---------------------------------------------------------------- broken streams


@pytest.mark.parametrize("failure", ["error_frame", "eof", "disconnect"])
@pytest.mark.parametrize("upstream", ["chat", "messages"])
def test_broken_stream_to_anthropic_client_ends_with_error_event(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str, failure: str
) -> None:
    fake_go.script(Reply(text="This answer will be cut short", stream_failure=failure))
    status, _, payload = post(gateway, "anthropic", MODELS[upstream], stream=True)
    assert status == 200
    frames = sse_frames(payload)
    events = [e for e, _ in frames]
    assert events[0] == "message_start"
    assert events[-1] == "error", events
    assert "message_stop" not in events and "message_delta" not in events
    err = json.loads(frames[-1][1])
    assert err["type"] == "error" and err["error"]["type"] in ("api_error", "overloaded_error")
    # And the SDK raises rather than returning a truncated message as if it succeeded.
    fake_go.script(Reply(text="This answer will be cut short", stream_failure=failure))
    client = anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.APIError), client.messages.stream(
            model=MODELS[upstream], max_tokens=50,
            messages=[{"role": "user", "content": "hi"}]) as s:
        s.get_final_message()


@pytest.mark.parametrize("failure", ["error_frame", "eof", "disconnect"])
@pytest.mark.parametrize("upstream", ["chat", "messages"])
def test_broken_stream_to_openai_client_ends_with_error_frame(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str, failure: str
) -> None:
    fake_go.script(Reply(text="This answer will be cut short", stream_failure=failure))
    status, _, payload = post(gateway, "openai", MODELS[upstream], stream=True,
                              stream_options={"include_usage": True})
    assert status == 200
    frames = sse_frames(payload)
    assert all(e is None for e, _ in frames)
    datas = [d for _, d in frames]
    assert "[DONE]" not in datas
    last = json.loads(datas[-1])
    assert set(last) == {"error"} and last["error"]["message"]
    assert not any(json.loads(d).get("choices", [{}])[0].get("finish_reason")
                   for d in datas[:-1] if json.loads(d).get("choices"))
    fake_go.script(Reply(text="This answer will be cut short", stream_failure=failure))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIError):
        for _ in client.chat.completions.create(
                model=MODELS[upstream], stream=True,
                messages=[{"role": "user", "content": "hi"}]):
            pass


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
@pytest.mark.parametrize("upstream", ["chat", "messages"])
def test_nothing_after_the_terminal_event(
    gateway: Gateway, fake_go: FakeOpenCode, dialect: str, upstream: str
) -> None:
    """Zen appends a cost frame after [DONE] / message_stop (spec A8); clients never see it."""
    fake_go.script(Reply(text="Fine."))
    extra = {"stream_options": {"include_usage": True}} if dialect == "openai" else {}
    status, _, payload = post(gateway, dialect, MODELS[upstream], stream=True, **extra)
    assert status == 200
    frames = sse_frames(payload)
    assert b"cost" not in payload
    if dialect == "anthropic":
        events = [e for e, _ in frames]
        assert events[-1] == "message_stop" and events.count("message_stop") == 1
        assert events[:2] == ["message_start", "ping"]
    else:
        datas = [d for _, d in frames]
        assert datas[-1] == "[DONE]" and datas.count("[DONE]") == 1
        usage_chunk = json.loads(datas[-2])
        assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] >= 1


@pytest.mark.parametrize("upstream", ["chat", "messages"])
def test_openai_stream_without_include_usage_gets_no_usage_chunk(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str
) -> None:
    fake_go.script(Reply(text="Fine."))
    status, _, payload = post(gateway, "openai", MODELS[upstream], stream=True)
    datas = [d for _, d in sse_frames(payload)]
    assert status == 200 and datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert all(c["choices"] for c in chunks)
    # crossway still asked the upstream for usage, for its own accounting.
    if upstream == "chat":
        assert fake_go.completions()[-1].json["stream_options"] == {"include_usage": True}


# ---------------------------------------------------------------- unreachable, slow


def test_unreachable_upstream_is_502() -> None:
    port = free_port()  # nothing listens there
    env = {"OPENCODE_GO_API_KEY": "sk-test-go-0123456789",
           "OPENCODE_GO_BASE_URL": f"http://127.0.0.1:{port}/zen/go/v1"}
    with Gateway(env) as gw:
        for dialect in ("anthropic", "openai"):
            for stream in (False, True):
                status, _, payload = post(gw, dialect, MODELS["chat"], stream=stream)
                assert status == 502, payload
                assert b"cannot reach opencode-go" in payload


@pytest.fixture(scope="module")
def impatient(fake_go: FakeOpenCode) -> Iterator[Gateway]:
    env = {"OPENCODE_GO_API_KEY": "sk-test-go-0123456789", "OPENCODE_GO_BASE_URL":
           fake_go.base_url, "CROSSWAY_READ_TIMEOUT": "0.5"}
    with Gateway(env) as gw:
        yield gw


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_upstream_read_timeout_is_504(
    impatient: Gateway, fake_go: FakeOpenCode, dialect: str, stream: bool
) -> None:
    fake_go.script(Reply(text="too late", delay=1.5))
    status, _, payload = post(impatient, dialect, MODELS["messages"], stream=stream)
    assert status == 504, payload
    body = json.loads(payload)
    assert ("error" in body) and (body.get("type") == "error") == (dialect == "anthropic")


# ---------------------------------------------------------------- sessions


def test_session_header_is_stable_per_conversation(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0)
    convo: list[Any] = [{"role": "user", "content": "first question of conversation A"}]
    client.messages.create(model=MODELS["chat"], max_tokens=10, messages=convo)
    convo += [{"role": "assistant", "content": "answer"},
              {"role": "user", "content": "follow-up"}]
    client.messages.create(model=MODELS["chat"], max_tokens=10, messages=convo)
    client.messages.create(model=MODELS["chat"], max_tokens=10, messages=[
        {"role": "user", "content": "a different conversation B"}])
    a1, a2, b = fake_go.session_ids
    assert a1 == a2 != b
    assert all(s.startswith("ses_") for s in (a1, b))


def test_session_taken_from_client_ids(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    post(gateway, "anthropic", MODELS["messages"],
         headers={"x-claude-code-session-id": "0b1c7d0e-aaaa-bbbb-cccc-1234567890ab"})
    post(gateway, "anthropic", MODELS["messages"],
         messages=[{"role": "user", "content": "other text"}],
         headers={"x-claude-code-session-id": "0b1c7d0e-aaaa-bbbb-cccc-1234567890ab"})
    meta = json.dumps({"device_id": "d", "session_id": "0b1c7d0e-aaaa-bbbb-cccc-1234567890ab"})
    post(gateway, "anthropic", MODELS["messages"], metadata={"user_id": meta})
    post(gateway, "openai", MODELS["chat"], headers={"x-session-affinity": "ses_abc123def456"})
    s1, s2, s3, s4 = fake_go.session_ids
    assert s1 == s2 == s3  # same conversation id, whichever way the client said it
    assert s4 == "ses_abc123def456"  # already OpenCode-shaped: passed as is


# ---------------------------------------------------------------- several keys


K1, K2 = "sk-test-multi-key-one-111", "sk-test-multi-key-two-222"


@pytest.fixture(scope="module")
def multi() -> Iterator[tuple[Gateway, FakeOpenCode]]:
    with FakeOpenCode(tier="go", keys=(K1, K2)) as fake:
        env = {"OPENCODE_GO_API_KEY_1": K1, "OPENCODE_GO_API_KEY_2": K2,
               "OPENCODE_GO_BASE_URL": fake.base_url}
        with Gateway(env) as gw:
            yield gw, fake


def test_instance_selector_and_spread(multi: tuple[Gateway, FakeOpenCode]) -> None:
    gw, fake = multi
    fake.reset()
    for _ in range(2):
        assert post(gw, "openai", "opencode-go.2:glm-5.1")[0] == 200
        assert post(gw, "anthropic", "opencode-go.1:minimax-m2.7")[0] == 200
    sent = fake.completions()
    assert [r.headers.get("authorization") or r.headers.get("x-api-key") for r in sent] == [
        f"Bearer {K2}", K1, f"Bearer {K2}", K1]
    fake.reset()
    for i in range(24):
        post(gw, "openai", "opencode-go:glm-5.1",
             messages=[{"role": "user", "content": f"conversation {i}"}])
    keys = {r.headers["authorization"] for r in fake.completions()}
    assert keys == {f"Bearer {K1}", f"Bearer {K2}"}
    status, _, payload = post(gw, "openai", "opencode-go.3:glm-5.1")
    assert status == 503 and b"OPENCODE_GO_API_KEY_3" in payload
    logs = gw.logs()
    assert "opencode-go.1" in logs and "opencode-go.2" in logs
    assert K1 not in logs and K2 not in logs  # masked at start-up, never logged per request


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
@pytest.mark.parametrize("upstream", ["chat", "messages"])
def test_stream_failing_before_any_content_is_an_http_error(
    gateway: Gateway, fake_go: FakeOpenCode, dialect: str, upstream: str
) -> None:
    """A 200 whose first frame is an error: nothing reached the client, so it gets a real
    status it can retry on (and a later fallback can take over), not a 200 with an error."""
    fake_go.script(Reply(text="never sent", stream_failure="error_first"))
    status, headers, payload = post(gateway, dialect, MODELS[upstream], stream=True)
    assert status in (502, 503, 529), payload
    assert headers["content-type"].startswith("application/json")
    body = json.loads(payload)
    assert (body.get("type") == "error") == (dialect == "anthropic") and "error" in body
