"""routing/keypool.py: conversation stickiness, 429 cooldowns (Go usage windows included),
keys refused by the upstream, an exhausted pool answering at once, and two replicas sharing
cooldowns through a real Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from email.utils import formatdate

import pytest

from crossway.config.settings import KeySpec
from crossway.routing.keypool import (
    DEFAULT_COOLDOWN,
    KeyPool,
    KeysCooling,
    KeysRevoked,
    cooldown_seconds,
    limit_name,
    parse_retry_after,
    rendezvous_weight,
)
from crossway.routing.state import MemoryState, RedisState
from tests.routing.conftest import RedisServer
from tests.routing.test_state import FakeClock

SECRET = "sk-live-abcdefghijklmnop"


@dataclass(frozen=True)
class Key:
    name: str
    key: KeySpec


def _keys(n: int) -> list[Key]:
    return [Key(f"opencode-go.{i}", KeySpec(f"{SECRET}{i}", f"OPENCODE_GO_API_KEY_{i}", i))
            for i in range(1, n + 1)]


def _pool(n: int, clock: FakeClock) -> KeyPool[Key]:
    return KeyPool("opencode-go", _keys(n), MemoryState(clock), clock)


def _home(session: str, keys: list[Key]) -> Key:
    return max(keys, key=lambda k: rendezvous_weight(session, k.name))


# ------------------------------------------------------------------ pure helpers


def test_parse_retry_after() -> None:
    now = time.time()
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after(30, now) == 30.0
    assert parse_retry_after("-5", now) == 0.0
    in_an_hour = parse_retry_after(formatdate(now + 3600, usegmt=True), now)
    assert in_an_hour is not None and 3590 < in_an_hour <= 3600
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_limit_name_from_go_usage_limit_bodies() -> None:
    body = (b'{"type":"error","error":{"type":"GoUsageLimitError","message":"5 hour limit",'
            b'"metadata":{"workspace":"wrk_1","limitName":"5 hour"}}}')
    assert limit_name(body) == "5 hour"
    assert limit_name({"type": "error", "error": {"type": "GoUsageLimitError"},
                       "metadata": {"limitName": "weekly"}}) == "weekly"
    assert limit_name(b"<html>429</html>") is None
    assert limit_name(b'{"error":{"type":"RateLimitError"}}') is None
    assert limit_name(None) is None


def test_cooldown_seconds() -> None:
    now = time.time()
    assert cooldown_seconds("3600", "5 hour", now) == 3600  # retry-after wins
    assert cooldown_seconds(None, "5 hour", now) == 1800
    assert cooldown_seconds(None, "weekly", now) == 6 * 3600
    assert cooldown_seconds(None, "monthly", now) == 24 * 3600
    assert cooldown_seconds(None, None, now) == DEFAULT_COOLDOWN
    assert cooldown_seconds("0", None, now) == 1.0  # never zero: that would retry at once


# ------------------------------------------------------------------ stickiness


def test_conversations_keep_their_rendezvous_key() -> None:
    clock = FakeClock()
    pool = _pool(3, clock)
    keys = list(pool.members)

    async def run() -> None:
        used = set()
        for i in range(60):
            session = f"ses_{i:04d}"
            first = await pool.pick(session)
            assert first is _home(session, keys)  # the key routing/plan.py picks today
            assert await pool.pick(session) is first
            used.add(first.name)
        assert used == {k.name for k in keys}  # conversations spread over the keys

    asyncio.run(run())


def test_rate_limited_key_moves_its_conversations_and_they_stay_moved(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.routing.keypool")
    clock = FakeClock()
    pool = _pool(3, clock)
    keys = list(pool.members)
    session = "ses_a"
    home = _home(session, keys)
    other_session = next(s for s in (f"ses_{i}" for i in range(100))
                         if _home(s, keys) is not home)

    async def run() -> None:
        await pool.rate_limited(home, retry_after="60", error_class="RateLimitError")
        moved = await pool.pick(session)
        assert moved is not None and moved is not home
        assert await pool.pick(other_session) is _home(other_session, keys)
        for _ in range(50):
            clock.now += 1
            assert await pool.pick(session) is moved  # never back within retry-after
        clock.now += 11
        assert pool.usable(home)
        # The conversation's cache is warm on the new key now: it stays there.
        assert await pool.pick(session) is moved

    asyncio.run(run())
    text = caplog.text
    assert "OPENCODE_GO_API_KEY_" in text and SECRET not in text


def test_go_five_hour_limit_is_not_retried_every_request() -> None:
    clock = FakeClock()
    pool = _pool(2, clock)
    a, b = pool.members

    async def run() -> None:
        await pool.rate_limited(a, window="5 hour", error_class="GoUsageLimitError")
        for _ in range(29):
            clock.now += 60
            for i in range(10):
                assert await pool.pick(f"ses_{i}") is b
        assert pool.status()[a.name].startswith("cooling (GoUsageLimitError: 5 hour")
        clock.now += 61
        assert pool.usable(a)

    asyncio.run(run())


def test_every_key_cooling_answers_429_with_the_earliest_retry_after() -> None:
    clock = FakeClock()
    pool = _pool(2, clock)
    a, b = pool.members

    async def run() -> None:
        await pool.rate_limited(a, retry_after="7200", window="5 hour",
                                error_class="GoUsageLimitError")
        await pool.rate_limited(b, retry_after="900", window="5 hour",
                                error_class="GoUsageLimitError")
        with pytest.raises(KeysCooling) as caught:
            await pool.pick("ses_x")
        err = caught.value
        assert err.status == 429
        assert err.headers["retry-after"] == "900"
        assert err.retry_after == 900
        assert err.should_retry is False
        assert "every API key of backend opencode-go is rate-limited" in err.message
        assert "15 min" in err.message
        assert pool.retry_after() == 900
        clock.now += 901
        assert await pool.pick("ses_x") is b
        assert pool.retry_after() is None

    asyncio.run(run())


def test_a_shorter_429_does_not_shorten_a_running_window() -> None:
    clock = FakeClock()
    pool = _pool(2, clock)
    a = pool.members[0]

    async def run() -> None:
        long = await pool.rate_limited(a, retry_after="3600")
        assert await pool.rate_limited(a, retry_after="5") == long

    asyncio.run(run())


def test_short_cooling_pool_lets_sdks_retry() -> None:
    clock = FakeClock()
    pool = _pool(1, clock)

    async def run() -> None:
        await pool.rate_limited(pool.members[0], retry_after="3")
        with pytest.raises(KeysCooling) as caught:
            await pool.pick("ses_x")
        assert caught.value.should_retry is None
        assert caught.value.headers["retry-after"] == "3"

    asyncio.run(run())


def test_rejected_key_is_out_until_reload_and_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.routing.keypool")
    clock = FakeClock()
    pool = _pool(2, clock)
    a, b = pool.members

    async def run() -> None:
        for _ in range(3):
            pool.auth_failed(a)
        for i in range(20):
            clock.now += 86400
            assert await pool.pick(f"ses_{i}") is b
        pool.auth_failed(b)
        with pytest.raises(KeysRevoked) as caught:
            await pool.pick("ses_0")
        assert caught.value.status == 503
        assert "OPENCODE_GO_API_KEY_1, OPENCODE_GO_API_KEY_2" in caught.value.message
        # A new pool (config reload) uses the key again.
        fresh = KeyPool("opencode-go", list(pool.members), MemoryState(clock), clock)
        assert await fresh.pick("ses_0") is not None

    asyncio.run(run())
    rejected = [r for r in caplog.records if "rejected the API key" in r.getMessage()]
    assert [r.getMessage().count("OPENCODE_GO_API_KEY_1") for r in rejected] == [1, 0]
    assert len(rejected) == 2  # once per key, however often it fails
    assert SECRET not in caplog.text


def test_exclude_tries_the_other_keys_then_gives_up() -> None:
    clock = FakeClock()
    pool = _pool(3, clock)

    async def run() -> None:
        tried: set[str] = set()
        for _ in range(3):
            key = await pool.pick("ses_a", exclude=tried)
            assert key is not None and key.name not in tried
            tried.add(key.name)
        assert await pool.pick("ses_a", exclude=tried) is None

    asyncio.run(run())


def test_cooling_wins_over_exclusion() -> None:
    clock = FakeClock()
    pool = _pool(2, clock)
    a, b = pool.members

    async def run() -> None:
        await pool.rate_limited(a, retry_after="40")
        await pool.rate_limited(b, retry_after="20")
        with pytest.raises(KeysCooling) as caught:
            await pool.pick("ses_a", exclude={a.name})
        assert caught.value.retry_after == 20

    asyncio.run(run())


# ------------------------------------------------------------------ shared through Redis


def test_two_replicas_honour_each_others_cooldowns(redis_server: RedisServer) -> None:
    async def run() -> None:
        sa, sb = RedisState.from_url(redis_server.url), RedisState.from_url(redis_server.url)
        keys = _keys(2)
        a = KeyPool("opencode-go", keys, sa)
        b = KeyPool("opencode-go", keys, sb)
        try:
            session = "ses_shared"
            home = _home(session, keys)
            assert await b.pick(session) is home
            await a.rate_limited(home, retry_after="3600", window="5 hour",
                                 error_class="GoUsageLimitError")
            moved = await a.pick(session)
            await b.refresh()
            assert not b.usable(home)
            assert await b.pick(session) is moved
            # A conversation replica B has never seen lands where A moved it.
            fresh = KeyPool("opencode-go", keys, sb)
            assert await fresh.pick(session) is moved
        finally:
            await sa.close()
            await sb.close()

    asyncio.run(run())


def test_a_pool_needs_keys() -> None:
    with pytest.raises(ValueError, match="backend opencode-go: a key pool needs at least one"):
        KeyPool("opencode-go", [], MemoryState())


def test_synchronous_twins_decide_alike_and_write_behind() -> None:
    clock = FakeClock()
    state = MemoryState(clock)
    pool = KeyPool("opencode-go", _keys(3), state, clock)
    keys = list(pool.members)
    session = "ses_sync"
    home = _home(session, keys)

    async def run() -> None:
        assert pool.choose(session) is home
        cd = pool.limited(home, window="5 hour", error_class="GoUsageLimitError")
        moved = pool.choose(session)
        assert moved is not None and moved is not home
        assert pool.choose(session) is moved
        await pool.writer.flush()
        assert await state.cooldowns() == {home.name: cd}
        assert await state.sticky("key", f"opencode-go:{session}") == moved.name
        others = {k.name for k in keys} - {home.name, moved.name}
        assert pool.choose(session, exclude={moved.name}).name in others  # type: ignore[union-attr]

    asyncio.run(run())


def test_choose_learns_another_replicas_move_for_the_next_request(
        redis_server: RedisServer) -> None:
    async def run() -> None:
        sa, sb = RedisState.from_url(redis_server.url), RedisState.from_url(redis_server.url)
        keys = _keys(2)
        try:
            session = "ses_moved_elsewhere"
            home = _home(session, keys)
            a = KeyPool("opencode-go", keys, sa)
            await a.rate_limited(home, retry_after="1")
            moved = await a.pick(session)
            await asyncio.sleep(1.05)  # the cooldown is over: home is usable again
            b = KeyPool("opencode-go", keys, sb)
            assert b.choose(session) is home  # not known here yet: its home key
            await b.writer.flush()
            assert b.choose(session) is moved  # the shared record, fetched behind
        finally:
            await sa.close()
            await sb.close()

    asyncio.run(run())
