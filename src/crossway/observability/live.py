"""Since-start figures, kept in memory: what /admin/stats shows for "since start", what
/metrics exports, the dashboard's per-minute series and its list of the last requests.

Each finished request updates exactly one aggregate, keyed by (model, instance, status,
outcome): one dict lookup and a few additions on the request path. Views per model, per
instance, per status and the totals are merged from those when someone asks (a scrape, the
dashboard), which is rare next to requests.

Percentiles since start come from log-spaced buckets 2% wide (memory stays bounded however
long crossway runs), so they are within ~1% of the exact figure; the store's windows (5 min,
1 h, 24 h) are exact.
"""

from __future__ import annotations

import bisect
import collections
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from crossway.observability.records import RequestRecord
from crossway.observability.rows import OK_OUTCOMES, UsageRow

# Prometheus histogram bounds (seconds): LLM answers range from a cached 50 ms to minutes.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 120.0, 300.0, 600.0)
_GROWTH = math.log(1.02)
# More distinct models than this (clients may send any string) share one "(other)" group.
MAX_GROUPS = 500
SERIES_MINUTES = 24 * 60
RECENT = 100
NONE_LABEL = "none"

GroupKey = tuple[str, str, int, str]  # model, instance, status, outcome


class LogHistogram:
    """Counts in 2%-wide log buckets of milliseconds; percentiles within ~1%."""

    __slots__ = ("buckets", "count")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0

    def add(self, ms: float) -> None:
        i = math.floor(math.log(ms) / _GROWTH) if ms > 0.001 else -350
        self.buckets[i] = self.buckets.get(i, 0) + 1
        self.count += 1

    def merge(self, other: LogHistogram) -> None:
        for i, n in other.buckets.items():
            self.buckets[i] = self.buckets.get(i, 0) + n
        self.count += other.count

    def percentile(self, q: float) -> float | None:
        """Linear interpolation between closest ranks (as the store's percentile_cont), each
        rank's value being its bucket's geometric middle."""
        if not self.count:
            return None
        rank = q * (self.count - 1)
        lo = math.floor(rank)
        low = high = None
        seen = 0
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            middle = math.exp((i + 0.5) * _GROWTH)
            if low is None and seen > lo:
                low = middle
            if seen > lo + 1 or seen >= self.count:
                high = middle
                break
        assert low is not None and high is not None
        return low + (high - low) * (rank - lo)


@dataclass(slots=True)
class Agg:
    requests: int = 0
    errors: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    estimated_cost_usd: float = 0.0
    unpriced: int = 0
    latency: LogHistogram = field(default_factory=LogHistogram)
    ttfb: LogHistogram = field(default_factory=LogHistogram)
    # Prometheus buckets (seconds), not cumulative; one extra slot for +Inf.
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    ttfb_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    ttfb_sum: float = 0.0

    def add(self, row: UsageRow) -> None:
        self.requests += 1
        if row.outcome not in OK_OUTCOMES:
            self.errors += 1
        self.fallbacks += row.fallbacks
        self.input_tokens += row.input_tokens
        self.output_tokens += row.output_tokens
        self.cache_read_tokens += row.cache_read_tokens
        self.cache_write_tokens += row.cache_write_tokens
        self.reasoning_tokens += row.reasoning_tokens
        cost = row.cost_usd
        if cost is not None:
            self.cost_usd += cost
            if row.cost_estimated:
                self.estimated_cost_usd += cost
        elif row.input_tokens or row.output_tokens:
            self.unpriced += 1
        ms = row.duration_ms
        self.latency.add(ms)
        self.latency_buckets[bisect.bisect_left(LATENCY_BUCKETS, ms / 1000.0)] += 1
        self.latency_sum += ms / 1000.0
        if row.ttfb_ms is not None:
            self.ttfb.add(row.ttfb_ms)
            self.ttfb_buckets[bisect.bisect_left(LATENCY_BUCKETS, row.ttfb_ms / 1000.0)] += 1
            self.ttfb_sum += row.ttfb_ms / 1000.0

    def merge(self, o: Agg) -> None:
        for name in ("requests", "errors", "fallbacks", "input_tokens", "output_tokens",
                     "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "cost_usd",
                     "estimated_cost_usd", "unpriced", "latency_sum", "ttfb_sum"):
            setattr(self, name, getattr(self, name) + getattr(o, name))
        self.latency.merge(o.latency)
        self.ttfb.merge(o.ttfb)
        for i, n in enumerate(o.latency_buckets):
            self.latency_buckets[i] += n
        for i, n in enumerate(o.ttfb_buckets):
            self.ttfb_buckets[i] += n

    def to_dict(self) -> dict[str, Any]:
        """The same keys as the store's Totals.to_dict, so the dashboard reads both alike."""
        tokens = (self.input_tokens + self.output_tokens + self.cache_read_tokens
                  + self.cache_write_tokens)
        out: dict[str, Any] = {
            "requests": self.requests, "errors": self.errors, "fallbacks": self.fallbacks,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens, "cost_usd": self.cost_usd,
            "estimated_cost_usd": self.estimated_cost_usd, "unpriced": self.unpriced,
            "error_rate": self.errors / self.requests if self.requests else 0.0,
            "tokens": tokens}
        for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            out[f"latency_{name}_ms"] = _round(self.latency.percentile(q))
            out[f"ttfb_{name}_ms"] = _round(self.ttfb.percentile(q))
        return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


