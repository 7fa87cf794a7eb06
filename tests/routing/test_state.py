"""routing/state.py: the in-process state, and the Redis state against a real redis-server
(two processes' worth of clients on one Redis, Redis killed and restarted mid-run)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from crossway.errors import ConfigError
from crossway.routing.state import (
    Cooldown,
    MemoryState,
    RedisState,
    redact_url,
    state_from_env,
)
from tests.routing.conftest import RedisServer


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ in-process


def test_memory_cooldowns_expire_with_the_clock() -> None:
    clock = FakeClock()
    state = MemoryState(clock)

    async def run() -> None:
        await state.set_cooldown("opencode-go.1", Cooldown(clock.now + 30, "429"))
        await state.set_cooldown("opencode-go.2", Cooldown(clock.now + 3600, "5 hour"))
        assert set(await state.cooldowns()) == {"opencode-go.1", "opencode-go.2"}
        clock.now += 31
        assert await state.cooldowns() == {
            "opencode-go.2": Cooldown(clock.now - 31 + 3600, "5 hour")}
        await state.clear_cooldown("opencode-go.2")
        assert await state.cooldowns() == {}

    asyncio.run(run())


def test_memory_probe_is_claimed_once_until_released_or_expired() -> None:
    clock = FakeClock()
    state = MemoryState(clock)

    async def run() -> None:
        assert await state.claim_probe("go:glm-5.1", ttl=10)
        assert not await state.claim_probe("go:glm-5.1", ttl=10)
        assert await state.claim_probe("go:kimi-k3", ttl=10)  # scopes are independent
        await state.release_probe("go:glm-5.1")
        assert await state.claim_probe("go:glm-5.1", ttl=10)
        clock.now += 11
        assert await state.claim_probe("go:glm-5.1", ttl=10)

    asyncio.run(run())


def test_memory_sticky_breakers_and_dialects() -> None:
    clock = FakeClock()
    state = MemoryState(clock)

    async def run() -> None:
        await state.set_sticky("key", "ses_a", "opencode-go.2", ttl=60)
        assert await state.sticky("key", "ses_a") == "opencode-go.2"
        assert await state.sticky("model", "ses_a") is None
        clock.now += 61
        assert await state.sticky("key", "ses_a") is None

        await state.open_breaker("go:glm-5.1", clock.now + 30)
        assert await state.open_breakers() == {"go:glm-5.1": clock.now + 30}
        await state.close_breaker("go:glm-5.1")
        assert await state.open_breakers() == {}

        await state.learn_dialect("opencode-go/qwen3.9-max", "anthropic")
        assert await state.learned_dialects() == {"opencode-go/qwen3.9-max": "anthropic"}

    asyncio.run(run())


def test_cooldown_encoding_round_trips_and_rejects_garbage() -> None:
    cd = Cooldown(1234.5, "GoUsageLimitError: 5 hour|x")
    assert Cooldown.decode(cd.encode()) == cd
    assert Cooldown.decode("soon|429") is None


def test_state_from_env() -> None:
    assert isinstance(state_from_env({}), MemoryState)
    assert isinstance(state_from_env({"CROSSWAY_REDIS_URL": " "}), MemoryState)
    with pytest.raises(ConfigError, match="CROSSWAY_REDIS_URL must start with redis://"):
        state_from_env({"CROSSWAY_REDIS_URL": "http://user:secret@host:6379"})
    try:
        state_from_env({"CROSSWAY_REDIS_URL": "http://user:secret@host:6379"})
    except ConfigError as exc:
        assert "secret" not in str(exc)
    assert isinstance(state_from_env({"CROSSWAY_REDIS_URL": "redis://127.0.0.1:1/0"}),
                      RedisState)


def test_redact_url_hides_credentials() -> None:
    assert redact_url("redis://:pw@10.0.0.1:6379/0") == "redis://***@10.0.0.1:6379/0"
    assert redact_url("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"


# ------------------------------------------------------------------ Redis


def _outage_logs(caplog: pytest.LogCaptureFixture, word: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "crossway.routing.state" and word in r.getMessage()]


def test_two_states_on_one_redis_honour_each_others_cooldowns(
        redis_server: RedisServer) -> None:
    async def run() -> None:
        a = RedisState.from_url(redis_server.url)
        b = RedisState.from_url(redis_server.url)
        try:
            until = time.time() + 3600
            await a.set_cooldown("opencode-go.1", Cooldown(until, "GoUsageLimitError: 5 hour"))
            seen = await b.cooldowns()
            assert seen == {"opencode-go.1": Cooldown(round(until, 3),
                                                      "GoUsageLimitError: 5 hour")}
            await b.clear_cooldown("opencode-go.1")
            assert await a.cooldowns() == {}

            await a.open_breaker("opencode-go:glm-5.1", until)
            assert set(await b.open_breakers()) == {"opencode-go:glm-5.1"}
            assert await a.claim_probe("opencode-go:glm-5.1", ttl=30)
            assert not await b.claim_probe("opencode-go:glm-5.1", ttl=30)
            await a.release_probe("opencode-go:glm-5.1")
            assert await b.claim_probe("opencode-go:glm-5.1", ttl=30)

            await a.set_sticky("key", "ses_1", "opencode-go.2", ttl=60)
            assert await b.sticky("key", "ses_1") == "opencode-go.2"
            await b.learn_dialect("opencode-go/qwen3.9-max", "anthropic")
            assert await a.learned_dialects() == {"opencode-go/qwen3.9-max": "anthropic"}
            assert a.available and b.available
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_redis_lost_mid_run_serves_from_memory_and_logs_once(
        redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.routing.state")

    async def run() -> None:
        state = RedisState.from_url(redis_server.url, retry_interval=0.05)
        try:
            until = time.time() + 3600
            await state.set_cooldown("opencode-go.1", Cooldown(until, "429"))
            await state.set_sticky("model", "ses_1", "opencode-go/glm-5.1", ttl=600)
            redis_server.stop()

            started = time.monotonic()
            for i in range(20):
                assert len(await state.cooldowns()) == i + 1
                await state.set_cooldown(f"opencode-go.{i + 2}", Cooldown(until, "429"))
                assert await state.sticky("model", "ses_1") == "opencode-go/glm-5.1"
                assert await state.claim_probe(f"scope-{i}", ttl=30)
                await asyncio.sleep(0.01)
            assert time.monotonic() - started < 5  # no client-side retry loops
            assert not state.available
            assert len(await state.cooldowns()) == 21
            assert len(_outage_logs(caplog, "unreachable")) == 1
        finally:
            await state.close()

    asyncio.run(run())


def test_redis_back_recovers_and_copies_outage_writes(
        redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.routing.state")

    async def run() -> None:
        a = RedisState.from_url(redis_server.url, retry_interval=0.05)
        b = RedisState.from_url(redis_server.url, retry_interval=0.05)
        try:
            until = time.time() + 3600
            await a.set_cooldown("opencode-go.1", Cooldown(until, "before"))
            redis_server.stop()
            await a.set_cooldown("opencode-go.2", Cooldown(until, "during"))
            await a.set_sticky("key", "ses_9", "opencode-go.2", ttl=600)
            assert not a.available

            redis_server.start()  # same port, empty: no persistence
            await asyncio.sleep(0.06)
            assert set(await a.cooldowns()) == {"opencode-go.1", "opencode-go.2"}
            assert a.available
            # The other replica now sees both: the one written during the outage and the
            # one the restarted (empty) Redis had lost.
            assert set(await b.cooldowns()) == {"opencode-go.1", "opencode-go.2"}
            assert await b.sticky("key", "ses_9") == "opencode-go.2"
            assert len(_outage_logs(caplog, "unreachable")) == 1
            assert len(_outage_logs(caplog, "reachable again")) == 1
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())


def test_redis_down_from_the_start_falls_back(
        redis_binary: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.routing.state")

    async def run() -> None:
        from tests.routing.conftest import _free_port

        state = RedisState.from_url(f"redis://:hunter2@127.0.0.1:{_free_port()}/0")
        try:
            await state.learn_dialect("opencode-go/x", "anthropic")
            assert await state.learned_dialects() == {"opencode-go/x": "anthropic"}
            assert not state.available
        finally:
            await state.close()
        logs = _outage_logs(caplog, "unreachable")
        assert len(logs) == 1
        assert "hunter2" not in logs[0].getMessage()

    asyncio.run(run())


def test_concurrent_requests_during_recovery_log_it_once(
        redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.routing.state")

    async def run() -> None:
        state = RedisState.from_url(redis_server.url, retry_interval=0.05)
        try:
            redis_server.stop()
            await state.set_cooldown("k", Cooldown(time.time() + 600, "429"))
            redis_server.start()
            await asyncio.sleep(0.06)
            results = await asyncio.gather(*(state.cooldowns() for _ in range(50)))
            assert all(set(r) == {"k"} for r in results)
            assert state.available
        finally:
            await state.close()
        assert len(_outage_logs(caplog, "reachable again")) == 1

    asyncio.run(run())


_OTHER_PROCESS = """
import asyncio, sys
from crossway.config.settings import KeySpec
from crossway.routing.keypool import KeyPool
from crossway.routing.state import RedisState

