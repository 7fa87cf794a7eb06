"""The in-memory pieces as plain data: since-start percentiles, the answer cache, the quota
meter's refresh when rows land, which listen addresses count as loopback, and the log
writer thread."""

from __future__ import annotations

import asyncio
import io
import logging
import queue
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
