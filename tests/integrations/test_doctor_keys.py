"""How a key check's two answers (with the key, without it) become a verdict."""

from __future__ import annotations

import pytest

from crossway.integrations.doctor_keys import PROBES, SLOW_SECONDS, _Answer, _judge

PROBE = PROBES["openai"]
assert PROBE is not None


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
