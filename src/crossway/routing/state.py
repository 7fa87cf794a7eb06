"""Shared routing state: key cooldowns, open circuit breakers, probe leases, learned dialects and
conversation stickiness (conversation -> key, conversation -> model), behind one async interface.

Two implementations:

- `MemoryState`: this process only; the default.
- `RedisState` (`CROSSWAY_REDIS_URL`): several crossway processes share one Redis, so a key one
  replica saw rate-limited is skipped by all of them. It keeps a `MemoryState` mirror of every
  write and of every successful read. When Redis cannot be reached it logs that once, serves
  from the mirror, retries Redis at most once per `retry_interval`, and on its return copies
  back what was written meanwhile and logs the recovery once.

Why it stays off the hot path: the key pool and the breaker (keypool.py, breaker.py) decide from
their own in-process tables; they write here only when something fails (a 429, an open breaker)
and pull other replicas' decisions in with one `cooldowns()` / `open_breakers()` call per
refresh (`refresh_forever`), not per request. Only stickiness lookups for a conversation this
process has not seen yet, and probe leases, go to Redis inline.

Times are wall-clock epoch seconds (from an injectable clock) because they are compared across
processes. Values are plain strings so every record is readable with `redis-cli`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from crossway.errors import ConfigError

log = logging.getLogger("crossway.routing.state")

Clock = Callable[[], float]
T = TypeVar("T")

COOLDOWNS = "cooldowns"
BREAKERS = "breakers"
DIALECTS = "dialects"
_HASHES = (COOLDOWNS, BREAKERS, DIALECTS)
# Hash entries that expired this long ago are deleted when read (Redis 7.0 has no per-field
# TTL); younger expired ones are only skipped, so a clock skew between replicas does no harm.
_PRUNE_AFTER = 3600.0
_STICKY_SWEEP_AT = 50_000  # in-memory sticky entries before expired ones are swept


@dataclass(frozen=True, slots=True)
class Cooldown:
    """A key (or any scope) is not to be used before `until` (epoch seconds)."""

    until: float
    reason: str = ""

    def encode(self) -> str:
        return f"{self.until:.3f}|{self.reason}"

    @staticmethod
    def decode(raw: str) -> Cooldown | None:
        head, _, reason = raw.partition("|")
        try:
            return Cooldown(float(head), reason)
        except ValueError:
            return None


class State(ABC):
    """What routing shares between requests and, with Redis, between processes."""

    @abstractmethod
    async def cooldowns(self) -> dict[str, Cooldown]:
        """Every cooldown still running, by scope (e.g. an instance name)."""

    @abstractmethod
    async def set_cooldown(self, scope: str, cooldown: Cooldown) -> None: ...

    @abstractmethod
    async def clear_cooldown(self, scope: str) -> None: ...

    @abstractmethod
    async def open_breakers(self) -> dict[str, float]:
        """Open breakers by scope -> epoch second at which a probe may be tried."""

    @abstractmethod
    async def open_breaker(self, scope: str, until: float) -> None: ...

    @abstractmethod
    async def close_breaker(self, scope: str) -> None: ...

    @abstractmethod
    async def claim_probe(self, scope: str, ttl: float) -> bool:
        """True for exactly one caller (across processes) until `ttl` seconds pass or
        `release_probe` is called: who sends the one probe to a half-open breaker."""

    @abstractmethod
    async def release_probe(self, scope: str) -> None: ...

    @abstractmethod
    async def learned_dialects(self) -> dict[str, str]: ...

    @abstractmethod
    async def learn_dialect(self, scope: str, dialect: str) -> None: ...

    @abstractmethod
    async def sticky(self, kind: str, session: str) -> str | None:
        """What conversation `session` was last routed to (`kind` = "key", "model", ...)."""

    @abstractmethod
    async def set_sticky(self, kind: str, session: str, value: str, ttl: float) -> None: ...

    async def close(self) -> None:
        return None


class MemoryState(State):
    """In-process state. Also the mirror `RedisState` falls back on."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._hashes: dict[str, dict[str, str]] = {name: {} for name in _HASHES}
        self._expiring: dict[str, tuple[str, float]] = {}  # key -> (value, expires at)

    # -------------------------------------------------- primitives (also used by RedisState)

    def hash_items(self, name: str) -> dict[str, str]:
        return dict(self._hashes[name])

    def hash_set(self, name: str, field: str, value: str | None) -> None:
        if value is None:
            self._hashes[name].pop(field, None)
        else:
            self._hashes[name][field] = value

    def hash_replace(self, name: str, items: Mapping[str, str]) -> None:
        self._hashes[name] = dict(items)

    def get_expiring(self, key: str) -> str | None:
        entry = self._expiring.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._expiring[key]
            return None
        return entry[0]

    def set_expiring(self, key: str, value: str, ttl: float) -> None:
        if len(self._expiring) >= _STICKY_SWEEP_AT:
            now = self.clock()
            self._expiring = {k: v for k, v in self._expiring.items() if v[1] > now}
        self._expiring[key] = (value, self.clock() + ttl)

    def delete_expiring(self, key: str) -> None:
        self._expiring.pop(key, None)

    # -------------------------------------------------- State

    async def cooldowns(self) -> dict[str, Cooldown]:
        return _live_cooldowns(self._hashes[COOLDOWNS], self.clock())[0]

    async def set_cooldown(self, scope: str, cooldown: Cooldown) -> None:
        self.hash_set(COOLDOWNS, scope, cooldown.encode())

    async def clear_cooldown(self, scope: str) -> None:
        self.hash_set(COOLDOWNS, scope, None)

    async def open_breakers(self) -> dict[str, float]:
        return _decode_breakers(self._hashes[BREAKERS])

    async def open_breaker(self, scope: str, until: float) -> None:
        self.hash_set(BREAKERS, scope, f"{until:.3f}")

    async def close_breaker(self, scope: str) -> None:
        self.hash_set(BREAKERS, scope, None)

    async def claim_probe(self, scope: str, ttl: float) -> bool:
        key = "probe:" + scope
        if self.get_expiring(key) is not None:
            return False
        self.set_expiring(key, "1", ttl)
        return True

    async def release_probe(self, scope: str) -> None:
        self.delete_expiring("probe:" + scope)

    async def learned_dialects(self) -> dict[str, str]:
        return self.hash_items(DIALECTS)

    async def learn_dialect(self, scope: str, dialect: str) -> None:
        self.hash_set(DIALECTS, scope, dialect)

    async def sticky(self, kind: str, session: str) -> str | None:
        return self.get_expiring(f"sticky:{kind}:{session}")

    async def set_sticky(self, kind: str, session: str, value: str, ttl: float) -> None:
        self.set_expiring(f"sticky:{kind}:{session}", value, ttl)


