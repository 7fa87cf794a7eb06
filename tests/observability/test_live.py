"""The in-memory pieces as plain data: since-start percentiles, the answer cache, the quota
meter's refresh when rows land, which listen addresses count as loopback, and the log
writer thread."""

from __future__ import annotations

import asyncio
import bisect
import io
import logging
import queue
import re
from pathlib import Path

import pytest

from crossway.observability.live import LogHistogram
from crossway.observability.logsetup import JsonFormatter, LogWriter
from crossway.observability.quota import QuotaMeter
from crossway.observability.stats import TTLCache
from crossway.observability.store.base import percentile
from crossway.observability.store.sqlite import SQLiteStore
from crossway.server.auth import is_loopback
from tests.observability.rowkit import T0, make_row


@pytest.mark.parametrize("values", [
    [50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 350.0, 400.0, 450.0, 500.0],
    [0.8, 1.2, 1.3, 2.0, 40.0, 1200.0, 65000.0],
    [7.0],
])
def test_histogram_percentiles_within_one_bucket_of_the_exact_ones(values: list[float]) -> None:
    h = LogHistogram()
    for v in values:
        h.add(v)
    for q in (0.0, 0.5, 0.95, 0.99, 1.0):
        exact = percentile(sorted(values), q)
        assert exact is not None
        assert h.percentile(q) == pytest.approx(exact, rel=0.015), q


def test_empty_histogram_has_no_percentile() -> None:
    assert LogHistogram().percentile(0.5) is None


def test_prometheus_buckets_of_a_batch_equal_bisect_on_every_value() -> None:
    """The Prometheus buckets are counted a batch at a time: every value, on a bound, a hair
    either side of one, or anywhere, lands where bisect over the bounds puts it (le = less
    than or equal), and each value is in the log histogram too."""
    import random

    from crossway.observability.live import LATENCY_BUCKETS, _timed
    rng = random.Random(7)
    values = [0.0, 1e-9, 0.0009, 0.001]
    for bound in LATENCY_BUCKETS:
        ms = bound * 1000.0
        values += [ms, ms * (1 - 1e-12), ms * (1 + 1e-12), ms * 0.97, ms * 1.03, ms * 0.999]
    values += [rng.lognormvariate(6.0, 3.0) for _ in range(5000)]
    for batch in (values, values[:7], [values[5]], list(reversed(values))):
        buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        hist = LogHistogram()
        total = _timed(batch, hist, buckets)
        expect = [0] * (len(LATENCY_BUCKETS) + 1)
        for v in batch:
            expect[bisect.bisect_left(LATENCY_BUCKETS, v / 1000.0)] += 1
        assert buckets == expect
        assert hist.count == len(batch)
        assert total == pytest.approx(sum(batch) / 1000.0)


def test_cache_reuses_until_ttl_or_new_rows_after_fresh() -> None:
    now = [0.0]
    cache = TTLCache(clock=lambda: now[0])
    calls = []

    async def make() -> int:
        calls.append(now[0])
        return len(calls)

    async def get(version: int) -> int:
        return await cache.get("x", 30.0, make, version=version, fresh=10.0)

    async def go() -> list[int]:
        out = [await get(1)]
        now[0] = 5.0
        out.append(await get(2))  # new rows, but younger than `fresh`
        now[0] = 12.0
        out.append(await get(2))  # new rows and older than `fresh`: read again
        now[0] = 40.0
        out.append(await get(2))  # nothing new: kept for the ttl
        now[0] = 43.0
        out.append(await get(2))  # ttl passed
        return out
    assert asyncio.run(go()) == [1, 1, 2, 2, 3]


def test_quota_meter_reads_again_once_rows_were_written(tmp_path: Path) -> None:
    now = [T0]
    written = [0]

    async def go() -> list[float]:
        store = SQLiteStore(tmp_path / "usage.db")
        await store.open()
        try:
            meter = QuotaMeter(store, clock=lambda: now[0], cache_s=10.0,
                               version=lambda: written[0], fresh_s=1.0)
            seen = [sum(k.windows[0].spent_usd for k in await meter.snapshot())]
            await store.write([make_row(ts=T0 - 60, cost_usd=2.0)])
            written[0] += 1
            now[0] += 0.5  # too soon: the cached sums stand
            seen.append(sum(k.windows[0].spent_usd for k in await meter.snapshot()))
            now[0] += 1.0
            seen.append(sum(k.windows[0].spent_usd for k in await meter.snapshot()))
            return seen
        finally:
            await store.close()
    assert asyncio.run(go()) == [0.0, 0.0, 2.0]


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
    ("gateway.internal", False),
])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_log_writer_writes_in_batches_and_everything_on_stop() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = LogWriter(q, handler, interval=60.0)  # only stop() will drain
    writer.start()
    for i in range(3):
        q.put(logging.makeLogRecord({"name": "crossway", "msg": f"line {i}",
                                     "levelname": "INFO", "levelno": logging.INFO}))
    assert out.getvalue() == ""
    writer.stop()
    assert not writer.is_alive()
    lines = out.getvalue().splitlines()
    assert [line.split('"message":')[1] for line in lines] == [
        '"line 0"}', '"line 1"}', '"line 2"}']


