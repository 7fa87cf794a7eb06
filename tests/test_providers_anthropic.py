"""A real Anthropic upstream configured by ANTHROPIC_API_KEY: prompt-caching breakpoints reach
it untouched (and its cache reads come back), and count_tokens is answered by it exactly."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from crossway.config.settings import BackendSettings, KeySpec
from crossway.providers.generic import AnthropicProvider
from tests.fakes.anthropic import FakeAnthropic, exact_count
from tests.gateway import Gateway, request
from tests.providers_util import ANTHROPIC_HEADERS, anthropic_stream_text, messages

MODEL = "anthropic/claude-sonnet-4-20250514"
CACHED = {
    "model": MODEL, "max_tokens": 256,
    "system": [{"type": "text", "text": "You are a careful engineer. " * 40,
                "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
    "tools": [{"name": "bash", "input_schema": {"type": "object"},
               "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": [
        {"type": "text", "text": "summarise the repo", "cache_control": {"type": "ephemeral"}}]}],
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(keys=("sk-ant-real",)) as f:
        yield f


@pytest.fixture(scope="module")
def gw(fake: FakeAnthropic) -> Iterator[Gateway]:
    with Gateway({"ANTHROPIC_API_KEY": "sk-ant-real", "ANTHROPIC_BASE_URL": fake.base_url}) as g:
        yield g


@pytest.fixture(autouse=True)
def _clean(fake: FakeAnthropic) -> None:
    fake.reset()


def test_cache_control_reaches_anthropic_untouched(gw: Gateway, fake: FakeAnthropic) -> None:
    status, _, first = messages(gw, CACHED)
    assert status == 200, first
    status, _, events = messages(gw, {**CACHED, "stream": True},
                                 headers={"anthropic-beta": "extended-cache-ttl-2025-04-11"})
    assert status == 200, events
    assert anthropic_stream_text(events) == "hello from anthropic"
    sent = [r.json for r in fake.requests() if r.path == "/v1/messages"]
    for body in sent:
        for key in ("system", "tools", "messages"):
            assert body[key] == CACHED[key]
    assert first["usage"]["cache_creation_input_tokens"] > 0
    start = next(d for e, d in events if e == "message_start")
    assert start["message"]["usage"]["cache_read_input_tokens"] > 0
    beta = [r.headers.get("anthropic-beta") for r in fake.requests()]
    assert beta[-1] == "extended-cache-ttl-2025-04-11"
    assert all(r.headers["x-api-key"] == "sk-ant-real" for r in fake.requests())


def test_count_tokens_is_anthropics_own(gw: Gateway, fake: FakeAnthropic) -> None:
    body = {"model": MODEL, "system": "be brief",
            "messages": [{"role": "user", "content": "count me"}]}
    status, headers, raw = request(gw, "POST", "/v1/messages/count_tokens",
                                   json.dumps(body).encode(), ANTHROPIC_HEADERS)
    assert status == 200, raw
    assert json.loads(raw) == {"input_tokens": exact_count(body)}
    assert headers["x-crossway-count"] == "upstream"
    (rec,) = fake.requests()
    assert rec.path == "/v1/messages/count_tokens"
    assert rec.json["model"] == "claude-sonnet-4-20250514"


def test_count_tokens_refusal_is_the_clients(gw: Gateway, fake: FakeAnthropic) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    status, _, raw = request(gw, "POST", "/v1/messages/count_tokens",
                             json.dumps(body).encode(), ANTHROPIC_HEADERS)
    assert status == 400
    assert "Extra inputs are not permitted" in json.loads(raw)["error"]["message"]


def test_count_tokens_for_other_upstreams_is_estimated(gw: Gateway) -> None:
    body = {"model": "opencode-go/glm-5.1", "messages": [{"role": "user", "content": "hi"}]}
    status, headers, raw = request(gw, "POST", "/v1/messages/count_tokens",
                                   json.dumps(body).encode(), ANTHROPIC_HEADERS)
    assert status == 200 and headers["x-crossway-count"] == "estimated"
    assert json.loads(raw)["input_tokens"] > 0


def test_models_listing_hook(fake: FakeAnthropic) -> None:
    import urllib.request

    provider = AnthropicProvider(BackendSettings(
        name="anthropic", type="anthropic", api_url=fake.base_url,
        keys=(KeySpec("sk-ant-real", "ANTHROPIC_API_KEY"),), preset="anthropic"))
    req = provider.models_request(provider.instances[0])
    assert req is not None and req.params == {"limit": "1000"}
    with urllib.request.urlopen(urllib.request.Request(
            req.url + "?limit=1000", headers=req.headers)) as resp:
        assert provider.parse_models(resp.read()) == ["claude-sonnet-4-20250514",
                                                      "claude-haiku-4-5-20251001"]