class Key:
    def __init__(self, name, source):
        self.name, self.key = name, KeySpec("sk-x", source)

async def main():
    state = RedisState.from_url(sys.argv[1])
    pool = KeyPool("opencode-go", [Key("opencode-go.1", "K1"), Key("opencode-go.2", "K2")],
                   state)
    await pool.rate_limited(pool.members[0], retry_after="3600", window="5 hour",
                            error_class="GoUsageLimitError")
    await state.close()
    print("ok", flush=True)

asyncio.run(main())
"""


def test_a_cooldown_set_by_another_process_is_honoured(redis_server: RedisServer) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _OTHER_PROCESS, redis_server.url],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr

    async def run() -> None:
        state = RedisState.from_url(redis_server.url)
        try:
            seen = await state.cooldowns()
            assert set(seen) == {"opencode-go.1"}
            assert seen["opencode-go.1"].reason == "GoUsageLimitError: 5 hour"
            assert 3500 < seen["opencode-go.1"].until - time.time() <= 3600
        finally:
            await state.close()

    asyncio.run(run())


def test_long_expired_cooldowns_are_pruned_from_redis(redis_server: RedisServer) -> None:
    clock = FakeClock(time.time())

    async def run() -> None:
        state = RedisState.from_url(redis_server.url, clock=clock)
        try:
            await state.set_cooldown("old", Cooldown(clock.now + 10, "429"))
            await state.set_cooldown("new", Cooldown(clock.now + 7200, "5 hour"))
            clock.now += 20
            assert set(await state.cooldowns()) == {"new"}
            assert set(await state.client.hgetall("crossway:cooldowns")) == {"old", "new"}
            clock.now += 3600
            assert set(await state.cooldowns()) == {"new"}
            assert set(await state.client.hgetall("crossway:cooldowns")) == {"new"}
        finally:
            await state.close()

    asyncio.run(run())


def test_refresh_forever_survives_a_failing_part(caplog: pytest.LogCaptureFixture) -> None:
    from crossway.routing.state import refresh_forever

    class Part:
        def __init__(self, fail: bool) -> None:
            self.calls = 0
            self.fail = fail

        async def refresh(self) -> None:
            self.calls += 1
            if self.fail and self.calls == 1:
                raise RuntimeError("boom")

    async def run() -> tuple[Part, Part]:
        bad, good = Part(True), Part(False)
        task = asyncio.create_task(refresh_forever([bad, good], interval=0.01))
        await asyncio.sleep(0.08)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return bad, good

    bad, good = asyncio.run(run())
    assert bad.calls >= 3 and good.calls >= 3
    assert "refreshing Part failed" in caplog.text


def test_write_behind_runs_in_order_and_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    from crossway.routing.state import WriteBehind

    async def run() -> list[str]:
        done: list[str] = []
        writer = WriteBehind()

        async def op(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            done.append(name)

        async def broken() -> None:
            raise RuntimeError("bug")

        writer.submit(lambda: op("open", 0.02))
        writer.submit(broken)
        writer.submit(lambda: op("close", 0.0))
        assert done == []  # nothing ran inline
        await writer.flush()
        writer.submit(lambda: op("again", 0.0))
        await writer.flush()
        return done

    assert asyncio.run(run()) == ["open", "close", "again"]
    assert "a background write failed" in caplog.text
