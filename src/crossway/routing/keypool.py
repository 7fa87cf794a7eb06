"""The API keys of one backend as one pool: which key a request uses, and which keys rest.

- Stickiness: a conversation keeps one key (rendezvous hashing over the backend's keys, as
  routing/plan.py does), so the upstream's prompt cache for it keeps hitting. When its key is
  unusable the conversation moves to the next key in its own rendezvous order and stays there
  (remembered per conversation in the shared state), so the new key's cache keeps hitting too.
- A key that answered 429 cools down until its `retry-after`. OpenCode Go's
  `GoUsageLimitError` names the spent window in `metadata.limitName` ("5 hour", "weekly",
  "monthly"); without a `retry-after` such a key is re-tried once per window-sized interval
  (`WINDOW_RECHECK`), never on every request.
- A key the upstream refused (OpenCode `AuthError`) is out until crossway restarts or reloads
  its configuration (a new pool); that is logged once, naming the variable it came from,
  never the key.
- When no key is usable, `pick` raises `KeysCooling` (a 429 carrying the earliest
  `retry-after` of the pool) or `KeysRevoked` (a 503 naming the variables), without any
  upstream call.

Hot path: the pool decides from in-process tables. Cooldowns are written to the shared state
when a key is limited and pulled from it by `refresh()` on an interval; the conversation's
remembered key is looked up in the shared state once per conversation per process (then
cached here), and written only when a conversation moves. `pick` / `rate_limited` await those
reads and writes; `choose` / `limited` are their synchronous twins for synchronous routing
code, with the reads and writes run behind (state.WriteBehind).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import orjson

from crossway.errors import RateLimited, ServiceUnavailable
from crossway.routing.state import Clock, Cooldown, State, WriteBehind
from crossway.transport.base import retry_after_seconds as parse_retry_after

log = logging.getLogger("crossway.routing.keypool")

# Re-check intervals for a usage window that answered without a retry-after: the window is
# rolling (Go's 5-hour limit) or calendar-based, and we cannot see when it frees, so one
# request per interval finds out; the others go to other keys or get a 429 at once.
WINDOW_RECHECK: Mapping[str, float] = {
    "hour": 30 * 60.0,
    "day": 2 * 3600.0,
    "week": 6 * 3600.0,
    "month": 24 * 3600.0,
}
DEFAULT_COOLDOWN = 30.0  # a 429 without retry-after nor window name (per-minute limits)
MAX_COOLDOWN = 31 * 24 * 3600.0
STICKY_TTL = 7 * 24 * 3600.0  # how long a moved conversation remembers its key
_STICKY_CACHE = 20_000  # conversations whose key this process remembers locally
_HOME = ""  # cache value: the conversation uses its rendezvous (home) key


class _Source(Protocol):
    @property
    def source(self) -> str: ...


class Member(Protocol):
    """What the pool needs of a key: `providers.Instance` has both."""

    @property
    def name(self) -> str: ...

    @property
    def key(self) -> _Source: ...


M = TypeVar("M", bound=Member)


class KeysCooling(RateLimited):
    """Every usable key of a backend is cooling down; `retry_after` is the earliest end."""

    def __init__(self, message: str, retry_after: float, reason: str) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(message, code="all_keys_rate_limited",
                         headers={"retry-after": str(seconds)})
        self.retry_after = float(seconds)
        self.reason = reason
        if seconds > 60:
            self.should_retry = False  # a usage window: SDKs must not sit retrying


class KeysRevoked(ServiceUnavailable):
    """Every key of a backend was refused by the upstream."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="all_keys_rejected")
        self.should_retry = False


def rendezvous_weight(session_id: str, name: str) -> bytes:
    """The same weight routing/plan.py uses, so conversations keep the key they had."""
    return hashlib.blake2b(f"{session_id}|{name}".encode(), digest_size=8).digest()


def limit_name(body: bytes | Mapping[str, Any] | None) -> str | None:
    """`metadata.limitName` of an OpenCode usage-limit error body (inside `error` or beside
    it), e.g. "5 hour"; None when absent or the body is not JSON."""
    data: Any = body
    if isinstance(body, bytes | bytearray):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(data, Mapping):
        return None
    for holder in (data.get("error"), data):
        if isinstance(holder, Mapping):
            meta = holder.get("metadata")
            if isinstance(meta, Mapping):
                name = meta.get("limitName")
                if isinstance(name, str) and name:
                    return name
    return None


