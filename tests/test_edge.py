"""The server edge over real HTTP: bad input, auth, limits, probes, models, error shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.opencode import FakeOpenCode, Reply
from tests.gateway import Gateway, request

A_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
O_HEADERS = {"content-type": "application/json"}


def call(gw: Gateway, method: str, path: str, body: Any = None, raw: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    status, resp_headers, payload = request(gw, method, path, data, headers or O_HEADERS)
    text = payload.decode()
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = text
    return status, resp_headers, parsed


def assert_anthropic_error(body: Any, etype: str) -> str:
    assert body["type"] == "error", body
    assert body["error"]["type"] == etype, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return str(body["error"]["message"])


def assert_openai_error(body: Any, etype: str | None = None) -> str:
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if etype:
        assert body["error"]["type"] == etype, body
    return str(body["error"]["message"])


# ---------------------------------------------------------------- bad input, both dialects

BAD_INPUTS = [
    ("malformed json", b'{"model": "x", ', "not valid JSON"),
    ("not an object", b"[1, 2]", "JSON object"),
    ("empty body", b"", "empty"),
    ("missing model", b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}',
     "model"),
    ("model wrong type", b'{"model": 5, "messages": [{"role": "user", "content": "hi"}], '
     b'"max_tokens": 5}', "model"),
    ("missing messages", b'{"model": "opencode-go/glm-5.1", "max_tokens": 5}', "messages"),
    ("messages wrong type", b'{"model": "opencode-go/glm-5.1", "messages": "hi", '
     b'"max_tokens": 5}', "messages"),
    ("stream wrong type", b'{"model": "opencode-go/glm-5.1", "max_tokens": 5, "stream": "yes",'
     b' "messages": [{"role": "user", "content": "hi"}]}', "stream"),
]


@pytest.mark.parametrize(("case", "raw", "needle"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_openai(gateway: Gateway, case: str, raw: bytes, needle: str) -> None:
    status, headers, body = call(gateway, "POST", "/v1/chat/completions", raw=raw)
    assert status == 400
    assert needle in assert_openai_error(body, "invalid_request_error")
    assert headers["x-should-retry"] == "false"


@pytest.mark.parametrize(("case", "raw", "needle"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_anthropic(gateway: Gateway, case: str, raw: bytes, needle: str) -> None:
    status, _, body = call(gateway, "POST", "/v1/messages", raw=raw, headers=A_HEADERS)
    assert status == 400
    assert needle in assert_anthropic_error(body, "invalid_request_error")


def test_anthropic_requires_max_tokens(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    status, _, body = call(gateway, "POST", "/v1/messages", headers=A_HEADERS, body={
        "model": "opencode-go/glm-5.1", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 400
    assert "max_tokens" in assert_anthropic_error(body, "invalid_request_error")
    assert fake_go.completions() == []


@pytest.mark.parametrize("model", ["opencode-go/glm-5.1", "opencode-go/minimax-m2.7"])
def test_wrong_types_inside_messages_are_caught_before_upstream(
    gateway: Gateway, fake_go: FakeOpenCode, model: str
) -> None:
    """Translated or not, a malformed message gets a 400 in the client's dialect."""
    bad = {"model": model, "max_tokens": 5,
           "messages": [{"role": "user", "content": [{"type": "text", "text": 42}]}]}
    status, _, body = call(gateway, "POST", "/v1/messages", body=bad, headers=A_HEADERS)
    assert status == 400
    assert_anthropic_error(body, "invalid_request_error")
    bad_o = {"model": model, "messages": [{"role": "wizard", "content": "hi"}]}
    status, _, body = call(gateway, "POST", "/v1/chat/completions", body=bad_o)
    assert status == 400
    assert_openai_error(body, "invalid_request_error")


