"""Since-start figures, kept in memory: what /admin/stats shows for "since start", what
/metrics exports, the dashboard's per-minute series and its list of the last requests.

Each finished request counts in exactly one aggregate, keyed by (model, instance, status,
outcome), folded in with the other rows of its batch (the recorder's, every 250 ms or when
someone reads the figures), not on the request path. Views per model, per instance, per
status and the totals are merged from those when someone asks (a scrape, the dashboard),
which is rare next to requests.

Percentiles since start come from log-spaced buckets 2% wide (memory stays bounded however
long crossway runs), so they are within ~1% of the exact figure; the store's windows (5 min,
1 h, 24 h) are exact.
"""

from __future__ import annotations

import bisect
import collections
import math
import operator
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import compress, repeat
from operator import truediv
from typing import Any

from crossway.observability.records import RequestRecord
from crossway.observability.rows import (
    OK_OUTCOMES,
    RowBatch,
    UsageRow,
    numbers_only,
    one_value,
)
from crossway.observability.store.base import PERCENTILES, Totals

# Prometheus histogram bounds (seconds): LLM answers range from a cached 50 ms to minutes.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 120.0, 300.0, 600.0)
_BASE = 1.02
_GROWTH = math.log(_BASE)
_GROWTH2 = math.log2(_BASE)
# More distinct models than this (clients may send any string) share one "(other)" group.
MAX_GROUPS = 500
SERIES_MINUTES = 24 * 60
RECENT = 100
NONE_LABEL = "none"

GroupKey = tuple[str, str, int, str]  # model, instance, status, outcome
AttemptResult = tuple[str, str, str]  # instance, model, "ok" or the failure kind

# Figures are folded in per batch of rows (Recorder.flush, every 250 ms), a column at a time
# (the batch's own columns: rows.RowBatch): sum(column) loops in C, where a Python statement
# per field per row cost several microseconds a request (docs/benchmarks.md).
_GROUP_FIELDS = ("upstream_model", "model_requested", "instance", "status", "outcome")
_TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
_not_none = partial(operator.is_not, None)
_MIN_MS = 0.001


class LogHistogram:
    """Counts in 2%-wide log buckets of milliseconds; percentiles within ~1%."""

    __slots__ = ("buckets", "count")

    def __init__(self) -> None:
        self.buckets: collections.Counter[int] = collections.Counter()
        self.count = 0

    def add(self, ms: float) -> None:
        self.add_many((ms,))

    def add_many(self, values: Sequence[float]) -> list[int]:
        """Count the values; returns each one's bucket index, in their order. All in C:
        log2 and floor per value, then Counter.update, which counts a list without a Python
        statement per value or per bucket (a batch of real latencies touches dozens of 2%
        buckets). log2 takes one argument where math.log parses two per call; a value
        right on a bucket's edge may land one bucket over from where log(v, 1.02) puts it,
        which the ~1% this promises already allows."""
        if not values:
            return []
        if min(values) < _MIN_MS:
            values = list(map(max, values, repeat(_MIN_MS)))
        indexes = list(map(math.floor, map(truediv, map(math.log2, values),
                                           repeat(_GROWTH2))))
        self.buckets.update(indexes)
        self.count += len(values)
        return indexes

    def merge(self, other: LogHistogram) -> None:
        self.buckets.update(other.buckets)
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

    def add_rows(self, batch: RowBatch, errors: bool) -> None:
        """Rows of this aggregate's group; `errors` when their outcome is a failure."""
        col = batch.column
        n = len(batch)
        self.requests += n
        if errors:
            self.errors += n
        self.fallbacks += sum(col("fallbacks"))
        self.input_tokens += sum(col("input_tokens"))
        self.output_tokens += sum(col("output_tokens"))
        self.cache_read_tokens += sum(col("cache_read_tokens"))
        self.cache_write_tokens += sum(col("cache_write_tokens"))
        self.reasoning_tokens += sum(col("reasoning_tokens"))
        costs = col("cost_usd")
        # sum() of the usual column, all floats, runs in C; a None in it (a request without
        # a price) raises TypeError, and only then is it looked for.
        try:
            self.cost_usd += sum(costs)
        except TypeError:
            self.cost_usd += sum(filter(None, costs))
            self.unpriced += sum(1 for cost, i, o in zip(costs, col("input_tokens"),
                                                         col("output_tokens"), strict=True)
                                 if cost is None and (i or o))
        self.estimated_cost_usd += sum(filter(None, compress(costs, col("cost_estimated"))))
        self.latency_sum += _timed(col("duration_ms"), self.latency, self.latency_buckets)
        ttfb = col("ttfb_ms")
        if not numbers_only(ttfb):
            ttfb = list(filter(_not_none, ttfb))
        self.ttfb_sum += _timed(ttfb, self.ttfb, self.ttfb_buckets)

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
        """As the store's Totals (the very same keys), so the dashboard reads both alike."""
        return Totals(
            self.requests, self.errors, self.fallbacks, self.input_tokens, self.output_tokens,
            self.cache_read_tokens, self.cache_write_tokens, self.reasoning_tokens,
            self.cost_usd, self.estimated_cost_usd, self.unpriced,
            *(_round(self.latency.percentile(q)) for q in PERCENTILES),
            *(_round(self.ttfb.percentile(q)) for q in PERCENTILES)).to_dict()


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def _timed(ms: Sequence[float], hist: LogHistogram, buckets: list[int]) -> float:
    """Milliseconds into the log histogram and the Prometheus buckets; their sum in seconds.

    A value's Prometheus bucket is its log bucket's (_PROM_OF, a dict lookup in C per
    value); the values of the few log buckets a Prometheus bound falls in or next to are
    placed one by one, exactly as bisect over the bounds puts them."""
    if not ms:
        return 0.0
    prom = list(map(_PROM_OF.get, hist.add_many(ms)))
    for b, n in collections.Counter(prom).items():
        if b is not None:
            buckets[b] += n
            continue
        for value in compress(ms, map(operator.is_, prom, repeat(None))):
            buckets[bisect.bisect_left(LATENCY_BUCKETS, value / 1000.0)] += 1
    return float(sum(ms)) / 1000.0


