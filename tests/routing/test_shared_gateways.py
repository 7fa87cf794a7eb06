"""Two crossway processes sharing one real Redis (`CROSSWAY_REDIS_URL`): a key one of them saw
rate-limited rests for both, a dialect one learned is used by both; and a gateway whose Redis
goes away keeps serving from memory, says so once, and says so again when Redis returns."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.fakes.opencode import FakeOpenCode
from tests.gateway import Gateway, request
from tests.routing.conftest import RedisServer

KEY = "sk-test-shared-state-key-0001"
HEADERS = {"content-type": "application/json"}
REFRESH = 1.0  # routing/setup.py REFRESH_INTERVAL: how soon a replica adopts the others' state


@pytest.fixture
def fake() -> Iterator[FakeOpenCode]:
    with FakeOpenCode(tier="go", keys=(KEY,)) as f:
        yield f


def post(gw: Gateway, model: str) -> tuple[int, dict[str, str], bytes]:
    body = {"model": model, "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    return request(gw, "POST", "/v1/chat/completions", json.dumps(body).encode(), HEADERS)


def env_for(fake: FakeOpenCode, redis: RedisServer) -> dict[str, str]:
    return {"OPENCODE_GO_API_KEY": KEY, "OPENCODE_GO_BASE_URL": fake.base_url,
            "CROSSWAY_REDIS_URL": redis.url}


def wait_for(condition: object, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_processes_share_cooldowns_and_learned_dialects(
        fake: FakeOpenCode, redis_server: RedisServer) -> None:
    fake.serve("glm-6", "messages")  # new, only on /messages, unknown to the catalog
    with Gateway(env_for(fake, redis_server)) as one, \
            Gateway(env_for(fake, redis_server)) as two:
        for gw in (one, two):  # each read the listing at start-up, in the background
            wait_for(lambda gw=gw: b'"opencode-go/glm-6"' in request(gw, "GET", "/v1/models")[2],
                     "glm-6 to be discovered")
        status, headers, _ = post(one, "opencode-go/glm-6")
        assert status == 200 and headers["x-crossway-attempts"] == "2"  # chat, then messages
        time.sleep(REFRESH * 1.5)
        status, headers, _ = post(two, "opencode-go/glm-6")
        assert status == 200 and headers["x-crossway-attempts"] == "1"  # learned by `one`
        assert [r.route for r in fake.completions()][-1] == "messages"

        fake.fault(429, "GoUsageLimitError", "5 hour usage limit reached", key=KEY,
                   retry_after="600", limit_name="5 hour")
        status, headers, _ = post(one, "glm-5.1")
        assert status == 429 and headers["retry-after"] == "600"
        sent = len(fake.completions())
        time.sleep(REFRESH * 1.5)
        status, headers, payload = post(two, "glm-5.1")
        assert status == 429 and 590 <= int(headers["retry-after"]) <= 600
        assert b"every API key of backend opencode-go is rate-limited" in payload
        assert len(fake.completions()) == sent  # `two` honoured `one`'s cooldown


def test_redis_lost_mid_run(fake: FakeOpenCode, redis_server: RedisServer) -> None:
    with Gateway(env_for(fake, redis_server)) as gw:
        assert post(gw, "glm-5.1")[0] == 200
        redis_server.stop()
        for _ in range(3):
            assert post(gw, "glm-5.1")[0] == 200
            time.sleep(0.5)
        wait_for(lambda: "is unreachable" in gw.logs(), "the outage to be logged")
        assert gw.logs().count("is unreachable") == 1  # said once, not per request
        redis_server.start()
        wait_for(lambda: "is reachable again" in gw.logs(), "the recovery to be logged")
        assert post(gw, "glm-5.1")[0] == 200