class LiveStats:
    """Everything since start, for /admin/stats, /metrics and the dashboard."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.started = clock()
        self.groups: dict[GroupKey, Agg] = {}
        self.attempts: dict[tuple[str, str, str], int] = {}
        self.fallbacks: dict[str, int] = {}  # final outcome -> requests that fell back
        # [minute (unix // 60), requests, errors, tokens, cost]
        self.series: collections.deque[list[Any]] = collections.deque(maxlen=SERIES_MINUTES)
        self.recent: collections.deque[UsageRow] = collections.deque(maxlen=RECENT)
        self._models: set[str] = set()
        # Requests being answered, by id (the edge adds and removes them): open streams.
        self.in_flight: dict[str, RequestRecord] = {}

    @property
    def open_streams(self) -> int:
        return sum(1 for r in list(self.in_flight.values()) if r.stream and r.first_byte)

    @property
    def uptime(self) -> float:
        return self._clock() - self.started

    def add(self, row: UsageRow,
            attempt_results: Iterable[tuple[str, str, str]] | None = None) -> None:
        """`attempt_results`: (instance, model, "ok" or the failure kind) per attempt; None
        when the row's target was its one clean attempt (the common case: nothing to list)."""
        model = row.upstream_model or row.model_requested or NONE_LABEL
        if model not in self._models:
            if len(self._models) >= MAX_GROUPS:
                model = "(other)"
            else:
                self._models.add(model)
        key = (model, row.instance or NONE_LABEL, row.status, row.outcome)
        agg = self.groups.get(key)
        if agg is None:
            agg = self.groups[key] = Agg()
        agg.add(row)
        attempts = self.attempts
        if attempt_results is None:
            if row.instance is not None:
                only = (row.instance, row.upstream_model or NONE_LABEL, "ok")
                attempts[only] = attempts.get(only, 0) + 1
        else:
            for result in attempt_results:
                attempts[result] = attempts.get(result, 0) + 1
        if row.fallbacks:
            self.fallbacks[row.outcome] = self.fallbacks.get(row.outcome, 0) + 1
        self.recent.append(row)
        minute = int(row.ts // 60)
        series = self.series
        if not series or series[-1][0] != minute:
            series.append([minute, 0, 0, 0, 0.0])
        point = series[-1]
        point[1] += 1
        point[2] += row.outcome not in OK_OUTCOMES
        point[3] += row.input_tokens + row.output_tokens + row.cache_read_tokens \
            + row.cache_write_tokens
        point[4] += row.cost_usd or 0.0

    def merged(self, part: int | None) -> dict[str, Agg]:
        """Aggregates merged by one part of the key (0 model, 1 instance, 2 status), or all
        into one ("total") when part is None."""
        out: dict[str, Agg] = {}
        for key, agg in self.groups.items():
            name = "total" if part is None else str(key[part])
            into = out.get(name)
            if into is None:
                into = out[name] = Agg()
            into.merge(agg)
        return out

    def snapshot(self) -> dict[str, Any]:
        total = self.merged(None).get("total") or Agg()
        return {"totals": total.to_dict(),
                "by_model": _named(self.merged(0)), "by_instance": _named(self.merged(1)),
                "by_status": _named(self.merged(2))}

    def minutes(self, last: int = 60) -> list[dict[str, Any]]:
        """Per-minute requests, errors, tokens and cost for the last `last` minutes, zeros
        filled in, oldest first."""
        now_minute = int(self._clock() // 60)
        have = {p[0]: p for p in self.series if p[0] > now_minute - last}
        out = []
        for m in range(now_minute - last + 1, now_minute + 1):
            p = have.get(m)
            out.append({"ts": m * 60, "requests": p[1] if p else 0,
                        "errors": p[2] if p else 0, "tokens": p[3] if p else 0,
                        "cost_usd": p[4] if p else 0.0})
        return out


def _named(aggs: dict[str, Agg]) -> list[dict[str, Any]]:
    rows = [{"key": k, **a.to_dict()} for k, a in aggs.items()]
    rows.sort(key=lambda r: (-r["requests"], r["key"]))
    return rows