def test_unknown_model_is_404_with_suggestions(gateway: Gateway) -> None:
    status, _, body = call(gateway, "POST", "/v1/chat/completions", body={
        "model": "opencode-go/glm-5.l", "messages": [{"role": "user", "content": "hi"}]})
    assert status == 404
    msg = assert_openai_error(body, "not_found_error")
    assert "opencode-go/glm-5.1" in msg
    status, _, body = call(gateway, "POST", "/v1/messages", headers=A_HEADERS, body={
        "model": "kimi-k2.66", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert status == 404
    assert "kimi-k2.6" in assert_anthropic_error(body, "not_found_error")


def test_unknown_route_is_404_in_dialect(gateway: Gateway) -> None:
    status, _, body = call(gateway, "GET", "/v1/nothing")
    assert status == 404
    assert_openai_error(body)
    status, _, body = call(gateway, "GET", "/v1/messages", headers=A_HEADERS)
    assert status == 405
    assert_anthropic_error(body, "api_error")


# ---------------------------------------------------------------- probes and models


def test_probes(gateway: Gateway) -> None:
    status, _, body = call(gateway, "GET", "/healthz")
    assert status == 200 and body["status"] == "ok"
    assert body["backends"] == {"opencode-go": 1, "opencode-zen": 1}
    assert request(gateway, "HEAD", "/")[0] == 200
    assert request(gateway, "HEAD", "/api/hello")[0] == 200
    status, _, _ = call(gateway, "POST", "/api/event_logging/v2/batch", body={"events": []})
    assert status == 204


def test_models_openai_and_anthropic_shapes(gateway: Gateway) -> None:
    status, _, body = call(gateway, "GET", "/v1/models")
    assert status == 200 and body["object"] == "list"
    ids = {m["id"] for m in body["data"]}
    assert {"opencode-go/glm-5.1", "opencode-go/minimax-m2.7",
            "opencode-zen/claude-sonnet-4-6"} <= ids
    assert all(m["object"] == "model" and m["owned_by"] for m in body["data"])
    status, _, body = call(gateway, "GET", "/v1/models", headers=A_HEADERS)
    assert status == 200 and body["has_more"] is False
    assert body["first_id"] == body["data"][0]["id"]
    assert all(m["type"] == "model" and m["display_name"] for m in body["data"])


def test_count_tokens(gateway: Gateway) -> None:
    req = {"model": "opencode-go/minimax-m2.7", "system": "You are terse.",
           "messages": [{"role": "user", "content": "word " * 400}],
           "tools": [{"name": "t", "input_schema": {"type": "object", "properties": {}}}]}
    status, _, body = call(gateway, "POST", "/v1/messages/count_tokens?beta=true", body=req,
                           headers=A_HEADERS)
    assert status == 200
    assert 400 <= body["input_tokens"] <= 700
    # A real BPE (cl100k): "hello world" is 2 tokens, plus 3 for the message.
    status, _, body = call(gateway, "POST", "/v1/messages/count_tokens", headers=A_HEADERS,
                           body={"model": "opencode-go/glm-5.1",
                                 "messages": [{"role": "user", "content": "hello world"}]})
    assert (status, body) == (200, {"input_tokens": 5})
    status, _, body = call(gateway, "POST", "/v1/messages/count_tokens", body={"model": "x"},
                           headers=A_HEADERS)
    assert status == 400
    assert_anthropic_error(body, "invalid_request_error")


def test_anthropic_prefix_and_beta_query(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    fake_go.script(Reply(text="one"), Reply(text="two"))
    for path in ("/v1/messages?beta=true", "/anthropic/v1/messages"):
        status, _, body = call(gateway, "POST", path, headers={
            **A_HEADERS, "anthropic-version": "2026-10-21",
            "anthropic-beta": "claude-code-20250219,some-future-beta-2027-01-01"}, body={
            "model": "opencode-go/minimax-m2.7", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]})
        assert status == 200, body
    assert [b["content"][0]["text"] for b in [body]] == ["two"]
    # Claude-Code betas are not forwarded to a non-Anthropic Messages upstream (spec B5.14).
    assert all("anthropic-beta" not in r.headers for r in fake_go.completions())
    assert all(r.headers["anthropic-version"] == "2023-06-01" for r in fake_go.completions())


# ---------------------------------------------------------------- auth, limits, no key


@pytest.fixture(scope="module")
def guarded(fake_go: FakeOpenCode) -> Iterator[Gateway]:
    env = {"CROSSWAY_API_KEY": "gw-secret-key-123456",
           "OPENCODE_GO_API_KEY": "sk-test-go-0123456789",
           "OPENCODE_GO_BASE_URL": fake_go.base_url, "CROSSWAY_MAX_BODY_BYTES": "4096"}
    with Gateway(env) as gw:
        yield gw


def test_auth_required_when_configured(guarded: Gateway, fake_go: FakeOpenCode) -> None:
    fake_go.script(Reply(text="ok"), Reply(text="ok"))
    req = {"model": "opencode-go/glm-5.1", "max_tokens": 5,
           "messages": [{"role": "user", "content": "hi"}]}
    status, headers, body = call(guarded, "POST", "/v1/chat/completions", body=req)
    assert status == 401 and headers["x-should-retry"] == "false"
    assert "missing API key" in assert_openai_error(body, "authentication_error")
    status, _, body = call(guarded, "POST", "/v1/messages", body=req,
                           headers={**A_HEADERS, "x-api-key": "wrong"})
    assert status == 401
    assert_anthropic_error(body, "authentication_error")
    status, _, _ = call(guarded, "POST", "/v1/chat/completions", body=req,
                        headers={**O_HEADERS, "authorization": "Bearer gw-secret-key-123456"})
    assert status == 200
    status, _, _ = call(guarded, "POST", "/v1/messages", body=req,
                        headers={**A_HEADERS, "x-api-key": "gw-secret-key-123456"})
    assert status == 200
    # The gateway key authenticates the client; it never travels upstream.
    for r in fake_go.completions():
        assert "gw-secret-key-123456" not in json.dumps(r.headers)
    assert call(guarded, "GET", "/healthz")[0] == 200
    assert call(guarded, "GET", "/v1/models")[0] == 401


def test_body_over_limit_is_413(guarded: Gateway) -> None:
    big = {"model": "opencode-go/glm-5.1", "max_tokens": 5,
           "messages": [{"role": "user", "content": "x" * 5000}]}
    status, _, body = call(guarded, "POST", "/v1/messages", body=big,
                           headers={**A_HEADERS, "x-api-key": "gw-secret-key-123456"})
    assert status == 413
    assert_anthropic_error(body, "request_too_large")
    status, _, body = call(guarded, "POST", "/v1/chat/completions", body=big,
                           headers={**O_HEADERS, "authorization": "Bearer gw-secret-key-123456"})
    assert status == 413
    assert_openai_error(body)


def test_no_key_configured_answers_503_naming_the_variable(fake_go: FakeOpenCode) -> None:
    with Gateway({"OPENCODE_GO_BASE_URL": fake_go.base_url}) as gw:
        assert "OPENCODE_GO_API_KEY" in gw.logs()
        status, _, body = call(gw, "POST", "/v1/messages", headers=A_HEADERS, body={
            "model": "opencode-go/glm-5.1", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]})
        assert status == 503
        assert "OPENCODE_GO_API_KEY" in assert_anthropic_error(body, "api_error")
        status, _, body = call(gw, "POST", "/v1/chat/completions", body={
            "model": "opencode-zen/glm-5.1", "messages": [{"role": "user", "content": "hi"}]})
        assert status == 503
        assert "OPENCODE_API_KEY" in assert_openai_error(body)
    assert fake_go.completions() == []