def _live_cooldowns(raw: Mapping[str, str], now: float) -> tuple[dict[str, Cooldown], list[str]]:
    """Running cooldowns, and the fields long expired (to prune)."""
    live: dict[str, Cooldown] = {}
    stale: list[str] = []
    for scope, value in raw.items():
        cd = Cooldown.decode(value)
        if cd is None or cd.until + _PRUNE_AFTER < now:
            stale.append(scope)
        elif cd.until > now:
            live[scope] = cd
    return live, stale


def _decode_breakers(raw: Mapping[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for scope, value in raw.items():
        try:
            out[scope] = float(value)
        except ValueError:
            continue  # written by something else; treated as closed
    return out


class _Redis(Protocol):
    """The part of `redis.asyncio.Redis` used here (keeps the client swappable in types)."""

    def hgetall(self, name: str) -> Awaitable[Any]: ...
    def hset(self, name: str, key: str, value: str) -> Awaitable[Any]: ...
    def hget(self, name: str, key: str) -> Awaitable[Any]: ...
    def hdel(self, name: str, *keys: str) -> Awaitable[Any]: ...
    def get(self, name: str) -> Awaitable[Any]: ...
    def set(self, name: str, value: str, *, px: int | None = ..., nx: bool = ...
            ) -> Awaitable[Any]: ...
    def delete(self, *names: str) -> Awaitable[Any]: ...
    def aclose(self) -> Awaitable[None]: ...


def _outage_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


class RedisState(State):
    """Redis as the shared truth, with an in-process mirror for outages (module docstring)."""

    def __init__(
        self,
        client: _Redis,
        *,
        where: str = "redis",
        prefix: str = "crossway:",
        clock: Clock = time.time,
        retry_interval: float = 1.0,
    ) -> None:
        self.client = client
        self.where = where
        self.prefix = prefix
        self.clock = clock
        self.retry_interval = retry_interval
        self.local = MemoryState(clock)
        self.available = True
        self._retry_at = 0.0
        self._recovering = False
        self._dirty_fields: set[tuple[str, str]] = set()
        self._dirty_keys: dict[str, float] = {}  # expiring key -> ttl at the time of writing
        self._outage = _outage_errors()

    @classmethod
    def from_url(cls, url: str, *, clock: Clock = time.time,
                 retry_interval: float = 1.0, timeout: float = 0.5) -> RedisState:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # No client-side retries: an outage must fall back to memory at once, not after
        # the client's own backoff (seconds) on every call.
        client = Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout,
            socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
            health_check_interval=0)
        return cls(client, where=redact_url(url), clock=clock, retry_interval=retry_interval)

    # -------------------------------------------------- outage handling

    async def _shared(self, remote: Callable[[], Awaitable[T]], fallback: Callable[[], T]) -> T:
        if not self.available and (
                self._recovering or self.clock() < self._retry_at
                or not await self._recover()):
            return fallback()
        try:
            return await remote()
        except self._outage as exc:
            self._mark_down(exc)
            return fallback()

    def _mark_down(self, exc: BaseException) -> None:
        self._retry_at = self.clock() + self.retry_interval
        if self.available:
            self.available = False
            log.warning(
                "shared state: Redis at %s is unreachable (%s); serving cooldowns, breakers "
                "and stickiness from this process's memory until it returns",
                self.where, exc or type(exc).__name__)

    async def _recover(self) -> bool:
        """Catch Redis up before using it again (a read first would overwrite the mirror
        with a Redis that may have come back empty)."""
        self._recovering = True  # concurrent requests keep using memory meanwhile
        try:
            copied = await self._replay()
        except self._outage as exc:
            self._retry_at = self.clock() + self.retry_interval
            log.debug("shared state: Redis at %s still unreachable: %s", self.where, exc)
            return False
        finally:
            self._recovering = False
        self.available = True
        log.warning("shared state: Redis at %s is reachable again; %d entries written "
                    "meanwhile copied to it", self.where, copied)
        return True

    async def _replay(self) -> int:
        """Copy this process's view back: what it wrote during the outage, and everything it
        still holds (a Redis restarted without persistence comes back empty). For cooldowns
        and breakers the later deadline wins, so nothing another replica decided meanwhile is
        shortened."""
        copied = 0
        for name in _HASHES:
            key = self.prefix + name
            mine = self.local.hash_items(name)
            for field in sorted(f for n, f in self._dirty_fields if n == name and f not in mine):
                await self.client.hdel(key, field)
                copied += 1
            for field, value in sorted(mine.items()):
                if name == COOLDOWNS and _deadline(value) <= self.clock():
                    continue
                theirs = await self.client.hget(key, field)
                if theirs is None or (name != DIALECTS and _deadline(value) > _deadline(theirs)):
                    await self.client.hset(key, field, value)
                    copied += 1
        for key, ttl in sorted(self._dirty_keys.items()):
            sticky = self.local.get_expiring(key)
            if sticky is not None:
                await self.client.set(self.prefix + key, sticky, px=_ms(ttl))
                copied += 1
        self._dirty_fields.clear()
        self._dirty_keys.clear()
        return copied

    async def _write_field(self, name: str, field: str, value: str | None) -> None:
        self.local.hash_set(name, field, value)

        async def remote() -> None:
            if value is None:
                await self.client.hdel(self.prefix + name, field)
            else:
                await self.client.hset(self.prefix + name, field, value)

        await self._shared(remote, lambda: self._dirty_fields.add((name, field)))

    async def _read_hash(self, name: str) -> dict[str, str]:
        async def remote() -> dict[str, str]:
            raw = await self.client.hgetall(self.prefix + name)
            items = {str(k): str(v) for k, v in raw.items()}
            # Writes made here during an outage are not in Redis until replayed.
            for dirty_name, field in self._dirty_fields:
                if dirty_name == name:
                    mine = self.local.hash_items(name).get(field)
                    if mine is not None:
                        items[field] = mine
            self.local.hash_replace(name, items)
            return items

        return await self._shared(remote, lambda: self.local.hash_items(name))

    # -------------------------------------------------- State

    async def cooldowns(self) -> dict[str, Cooldown]:
        raw = await self._read_hash(COOLDOWNS)
        live, stale = _live_cooldowns(raw, self.clock())
        if stale and self.available:
            await self._shared(lambda: self.client.hdel(self.prefix + COOLDOWNS, *stale),
                               lambda: None)
        return live

    async def set_cooldown(self, scope: str, cooldown: Cooldown) -> None:
        await self._write_field(COOLDOWNS, scope, cooldown.encode())

    async def clear_cooldown(self, scope: str) -> None:
        await self._write_field(COOLDOWNS, scope, None)

    async def open_breakers(self) -> dict[str, float]:
        return _decode_breakers(await self._read_hash(BREAKERS))

    async def open_breaker(self, scope: str, until: float) -> None:
        await self._write_field(BREAKERS, scope, f"{until:.3f}")

    async def close_breaker(self, scope: str) -> None:
        await self._write_field(BREAKERS, scope, None)

    async def claim_probe(self, scope: str, ttl: float) -> bool:
        key = "probe:" + scope

        async def remote() -> bool:
            won = bool(await self.client.set(self.prefix + key, "1", px=_ms(ttl), nx=True))
            if won:
                self.local.set_expiring(key, "1", ttl)
            return won

        def fallback() -> bool:
            if self.local.get_expiring(key) is not None:
                return False
            self.local.set_expiring(key, "1", ttl)
            return True

        return await self._shared(remote, fallback)

    async def release_probe(self, scope: str) -> None:
        key = "probe:" + scope
        self.local.delete_expiring(key)
        await self._shared(lambda: self.client.delete(self.prefix + key), lambda: None)

    async def learned_dialects(self) -> dict[str, str]:
        return await self._read_hash(DIALECTS)

    async def learn_dialect(self, scope: str, dialect: str) -> None:
        await self._write_field(DIALECTS, scope, dialect)

    async def sticky(self, kind: str, session: str) -> str | None:
        key = f"sticky:{kind}:{session}"

        async def remote() -> str | None:
            value = await self.client.get(self.prefix + key)
            return None if value is None else str(value)

        return await self._shared(remote, lambda: self.local.get_expiring(key))

    async def set_sticky(self, kind: str, session: str, value: str, ttl: float) -> None:
        key = f"sticky:{kind}:{session}"
        self.local.set_expiring(key, value, ttl)

        async def remote() -> None:
            await self.client.set(self.prefix + key, value, px=_ms(ttl))

        def fallback() -> None:
            self._dirty_keys[key] = ttl

        await self._shared(remote, fallback)

    async def close(self) -> None:
        await self.client.aclose()


def _deadline(raw: str) -> float:
    try:
        return float(raw.partition("|")[0])
    except ValueError:
        return 0.0


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


_CREDENTIALS = re.compile(r"//[^@/]*@")


def redact_url(url: str) -> str:
    """The URL without its user/password part, for log lines."""
    return _CREDENTIALS.sub("//***@", url)


def state_from_env(env: Mapping[str, str], *, clock: Clock = time.time) -> State:
    """`RedisState` when `CROSSWAY_REDIS_URL` is set, else `MemoryState`."""
    url = (env.get("CROSSWAY_REDIS_URL") or "").strip()
    if not url:
        return MemoryState(clock)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"CROSSWAY_REDIS_URL must start with redis://, rediss:// or unix:// "
            f"(got {redact_url(url)!r})")
    return RedisState.from_url(url, clock=clock)