def test_cache_shares_one_running_query_between_readers() -> None:
    cache = TTLCache()
    calls = []

    async def slow() -> str:
        calls.append(1)
        await asyncio.sleep(0.05)
        return "answer"

    async def go() -> list[str]:
        results = await asyncio.gather(*(cache.get("w", 30.0, slow) for _ in range(5)))
        return list(results)
    assert asyncio.run(go()) == ["answer"] * 5 and len(calls) == 1


def test_batched_figures_equal_a_row_by_row_count() -> None:
    """LiveStats folds rows in a column at a time; every figure must equal what adding the
    rows one by one, by hand, gives (groups, errors, tokens, costs, unpriced, Prometheus
    buckets, attempts, fallbacks, the per-minute series across a minute's end)."""
    from crossway.observability.live import LATENCY_BUCKETS, LiveStats
    rows = []
    for i in range(60):
        failed = i % 7 == 0
        rows.append(make_row(
            ts=T0 + 50 + i,  # a minute ends at i = 50: inside the second batch
            upstream_model=None if i % 11 == 0 else ("glm-5.1" if i % 2 else "kimi-k2.6"),
            model_requested="asked", instance=None if i % 13 == 0 else "opencode-go",
            status=502 if failed else 200, outcome="error" if failed else "ok",
            duration_ms=float(1 + i * 37 % 900), ttfb_ms=None if i % 5 == 0 else float(i),
            input_tokens=i, output_tokens=2 * i, cache_read_tokens=i % 3,
            cache_write_tokens=i % 4, reasoning_tokens=i % 2,
            cost_usd=None if i % 6 == 0 else i / 1000, cost_estimated=i % 4 == 0,
            attempts=2 if i % 9 == 0 else 1, fallbacks=1 if i % 9 == 0 else 0,
            attempts_json="[]" if i % 9 == 0 else None))
    live = LiveStats(clock=lambda: T0 + 200)
    listed = [("opencode-go", "glm-5.1", "upstream_status")] * 3
    live.add_rows(rows[:25], listed)
    live.add_rows(rows[25:], [])
    total = live.snapshot()["totals"]
    assert total["requests"] == 60
    assert total["errors"] == sum(1 for r in rows if r.outcome == "error")
    assert total["fallbacks"] == sum(r.fallbacks for r in rows)
    assert total["input_tokens"] == sum(r.input_tokens for r in rows)
    assert total["reasoning_tokens"] == sum(r.reasoning_tokens for r in rows)
    assert total["cost_usd"] == pytest.approx(sum(r.cost_usd or 0 for r in rows))
    assert total["estimated_cost_usd"] == pytest.approx(
        sum(r.cost_usd or 0 for r in rows if r.cost_estimated))
    assert total["unpriced"] == sum(1 for r in rows if r.cost_usd is None
                                    and (r.input_tokens or r.output_tokens))
    by_model = {m["key"]: m["requests"] for m in live.snapshot()["by_model"]}
    assert by_model == {"glm-5.1": sum(1 for r in rows if r.upstream_model == "glm-5.1"),
                        "kimi-k2.6": sum(1 for r in rows if r.upstream_model == "kimi-k2.6"),
                        "asked": sum(1 for r in rows if r.upstream_model is None)}
    merged = live.merged(None)["total"]
    expect_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
    for r in rows:
        expect_buckets[bisect.bisect_left(LATENCY_BUCKETS, r.duration_ms / 1000)] += 1
    assert merged.latency_buckets == expect_buckets
    assert merged.ttfb.count == sum(1 for r in rows if r.ttfb_ms is not None)
    assert merged.latency_sum == pytest.approx(sum(r.duration_ms for r in rows) / 1000)
    plain_ok = sum(1 for r in rows if r.attempts_json is None and r.instance is not None)
    assert sum(n for k, n in live.attempts.items() if k[2] == "ok") == plain_ok
    assert live.attempts[("opencode-go", "glm-5.1", "upstream_status")] == 3
    assert live.fallbacks == {o: sum(1 for r in rows if r.fallbacks and r.outcome == o)
                              for o in {r.outcome for r in rows if r.fallbacks}}
    per_minute = {p["ts"] // 60: p for p in live.minutes(10) if p["requests"]}
    for minute, p in per_minute.items():
        mine = [r for r in rows if int(r.ts // 60) == minute]
        assert p["requests"] == len(mine)
        assert p["errors"] == sum(1 for r in mine if r.outcome == "error")
        assert p["tokens"] == sum(r.input_tokens + r.output_tokens + r.cache_read_tokens
                                  + r.cache_write_tokens for r in mine)
    assert sum(p["requests"] for p in per_minute.values()) == 60
    assert len(live.recent) == 60


def test_a_batch_of_one_group_counts_like_a_mixed_one() -> None:
    """The usual batch (every row the same model, instance, status and outcome) is folded
    in without a loop over its rows; its figures equal adding them one batch at a time."""
    from crossway.observability.live import LiveStats
    rows = [make_row(ts=T0 + i / 10, duration_ms=10.0 + i, input_tokens=i, cost_usd=0.001,
                     attempts_json=None)
            for i in range(40)]
    whole, parts = LiveStats(clock=lambda: T0), LiveStats(clock=lambda: T0)
    whole.add_rows(rows, [])
    for row in rows:
        parts.add_rows([row], [])
    assert whole.snapshot() == parts.snapshot()
    assert whole.snapshot()["totals"]["requests"] == 40
    assert whole.attempts == parts.attempts == {("opencode-go", "kimi-k2.6", "ok"): 40}


@pytest.mark.parametrize("as_json", [False, True])
def test_access_lines_written_without_a_log_record_equal_formatted_ones(as_json: bool) -> None:
    """The writer thread writes configure()'s access lines without making a LogRecord each:
    every line must be what the configured formatter makes of the record (times across
    seconds, milliseconds near 0 and 999, JSON and plain messages)."""
    from crossway.observability import logsetup
    created = [1_780_000_000.0, 1_780_000_000.0004, 1_780_000_000.9996, 1_780_000_001.5,
               1_780_000_001.999999, 1_780_003_601.25]
    messages = ["req=req_1 POST /v1/chat/completions status=200 total=1.2ms",
                '{"req":"req_2","status":200}', "ünïcode and % signs %s"]
    items = [(t, m) for t in created for m in messages]
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logsetup.JsonFormatter() if as_json
                         else logging.Formatter(logsetup.TEXT_FORMAT))
    q: queue.SimpleQueue[logsetup.QueueItem] = queue.SimpleQueue()
    writer = logsetup.LogWriter(q, handler, access_format="json" if as_json else "text")
    for item in items:
        q.put(item)
    writer._drain()
    expected = [handler.format(logsetup._access_record(*item)) for item in items]
    assert out.getvalue().splitlines() == expected


def test_access_lines_queued_directly_read_like_logged_ones() -> None:
    """Under `crossway serve` the access line skips the logging machinery on the event loop
    (logsetup.access); the writer thread formats it as any record of crossway.access, and
    keeps its order among the other records."""
    from crossway.observability import logsetup
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    writer = logsetup.configure("INFO", as_json=False, stream=out)
    try:
        logging.getLogger("crossway").info("before")
        assert logsetup.access("req=req_1 POST /v1/chat/completions status=200")
        logging.getLogger("crossway.access").info("req=req_2 the usual way")
    finally:
        writer.stop()
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    assert not logsetup.access("after stop")  # no writer: the caller logs the usual way
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO crossway: before",
        "INFO crossway.access: req=req_1 POST /v1/chat/completions status=200",
        "INFO crossway.access: req=req_2 the usual way"]
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert all(re.match(stamp + " INFO ", line) for line in lines)


def test_recent_rows_are_the_last_hundred_across_batches_of_any_size() -> None:
    from crossway.observability.live import RECENT, LiveStats
    live = LiveStats(clock=lambda: T0)
    sent: list[object] = []
    n = 0
    for size in (3, 1, 250, 7, 99, 1, 100, 40, 0, 60, 2):
        rows = [make_row(request_id=f"req_{n + i}", ts=T0 + (n + i) / 100)
                for i in range(size)]
        n += size
        live.add_rows(rows, [])
        sent += rows
        assert live.recent == sent[-RECENT:]
