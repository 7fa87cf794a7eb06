"""routing/breaker.py: opens after N consecutive upstream failures, skips, probes once after the
cool-down, closes on success; what counts and what does not; shared through Redis."""

from __future__ import annotations

import asyncio

import pytest

from crossway.failures import FailureKind
from crossway.routing.breaker import Breaker, BreakerSettings, verdict
from crossway.routing.state import MemoryState, RedisState
from tests.routing.conftest import RedisServer
from tests.routing.test_state import FakeClock

GO, GLM = "opencode-go", "glm-5.1"


@pytest.mark.parametrize(("kind", "status", "expected"), [
    (None, 200, "success"),
    ("connect", None, "failure"),
    ("connect_timeout", None, "failure"),
    ("read_timeout", None, "failure"),
    ("disconnected", 200, "failure"),
    ("unsupported", None, "neutral"),
    ("protocol", 200, "failure"),
    ("upstream_status", 500, "failure"),
    ("upstream_status", 503, "failure"),
    ("upstream_status", 529, "failure"),
    ("upstream_status", 429, "neutral"),
    ("upstream_status", 401, "neutral"),  # OpenCode ModelError / AuthError: not an outage
    ("upstream_status", 400, "neutral"),
    ("client_error", 400, "neutral"),
    ("client_error", None, "neutral"),
])
def test_verdict(kind: str | None, status: int | None, expected: str) -> None:
    assert verdict(kind, status) == expected


def _breaker(clock: FakeClock, failures: int = 5, cooldown: float = 30.0,
             probe_timeout: float = 120.0) -> Breaker:
    return Breaker(MemoryState(clock), BreakerSettings(failures, cooldown, probe_timeout), clock)


def test_opens_after_five_consecutive_failures_by_default() -> None:
    clock = FakeClock()
    b = _breaker(clock)

    async def run() -> None:
        for _ in range(4):
            await b.record(GO, GLM, "upstream_status", 502)
            assert await b.allow(GO, GLM)
        await b.record(GO, GLM, "read_timeout")
        assert not await b.allow(GO, GLM)
        assert b.is_open(GO, GLM)
        assert await b.allow(GO, "kimi-k3")  # per (instance, model)
        assert await b.allow("opencode-go.2", GLM)

    asyncio.run(run())


def test_success_and_neutral_outcomes() -> None:
    clock = FakeClock()
    b = _breaker(clock, failures=3)

    async def run() -> None:
        await b.record(GO, GLM, "connect")
        await b.record(GO, GLM, "connect")
        await b.record(GO, GLM, None, 200)  # resets the count
        await b.record(GO, GLM, "connect")
        await b.record(GO, GLM, "connect")
        assert await b.allow(GO, GLM)
        for _ in range(10):  # 429s and the client's own 4xx never open it
            await b.record(GO, GLM, "upstream_status", 429)
            await b.record(GO, GLM, "client_error", 400)
        assert await b.allow(GO, GLM)
        await b.record(GO, GLM, "protocol")  # third consecutive failure
        assert not await b.allow(GO, GLM)

    asyncio.run(run())


def test_one_probe_after_the_cooldown_then_closes_on_success() -> None:
    clock = FakeClock()
    b = _breaker(clock, failures=1, cooldown=30)

    async def run() -> None:
        await b.record(GO, GLM, "upstream_status", 500)
        clock.now += 29.9
        assert not await b.allow(GO, GLM)
        clock.now += 0.2
        assert not b.is_open(GO, GLM)
        assert await b.allow(GO, GLM)  # the probe
        assert not await b.allow(GO, GLM)  # only one while it is in flight
        assert not await b.allow(GO, GLM)
        await b.record(GO, GLM, None, 200)
        assert await b.allow(GO, GLM)
        assert await b.allow(GO, GLM)
        assert b.open_targets() == {}

    asyncio.run(run())


def test_failed_probe_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    b = _breaker(clock, failures=2, cooldown=30)

    async def run() -> None:
        await b.record(GO, GLM, "connect")
        await b.record(GO, GLM, "connect")
        clock.now += 31
        assert await b.allow(GO, GLM)
        await b.record(GO, GLM, "connect_timeout")
        assert not await b.allow(GO, GLM)
        clock.now += 29
        assert not await b.allow(GO, GLM)
        clock.now += 2
        assert await b.allow(GO, GLM)

    asyncio.run(run())


def test_neutral_probe_answer_lets_the_next_request_probe() -> None:
    clock = FakeClock()
    b = _breaker(clock, failures=1, cooldown=5)

    async def run() -> None:
        await b.record(GO, GLM, "connect")
        clock.now += 6
        assert await b.allow(GO, GLM)
        await b.record(GO, GLM, "upstream_status", 429)
        assert await b.allow(GO, GLM)

    asyncio.run(run())


def test_unanswered_probe_expires() -> None:
    clock = FakeClock()
    b = _breaker(clock, failures=1, cooldown=5, probe_timeout=60)

    async def run() -> None:
        await b.record(GO, GLM, "connect")
        clock.now += 6
        assert await b.allow(GO, GLM)  # its client hangs up; nothing is ever recorded
        clock.now += 59
        assert not await b.allow(GO, GLM)
        clock.now += 2
        assert await b.allow(GO, GLM)

    asyncio.run(run())


def test_late_failures_of_requests_sent_before_opening_do_not_extend_it() -> None:
    clock = FakeClock()
    b = _breaker(clock, failures=1, cooldown=30)

    async def run() -> None:
        await b.record(GO, GLM, "connect")
        clock.now += 20
        await b.record(GO, GLM, "read_timeout")
        clock.now += 11
        assert await b.allow(GO, GLM)

    asyncio.run(run())


def test_replicas_share_open_breakers_and_one_probe(redis_server: RedisServer) -> None:
    async def run() -> None:
        sa, sb = RedisState.from_url(redis_server.url), RedisState.from_url(redis_server.url)
        a = Breaker(sa, BreakerSettings(failures=1, cooldown=0.3))
        b = Breaker(sb, BreakerSettings(failures=1, cooldown=0.3))
        try:
            await a.record(GO, GLM, "upstream_status", 503)
            assert await b.allow(GO, GLM)  # not refreshed yet
            await b.refresh()
            assert not await b.allow(GO, GLM)
            await asyncio.sleep(0.35)
            winners = [await a.allow(GO, GLM), await b.allow(GO, GLM)]
            assert winners == [True, False]
            await a.record(GO, GLM, None, 200)
            await b.refresh()
            assert await b.allow(GO, GLM)
        finally:
            await sa.close()
            await sb.close()

    asyncio.run(run())


def test_synchronous_hooks_follow_the_same_rules_and_write_behind() -> None:
    clock = FakeClock()
    state = MemoryState(clock)
    b = Breaker(state, BreakerSettings(failures=2, cooldown=10), clock)

    async def run() -> None:
        b.observe(GO, GLM, "upstream_status", 500)
        assert b.usable(GO, GLM)
        b.observe(GO, GLM, FailureKind.READ_TIMEOUT)
        assert not b.usable(GO, GLM)
        await b.writer.flush()
        assert await state.open_breakers() == {b.scope(GO, GLM): clock.now + 10}
        clock.now += 10
        assert b.usable(GO, GLM)  # the probe
        assert not b.usable(GO, GLM)
        b.observe(GO, GLM, None, 200)
        assert b.usable(GO, GLM)
        await b.writer.flush()
        assert await state.open_breakers() == {}

    asyncio.run(run())
