"""What /admin/stats, /admin/requests and /admin/usage answer, assembled from the live
figures (since start), the usage store (windows of 5 minutes, 1 hour, 24 hours and days) and
the Go quota meter.

The store's percentile queries read every row of a window (seconds on millions of rows), so
answers are cached: for CACHE_SHORT_S, or, once a window holds LARGE_WINDOW requests or more
(the 24-hour window, any window of a busy gateway), for CACHE_LONG_S while no new row was
written and FRESH_LONG_S when some were. A dashboard polling every few seconds then costs the
store at most one large query per FRESH_LONG_S, not one per poll, and concurrent readers of one
answer share one query.
A store that fails is reported in the answer (`error`), never hidden behind zeros.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from crossway import __version__
from crossway.observability.rows import UsageRow
from crossway.observability.store.base import STATS_WINDOWS, Group, StoreError, UsageStore

if TYPE_CHECKING:
    from crossway.observability.setup import ObservabilityRuntime

CACHE_SHORT_S = 2.0
CACHE_LONG_S = 30.0
# A large window with new rows is read again after this long (see TTLCache); "large" when
# it held LARGE_WINDOW requests or more (below that its query takes milliseconds).
FRESH_LONG_S = 10.0
LARGE_WINDOW = 20_000
T = TypeVar("T")


class TTLCache:
    """Answers kept for a while, per name (one per process, on the runtime).

    An answer is reused for `ttl` seconds while `version` (the writer's count of rows
    written) is unchanged, and for `fresh` seconds whatever it is: an idle gateway costs the
    store one query per `ttl`, a busy one at most one per `fresh`, and new rows show within
    `fresh` seconds rather than `ttl`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, tuple[float, int | None, Any]] = {}
        self._running: dict[str, asyncio.Future[Any]] = {}

    async def get(self, name: str, ttl: float, make: Callable[[], Awaitable[T]], *,
                  version: int | None = None, fresh: float | None = None) -> T:
        now = self._clock()
        hit = self._items.get(name)
        if hit is not None:
            age = now - hit[0]
            if age < (ttl if fresh is None else fresh) or (age < ttl and hit[1] == version):
                value: T = hit[2]
                return value
        running = self._running.get(name)
        if running is not None:
            # Someone is reading this already (a slow query, two dashboards): wait for it.
            shared: T = await asyncio.shield(running)
            return shared
        task = asyncio.ensure_future(make())
        self._running[name] = task
        task.add_done_callback(lambda _t: self._running.pop(name, None))
        value = await asyncio.shield(task)
        self._items[name] = (now, version, value)
        return value

    def peek(self, name: str) -> Any:
        hit = self._items.get(name)
        return hit[2] if hit is not None else None


def _groups(groups: list[Group]) -> list[dict[str, Any]]:
    return [g.to_dict() for g in groups]


async def window(store: UsageStore, seconds: float, now: float) -> dict[str, Any]:
    since = now - seconds
    totals = await store.totals(since)
    return {"seconds": seconds, "totals": totals.to_dict(),
            "by_model": _groups(await store.group_by("model", since)),
            "by_instance": _groups(await store.group_by("instance", since)),
            "by_status": _groups(await store.group_by("status", since))}


async def windows(rt: ObservabilityRuntime) -> dict[str, Any]:
    """Each window from the store, or why there is none."""
    if rt.writer is None:
        return {"error": "the usage store is off (CROSSWAY_USAGE=off)"}
    store = rt.writer.store
    version = rt.writer.counters.rows_written
    out: dict[str, Any] = {}
    for name, seconds in STATS_WINDOWS.items():
        before = rt.cache.peek(f"window:{name}")
        long = isinstance(before, dict) and "totals" in before and \
            before["totals"]["requests"] >= LARGE_WINDOW

        async def make(seconds: float = seconds) -> dict[str, Any]:
            return await window(store, seconds, time.time())

        try:
            out[name] = await rt.cache.get(
                f"window:{name}", CACHE_LONG_S if long else CACHE_SHORT_S, make,
                version=version, fresh=FRESH_LONG_S if long else CACHE_SHORT_S)
        except StoreError as exc:
            out[name] = {"seconds": seconds, "error": str(exc)}
    return out