def _prom_of_log_buckets() -> dict[int, int]:
    """Log bucket index -> the Prometheus bucket all its values are in, for every bucket
    from _MIN_MS to ~11 days, but those a bound falls in or next to (a value's computed
    index may be one off its exact one at an edge)."""
    def index(ms: float) -> int:
        return math.floor(math.log2(ms) / _GROWTH2)
    near = {index(b * 1000.0) + d for b in LATENCY_BUCKETS for d in (-1, 0, 1)}
    return {i: bisect.bisect_left(LATENCY_BUCKETS, 2.0 ** ((i + 0.5) * _GROWTH2) / 1000.0)
            for i in range(index(_MIN_MS), index(1e9) + 1) if i not in near}


_PROM_OF = _prom_of_log_buckets()


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
        # The last RECENT rows, as the tails of the batches they came in (rows are made
        # only when someone reads them: the dashboard, /admin/requests).
        self._recent: collections.deque[RowBatch] = collections.deque()
        self._recent_count = 0
        self._models: set[str] = set()
        # Requests being answered, by id (the edge adds and removes them): open streams.
        self.in_flight: dict[str, RequestRecord] = {}

    @property
    def open_streams(self) -> int:
        return sum(1 for r in list(self.in_flight.values()) if r.stream and r.first_byte)

    @property
    def uptime(self) -> float:
        return self._clock() - self.started

    def add_rows(self, rows: Sequence[UsageRow], attempt_results: Iterable[AttemptResult],
                 ) -> None:
        """A batch of finished requests (a RowBatch, or any rows). `attempt_results`:
        (instance, model, "ok" or the failure kind) for every attempt of the rows that keep
        their attempts as JSON; a row without (one clean attempt: attempts_json None)
        counts its own target as "ok"."""
        batch = RowBatch.of(rows)
        n = len(batch)
        if not n:
            return
        keys = [batch.column(name) for name in _GROUP_FIELDS]
        groups: dict[tuple[Any, ...], RowBatch]
        if all(map(one_value, keys)):  # the usual batch
            groups = {tuple(column[0] for column in keys): batch}
        else:
            where: dict[tuple[Any, ...], list[int]] = {}
            for i, key in enumerate(zip(*keys, strict=True)):
                where.setdefault(key, []).append(i)
            groups = {key: batch.take(indexes) for key, indexes in where.items()}
        errors = 0
        for (upstream_model, requested, instance, status, outcome), same in groups.items():
            failed = outcome not in OK_OUTCOMES
            self._agg(upstream_model or requested or NONE_LABEL, instance or NONE_LABEL,
                      status, outcome).add_rows(same, failed)
            errors += len(same) if failed else 0
        self._count_attempts(batch, attempt_results)
        fallbacks = batch.column("fallbacks")
        if any(fallbacks):
            for outcome, fell_back in zip(batch.column("outcome"), fallbacks, strict=True):
                if fell_back:
                    self.fallbacks[outcome] = self.fallbacks.get(outcome, 0) + 1
        self._keep_recent(batch)
        self._add_to_series(batch, errors)

    def _keep_recent(self, batch: RowBatch) -> None:
        tail = batch if len(batch) <= RECENT else batch[-RECENT:]
        kept = self._recent
        kept.append(tail)
        self._recent_count += len(tail)
        while self._recent_count - len(kept[0]) >= RECENT:
            self._recent_count -= len(kept.popleft())

    @property
    def recent(self) -> list[UsageRow]:
        """The last RECENT requests' rows, oldest first."""
        return [row for batch in self._recent for row in batch][-RECENT:]

    def _agg(self, model: str, instance: str, status: int, outcome: str) -> Agg:
        key = (model, instance, status, outcome)
        agg = self.groups.get(key)
        if agg is None:
            if model not in self._models:
                if len(self._models) >= MAX_GROUPS:
                    return self._agg("(other)", instance, status, outcome)
                self._models.add(model)
            agg = self.groups[key] = Agg()
        return agg

    def _count_attempts(self, batch: RowBatch, results: Iterable[AttemptResult]) -> None:
        attempts = self.attempts
        n = len(batch)
        listed_col, instances, models = (batch.column("attempts_json"),
                                         batch.column("instance"),
                                         batch.column("upstream_model"))
        if listed_col[0] is None and instances[0] is not None \
                and one_value(listed_col) and one_value(instances) and one_value(models):
            # The usual batch: one clean attempt each, all to one instance and model.
            only = (instances[0], models[0] or NONE_LABEL, "ok")
            attempts[only] = attempts.get(only, 0) + n
            return
        for (instance, model, listed), n in collections.Counter(zip(
                batch.column("instance"), batch.column("upstream_model"),
                batch.column("attempts_json"), strict=True)).items():
            if listed is None and instance is not None:
                only = (instance, model or NONE_LABEL, "ok")
                attempts[only] = attempts.get(only, 0) + n
        for result in results:
            attempts[result] = attempts.get(result, 0) + 1

    def _add_to_series(self, batch: RowBatch, errors: int) -> None:
        col = batch.column
        ts = col("ts")
        tokens = [col(name) for name in _TOKEN_FIELDS]
        first = int(min(ts) // 60)
        if first != int(max(ts) // 60):  # a batch across a minute's end: row by row
            for start, outcome, cost, *counts in zip(ts, col("outcome"), col("cost_usd"),
                                                     *tokens, strict=True):
                self._point(int(start // 60), 1, int(outcome not in OK_OUTCOMES),
                            sum(counts), cost or 0.0)
            return
        self._point(first, len(batch), errors, sum(map(sum, tokens)),
                    sum(filter(None, col("cost_usd"))))

    def _point(self, minute: int, requests: int, errors: int, tokens: int,
               cost: float) -> None:
        """Add to the minute's point. Rows come in the order requests end, stamped with the
        minute they began: a long stream's row can belong to a point before the newest."""
        series = self.series
        point = series[-1] if series and series[-1][0] == minute else None
        if point is None and series and series[-1][0] > minute:
            point = next((p for p in reversed(series) if p[0] == minute), None)
        if point is None:  # minutes() reads the points by minute, in any order
            point = [minute, 0, 0, 0, 0.0]
            series.append(point)
        point[1] += requests
        point[2] += errors
        point[3] += tokens
        point[4] += cost

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
