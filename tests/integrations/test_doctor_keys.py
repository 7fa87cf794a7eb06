"""How a key check's two answers (with the key, without it) become a verdict."""

from __future__ import annotations

import pytest

from crossway.config.settings import BackendSettings, KeySpec
from crossway.integrations.doctor_keys import PROBES, SLOW_SECONDS, _Answer, _judge, _request

PROBE = "GET /models"


def answer(status: int | None, seconds: float = 0.1, message: str = "") -> _Answer:
    return _Answer(status, message, seconds, None)


@pytest.mark.parametrize(("keyed", "bare", "verdict", "words"), [
    (answer(200), answer(401), "ok", "accepted (GET /models"),
    (answer(200, SLOW_SECONDS + 1), answer(401), "slow", "took"),
    (answer(401, message="Invalid API key."), answer(401), "rejected", "Invalid API key."),
    (answer(403), answer(403), "rejected", "answered 403"),
    (answer(200), answer(200), "not_checkable", "answers without a key too"),
    (answer(200), answer(None), "not_checkable", "answers without a key too"),
    (answer(404), answer(404), "not_checkable", "does not exist here"),
    (answer(502, message="bad gateway"), answer(502), "unreachable", "HTTP 502"),
    (answer(None, message="cannot connect"), answer(None), "unreachable", "cannot connect"),
])
def test_verdicts(keyed: _Answer, bare: _Answer, verdict: str, words: str) -> None:
    status, detail = _judge(PROBE, keyed, bare, "http://up/v1/models")
    assert status == verdict and words in detail


def test_zen_has_no_free_authenticated_request() -> None:
    assert PROBES["opencode-zen"] is None
    go = PROBES["opencode-go"]
    assert go is not None and go.path == "/usage"


def _backend(btype: str, url: str) -> BackendSettings:
    return BackendSettings(name=btype, type=btype, api_url=url,
                           keys=(KeySpec("sk-secret-key-123456", f"{btype.upper()}_API_KEY"),))


def test_each_provider_is_checked_with_its_own_listing_request() -> None:
    gemini = _backend("gemini", "http://g.test/v1beta")
    found = _request(gemini, gemini.keys[0])
    assert found is not None
    _why, url, headers = found
    assert url.startswith("http://g.test/v1beta/models")
    assert headers["x-goog-api-key"] == "sk-secret-key-123456" and "authorization" not in headers
    anthropic = _backend("anthropic", "http://a.test/v1")
    found = _request(anthropic, anthropic.keys[0])
    assert found is not None and found[2].get("x-api-key") == "sk-secret-key-123456"
    assert "anthropic-version" in found[2]
    openai = _backend("openai", "http://o.test/v1")
    found = _request(openai, openai.keys[0])
    assert found is not None
    assert found[:2] == ("GET /v1/models", "http://o.test/v1/models")
    assert found[2]["authorization"] == "Bearer sk-secret-key-123456"