def cooldown_seconds(retry_after: str | float | None, window: str | None, now: float) -> float:
    """How long a key that answered 429 rests: its retry-after when given, else a recheck
    interval for the named usage window, else `DEFAULT_COOLDOWN`."""
    seconds = parse_retry_after(retry_after, now)
    if seconds is None and window:
        lowered = window.lower()
        seconds = next((v for unit, v in WINDOW_RECHECK.items() if unit in lowered), None)
    if seconds is None:
        seconds = DEFAULT_COOLDOWN
    return min(max(seconds, 1.0), MAX_COOLDOWN)


@dataclass(slots=True)
class _Sticky:
    cache: dict[str, str] = field(default_factory=dict)

    def get(self, session: str) -> str | None:
        return self.cache.get(session)

    def put(self, session: str, name: str) -> None:
        if session not in self.cache and len(self.cache) >= _STICKY_CACHE:
            del self.cache[next(iter(self.cache))]
        self.cache[session] = name


class KeyPool(Generic[M]):
    def __init__(self, backend: str, members: Sequence[M], state: State,
                 clock: Clock = time.time, writer: WriteBehind | None = None) -> None:
        if not members:
            raise ValueError(f"backend {backend}: a key pool needs at least one key")
        self.backend = backend
        self.members = tuple(members)
        self.state = state
        self.clock = clock
        self._by_name = {m.name: m for m in self.members}
        self._cooling: dict[str, Cooldown] = {}
        self._revoked: set[str] = set()
        self._sticky = _Sticky()
        self.writer = writer or WriteBehind()

    # ------------------------------------------------------------ choosing

    def usable(self, member: M) -> bool:
        if member.name in self._revoked:
            return False
        cd = self._cooling.get(member.name)
        return cd is None or cd.until <= self.clock()

    def _candidates(self, exclude: Collection[str]) -> list[M]:
        usable = [m for m in self.members if self.usable(m)]
        if not usable:
            raise self._exhausted()
        return [m for m in usable if m.name not in exclude]

    def choose(self, session_id: str, *, exclude: Collection[str] = ()) -> M | None:
        """`pick` without waiting, for synchronous routing code: the shared record of a
        conversation this process has not seen yet is fetched in the background for its next
        request (until then it goes to its home key, as on every replica), and a move is
        written behind."""
        if len(self.members) == 1 and not exclude and self.usable(self.members[0]):
            return self.members[0]
        candidates = self._candidates(exclude)
        if not candidates:
            return None
        remembered = self._sticky.get(session_id)
        if remembered is None:
            self.writer.submit(lambda: self._fetch(session_id))
        chosen, moved = self._decide(session_id, candidates, remembered)
        if moved:
            self._sticky.put(session_id, chosen.name)
            self.writer.submit(lambda: self._store(session_id, chosen))
        return chosen

    async def pick(self, session_id: str, *, exclude: Collection[str] = ()) -> M | None:
        """The key for this conversation. `exclude` names keys this request already tried;
        None when the only usable keys are excluded. Raises KeysCooling / KeysRevoked when
        no key of the pool is usable at all."""
        if len(self.members) == 1 and not exclude and self.usable(self.members[0]):
            return self.members[0]
        candidates = self._candidates(exclude)
        if not candidates:
            return None
        remembered = self._sticky.get(session_id)
        if remembered is None:
            remembered = await self._fetch(session_id)
        chosen, moved = self._decide(session_id, candidates, remembered)
        if moved:
            self._sticky.put(session_id, chosen.name)
            await self._store(session_id, chosen)
        return chosen

    def _home(self, session_id: str) -> M:
        return max(self.members, key=lambda m: rendezvous_weight(session_id, m.name))

    def _decide(self, session_id: str, candidates: list[M],
                remembered: str | None) -> tuple[M, bool]:
        """The conversation's current key (where it moved to, else home) when it can be
        used, else the next in its rendezvous order; and whether that is a move."""
        current = self._by_name.get(remembered or _HOME) or self._home(session_id)
        if current in candidates:
            return current, False
        return max(candidates, key=lambda m: rendezvous_weight(session_id, m.name)), True

    async def _fetch(self, session_id: str) -> str:
        value = await self.state.sticky("key", self._scope(session_id)) or _HOME
        if self._sticky.get(session_id) is None:
            self._sticky.put(session_id, value)
        return self._sticky.get(session_id) or _HOME

    async def _store(self, session_id: str, member: M) -> None:
        await self.state.set_sticky("key", self._scope(session_id), member.name, STICKY_TTL)

    def _scope(self, session_id: str) -> str:
        return f"{self.backend}:{session_id}"

    def _exhausted(self) -> KeysCooling | KeysRevoked:
        now = self.clock()
        cooling = [(cd, name) for name, cd in self._cooling.items()
                   if name not in self._revoked and name in self._by_name and cd.until > now]
        if cooling:
            cd, _name = min(cooling, key=lambda c: c[0].until)
            wait = cd.until - now
            reason = f" ({cd.reason})" if cd.reason else ""
            return KeysCooling(
                f"every API key of backend {self.backend} is rate-limited{reason}; the first "
                f"is usable again in {_duration(wait)}", wait, cd.reason)
        sources = ", ".join(m.key.source for m in self.members)
        return KeysRevoked(
            f"the upstream of backend {self.backend} rejected every configured API key "
            f"({sources}); fix them and restart crossway")

    def retry_after(self) -> float | None:
        """Seconds until the earliest cooling key is usable, when none is usable now."""
        if any(self.usable(m) for m in self.members):
            return None
        err = self._exhausted()
        return err.retry_after if isinstance(err, KeysCooling) else None

    # ------------------------------------------------------------ outcomes

    def limited(self, member: M, *, retry_after: str | float | None = None,
                window: str | None = None, error_class: str | None = None) -> Cooldown:
        """`rate_limited` for synchronous code: the shared-state write runs behind."""
        cd, changed = self._cool(member, retry_after, window, error_class)
        if changed:
            self.writer.submit(lambda: self.state.set_cooldown(member.name, cd))
        return cd

    async def rate_limited(self, member: M, *, retry_after: str | float | None = None,
                           window: str | None = None, error_class: str | None = None
                           ) -> Cooldown:
        """The key answered 429: rest it (see `cooldown_seconds`) here and for every replica."""
        cd, changed = self._cool(member, retry_after, window, error_class)
        if changed:
            await self.state.set_cooldown(member.name, cd)
        return cd

    def _cool(self, member: M, retry_after: str | float | None, window: str | None,
              error_class: str | None) -> tuple[Cooldown, bool]:
        now = self.clock()
        seconds = cooldown_seconds(retry_after, window, now)
        reason = ": ".join(p for p in (error_class or "429", window) if p)
        cd = Cooldown(now + seconds, reason)
        previous = self._cooling.get(member.name)
        if previous is not None and previous.until >= cd.until:
            return previous, False  # a shorter 429 does not cut a running window short
        self._cooling[member.name] = cd
        log.warning("backend %s: key %s (%s) rate-limited (%s); not used for %s",
                    self.backend, member.name, member.key.source, reason, _duration(seconds))
        return cd, True

    def auth_failed(self, member: M) -> None:
        """The upstream refused this key: out until restart or reload, logged once."""
        if member.name in self._revoked:
            return
        self._revoked.add(member.name)
        log.error("backend %s: the upstream rejected the API key from %s (key %s); it is not "
                  "used again until crossway restarts or reloads its configuration",
                  self.backend, member.key.source, member.name)

    async def refresh(self) -> None:
        """Adopt cooldowns other replicas recorded (state.refresh_forever calls this)."""
        shared = await self.state.cooldowns()
        for name in self._by_name:
            cd = shared.get(name)
            mine = self._cooling.get(name)
            if cd is not None and (mine is None or mine.until < cd.until):
                self._cooling[name] = cd

    def resting(self) -> dict[str, tuple[float | None, str]]:
        """Keys not usable now: name -> (usable again at, epoch seconds; None for a key the
        upstream refused) and why."""
        now = self.clock()
        out: dict[str, tuple[float | None, str]] = {}
        for m in self.members:
            cd = self._cooling.get(m.name)
            if m.name in self._revoked:
                out[m.name] = (None, f"the upstream refused the key from {m.key.source}")
            elif cd is not None and cd.until > now:
                out[m.name] = (cd.until, cd.reason or "rate-limited")
        return out

    def status(self) -> dict[str, str]:
        """Each key's state for status pages: usable, cooling (reason, seconds), rejected."""
        now = self.clock()
        out: dict[str, str] = {}
        for m in self.members:
            cd = self._cooling.get(m.name)
            if m.name in self._revoked:
                out[m.name] = "rejected"
            elif cd is not None and cd.until > now:
                out[m.name] = f"cooling ({cd.reason}, {_duration(cd.until - now)} left)"
            else:
                out[m.name] = "usable"
        return out


def _duration(seconds: float) -> str:
    seconds = max(0, math.ceil(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