def store_status(rt: ObservabilityRuntime) -> dict[str, Any]:
    w = rt.writer
    if w is None:
        return {"enabled": False}
    c = w.counters
    return {"enabled": True, "description": w.store.description, "healthy": w.healthy,
            "queued": w.queued, "rows_written": c.rows_written,
            "rows_dropped": c.rows_dropped, "write_errors": c.write_errors}


async def quota(rt: ObservabilityRuntime) -> dict[str, Any]:
    try:
        keys = await rt.meter.snapshot()
    except StoreError as exc:
        return {"keys": [], "error": str(exc)}
    return {"keys": [k.to_dict() for k in keys],
            "limits_usd": {"5h": rt.meter.limits.five_hour_usd,
                           "weekly": rt.meter.limits.weekly_usd,
                           "monthly": rt.meter.limits.monthly_usd}}


async def stats(rt: ObservabilityRuntime) -> dict[str, Any]:
    rt.flush()
    live = rt.live
    return {
        "version": __version__,
        "started_at": live.started,
        "uptime_s": round(live.uptime, 3),
        "in_flight": len(live.in_flight),
        "open_streams": live.open_streams,
        "since_start": live.snapshot(),
        "windows": await windows(rt),
        "quota": await quota(rt),
        "usage_store": store_status(rt),
        "health": [{"instance": h.instance, "model": h.model, "breaker": h.breaker,
                    "cooldown_until": h.cooldown_until, "reason": h.reason}
                   for h in rt.health()],
    }


def row_dict(row: UsageRow) -> dict[str, Any]:
    """A request for the dashboard's list: what it asked, where it went, how it ended."""
    return {"request_id": row.request_id, "ts": row.ts, "client": row.client_family,
            "dialect": row.client_dialect, "model": row.model_requested,
            "target": row.target, "fast_path": row.fast_path, "stream": row.stream,
            "status": row.status, "outcome": row.outcome, "duration_ms": row.duration_ms,
            "ttfb_ms": row.ttfb_ms, "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens, "cache_read_tokens": row.cache_read_tokens,
            "cost_usd": row.cost_usd, "cost_estimated": row.cost_estimated,
            "key_id": row.key_id, "error": row.error, "attempts": row.attempt_list()}


def recent(rt: ObservabilityRuntime, limit: int) -> list[dict[str, Any]]:
    """The last requests this process answered, newest first (from memory: instant, and
    present even with the store off)."""
    rt.flush()
    rows = list(rt.live.recent)[-limit:]
    return [row_dict(r) for r in reversed(rows)]


async def usage(rt: ObservabilityRuntime, days: int) -> dict[str, Any]:
    """Per day, per hour (last 24 h) and per model, for the dashboard's charts."""
    rt.flush()
    if rt.writer is None:
        return {"error": "the usage store is off (CROSSWAY_USAGE=off)"}
    store = rt.writer.store

    async def make() -> dict[str, Any]:
        now = time.time()
        since = now - days * 86400.0
        return {"days": days,
                "by_day": _groups(await store.group_by("day", since)),
                "by_hour": _groups(await store.group_by("hour", now - 86400.0)),
                "by_model": _groups(await store.group_by("model", since, limit=20))}

    try:
        before = rt.cache.peek(f"usage:{days}")
        large = isinstance(before, dict) and \
            sum(g["requests"] for g in before["by_day"]) >= LARGE_WINDOW
        return await rt.cache.get(f"usage:{days}", CACHE_LONG_S, make,
                                  version=rt.writer.counters.rows_written,
                                  fresh=FRESH_LONG_S if large else CACHE_SHORT_S)
    except StoreError as exc:
        return {"days": days, "error": str(exc)}