class WriteBehind:
    """Shared-state writes issued by synchronous decision code (the relay's Health hooks are
    plain functions), run in the background in the order issued, one at a time, by a task
    started on demand. Must be used from within the running event loop."""

    def __init__(self) -> None:
        self._queue: deque[Callable[[], Awaitable[object]]] = deque()
        self._worker: asyncio.Task[None] | None = None

    def submit(self, op: Callable[[], Awaitable[object]]) -> None:
        self._queue.append(op)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._queue:
            op = self._queue.popleft()
            try:
                await op()
            except Exception:
                # The states handle Redis outages themselves; anything else is a bug to see.
                log.exception("shared state: a background write failed")

    async def flush(self) -> None:
        """Wait until every submitted write ran (tests, shutdown)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)


class Refreshable(Protocol):
    async def refresh(self) -> None: ...


async def refresh_forever(parts: Sequence[Refreshable], interval: float = 1.0) -> None:
    """Pull other replicas' decisions into each part's in-process table every `interval`
    seconds; run it as one background task next to the server, cancel it at shutdown."""
    while True:
        for part in parts:
            try:
                await part.refresh()
            except Exception:
                # One bad refresh must not end the task: decisions would freeze for good.
                log.exception("shared state: refreshing %s failed", type(part).__name__)
        await asyncio.sleep(interval)
