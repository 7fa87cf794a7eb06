"""Circuit breaker per (instance, model): stop sending requests to a target that keeps failing.

Closed: requests flow; each upstream failure (connection refused, connect or read timeout, a
protocol error, a 5xx or 529) adds one to a consecutive count, a success resets it, and neither
a 429 (the key pool's business) nor a 4xx caused by the request itself counts either way.
After `failures` consecutive failures the breaker opens: `allow` says no for `cooldown`
seconds, then lets exactly one real request through as a probe (half-open). The probe's
success closes the breaker; its failure opens it for another `cooldown`.

Hot path: deciding on a closed breaker is one dict lookup, no I/O. The shared state is written
when a breaker opens or closes (rare), read by `refresh()` on an interval (so another replica's
open breaker is honoured within one interval), and, through the async `allow`, asked inline
only to claim the probe lease, so that one probe is sent across all replicas. The
consecutive-failure count is per process: each replica opens on what it saw itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from crossway.routing.state import Clock, State, WriteBehind

log = logging.getLogger("crossway.routing.breaker")

Verdict = Literal["success", "failure", "neutral"]

# The relay's Attempt failure kinds that say the upstream itself is unwell.
_UNHEALTHY_KINDS = frozenset({"connect", "connect_timeout", "read_timeout", "disconnected",
                              "protocol"})


def verdict(kind: str | None, status: int | None = None) -> Verdict:
    """How one attempt's outcome counts for the breaker.

    `kind` is None for an attempt that got a usable answer, else the Attempt's failure kind
    (crossway.failures.FailureKind: connect, connect_timeout, read_timeout, disconnected,
    protocol, upstream_status, client_error, unsupported);
    `status` is the upstream's HTTP status when it answered one."""
    if kind is None:
        return "success"
    if kind in _UNHEALTHY_KINDS:
        return "failure"
    if kind == "upstream_status" and status is not None and status >= 500:
        return "failure"
    # 429 (rate limits: keypool.py cools the key), the client's own 4xx, and upstream 4xx
    # such as OpenCode's ModelError say nothing about whether the target is up.
    return "neutral"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5  # consecutive upstream failures that open the breaker
    cooldown: float = 30.0  # seconds open before one probe is let through
    # How long a probe may stay unanswered before another request may probe instead
    # (the probing request may have been cancelled by its client and never report).
    probe_timeout: float = 120.0


@dataclass(slots=True)
class _Entry:
    failures: int = 0
    open_until: float | None = None  # None: closed
    probe_until: float | None = None  # a probe of ours is in flight until then


Op = Callable[[], Awaitable[object]]


class Breaker:
    """Two ways in, one set of rules. Synchronous (`usable`, `observe`) for the relay's Health
    hooks: decisions from the in-process table, shared-state writes queued behind; a probe is
    then one per process. Asynchronous (`allow`, `record`): the writes are awaited and the
    probe lease is claimed in the shared state, so one probe goes out across all replicas."""

    def __init__(self, state: State, settings: BreakerSettings | None = None,
                 clock: Clock = time.time, writer: WriteBehind | None = None) -> None:
        self.state = state
        self.settings = settings or BreakerSettings()
        self.clock = clock
        self.writer = writer or WriteBehind()
        self._entries: dict[str, _Entry] = {}

    @staticmethod
    def scope(instance: str, model: str) -> str:
        return f"{instance}|{model}"

    def is_open(self, instance: str, model: str) -> bool:
        """Open and not yet due for a probe (what a status page shows; no side effects)."""
        entry = self._entries.get(self.scope(instance, model))
        return entry is not None and entry.open_until is not None and \
            self.clock() < entry.open_until

    def _probe_due(self, entry: _Entry | None, now: float) -> bool | None:
        """True: open and a probe may go; False: skip; None: closed (send)."""
        if entry is None or entry.open_until is None:
            return None
        if now < entry.open_until:
            return False
        return entry.probe_until is None or now >= entry.probe_until

    def usable(self, instance: str, model: str) -> bool:
        """May a request go to this target now? (synchronous; one probe per process)"""
        entry = self._entries.get(self.scope(instance, model))
        now = self.clock()
        due = self._probe_due(entry, now)
        if due is None:
            return True
        if not due or entry is None:
            return False
        entry.probe_until = now + self.settings.probe_timeout
        log.info("circuit breaker for %s model %s: sending one probe request", instance, model)
        return True

    async def allow(self, instance: str, model: str) -> bool:
        """May a request go to this target now? True on a closed breaker; on an open one,
        True only for the single request (across replicas) that probes it after the
        cool-down."""
        scope = self.scope(instance, model)
        entry = self._entries.get(scope)
        now = self.clock()
        due = self._probe_due(entry, now)
        if due is None:
            return True
        if not due or entry is None:
            return False
        if not await self.state.claim_probe(scope, self.settings.probe_timeout):
            return False
        entry.probe_until = now + self.settings.probe_timeout
        log.info("circuit breaker for %s model %s: sending one probe request", instance, model)
        return True

    def observe(self, instance: str, model: str, kind: str | None,
                status: int | None = None) -> None:
        """Feed one attempt's outcome (see `verdict`); shared-state writes run behind."""
        for op in self._apply(instance, model, verdict(kind, status)):
            self.writer.submit(op)

    async def record(self, instance: str, model: str, kind: str | None,
                     status: int | None = None) -> None:
        """Feed one attempt's outcome (see `verdict`), awaiting the shared-state writes."""
        for op in self._apply(instance, model, verdict(kind, status)):
            await op()

    def _apply(self, instance: str, model: str, v: Verdict) -> list[Op]:
        scope = self.scope(instance, model)
        if v == "success":
            return self._success(instance, model, scope)
        if v == "failure":
            return self._failure(instance, model, scope)
        entry = self._entries.get(scope)
        if entry is not None and entry.probe_until is not None:
            entry.probe_until = None  # a neutral answer to a probe: the next request probes
            return [lambda: self.state.release_probe(scope)]
        return []

    def _success(self, instance: str, model: str, scope: str) -> list[Op]:
        entry = self._entries.pop(scope, None)
        ops: list[Op] = []
        if entry is not None and entry.open_until is not None:
            ops.append(lambda: self.state.close_breaker(scope))
            log.warning("circuit breaker for %s model %s closed: it answered again",
                        instance, model)
        if entry is not None and entry.probe_until is not None:
            ops.append(lambda: self.state.release_probe(scope))
        return ops

    def _failure(self, instance: str, model: str, scope: str) -> list[Op]:
        entry = self._entries.setdefault(scope, _Entry())
        entry.failures += 1
        probing = entry.probe_until is not None
        if entry.open_until is None and entry.failures < self.settings.failures:
            return []
        if entry.open_until is not None and not probing:
            return []  # a request sent before it opened; the cool-down already runs
        until = entry.open_until = self.clock() + self.settings.cooldown
        entry.probe_until = None
        log.warning(
            "circuit breaker for %s model %s open after %d consecutive failures%s; "
            "next probe in %.0f s", instance, model, entry.failures,
            " (the probe failed too)" if probing else "", self.settings.cooldown)
        ops: list[Op] = [lambda: self.state.open_breaker(scope, until)]
        if probing:
            ops.append(lambda: self.state.release_probe(scope))
        return ops

    async def refresh(self) -> None:
        """Adopt breakers other replicas opened or closed (state.refresh_forever calls this)."""
        shared = await self.state.open_breakers()
        for scope, until in shared.items():
            entry = self._entries.setdefault(scope, _Entry())
            if entry.open_until is None or entry.open_until < until:
                entry.open_until = until
        for scope, entry in list(self._entries.items()):
            if entry.open_until is not None and scope not in shared:
                del self._entries[scope]  # another replica's probe closed it

    def open_entries(self) -> list[tuple[str, str, float, int]]:
        """(instance, model, probe due at, consecutive failures) of every open breaker."""
        out = []
        for scope, e in self._entries.items():
            if e.open_until is not None:
                instance, _, model = scope.partition("|")
                out.append((instance, model, e.open_until, e.failures))
        return out

    def open_targets(self) -> dict[str, float]:
        """Open breakers by scope -> when a probe may go out (for status pages and logs)."""
        return {s: e.open_until for s, e in self._entries.items() if e.open_until is not None}
