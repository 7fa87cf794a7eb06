"""The batch writer: rows become visible within seconds, a slow or dead store never reaches
the request path, and every lost row is counted and the outage logged once."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from crossway.errors import ConfigError
from crossway.observability.store import (
    default_sqlite_path,
    retention_days_from_env,
    store_from_env,
    writer_from_env,
)
from crossway.observability.store.postgres import PostgresStore
from crossway.observability.store.sqlite import SQLiteStore
from crossway.observability.store.writer import UsageWriter
from tests.observability.pg import PgCluster, free_port
from tests.observability.rowkit import T0, make_row


def _count_rows(path: Path) -> int:
    """Read the file the way `crossway usage` does: another connection, WAL snapshot."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM usage").fetchone()[0])


async def _wait_for(predicate: Any, timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def _messages(caplog: pytest.LogCaptureFixture, level: int, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "crossway.usage" and r.levelno == level and text in r.getMessage()]


def test_rows_visible_within_a_few_seconds(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"

    async def go() -> float:
        writer = UsageWriter(SQLiteStore(path))  # default: flush every second
        await writer.start()
        for _ in range(3):
            writer.put(make_row())
        took = await _wait_for(lambda: _count_rows(path) == 3, timeout=5.0)
        assert writer.counters.rows_written == 3
        await writer.close()
        return took
    assert asyncio.run(go()) < 3.0


def test_a_full_batch_is_written_before_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"

    async def go() -> float:
        writer = UsageWriter(SQLiteStore(path), batch_size=20, flush_interval=60.0)
        await writer.start()
        for _ in range(20):
            writer.put(make_row())
        took = await _wait_for(lambda: _count_rows(path) == 20, timeout=5.0)
        await writer.close()
        return took
    assert asyncio.run(go()) < 2.0


def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"

    async def go() -> None:
        writer = UsageWriter(SQLiteStore(path), batch_size=7, flush_interval=60.0)
        await writer.start()
        for _ in range(25):
            writer.put(make_row())
        await writer.close()
    asyncio.run(go())
    assert _count_rows(path) == 25


def test_a_slow_store_never_delays_put_or_the_loop(tmp_path: Path) -> None:
    """Another process holds the database's write lock for 1.5 s: the writer's batch waits
    on the lock in its thread while requests keep putting rows without delay."""
    path = tmp_path / "usage.db"
    asyncio.run(_init(path))

    async def go() -> tuple[list[float], float, UsageWriter]:
        writer = UsageWriter(SQLiteStore(path, busy_timeout_s=10.0), flush_interval=0.05,
                             batch_size=50)
        await writer.start()
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        lag = 0.0
        puts: list[float] = []
        release_at = time.monotonic() + 1.5
        while time.monotonic() < release_at:
            for _ in range(20):
                t = time.perf_counter()
                writer.put(make_row())
                puts.append(time.perf_counter() - t)
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lag = max(lag, time.monotonic() - before - 0.01)
        assert _count_rows_unlocked(locker) == 0  # nothing got through while locked
        locker.execute("COMMIT")
        locker.close()
        await writer.flush()
        await writer.close()
        return puts, lag, writer
    puts, lag, writer = asyncio.run(go())
    # Had put() or the loop waited for the store, they would have waited for the lock (1.5 s).
    # The bounds leave room for a shared, loaded machine descheduling the process.
    puts.sort()
    assert puts[-1] < 0.5
    assert puts[int(len(puts) * 0.99)] < 0.002
    assert lag < 0.5
    assert writer.counters.rows_dropped == 0
    assert writer.counters.rows_written == _count_rows(path) > 500


def _count_rows_unlocked(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM usage").fetchone()[0])


async def _init(path: Path) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


def test_store_down_drops_counts_and_logs_once(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "usage.db"
    asyncio.run(_init(path))
    caplog.set_level(logging.INFO, logger="crossway.usage")

    async def go() -> UsageWriter:
        writer = UsageWriter(SQLiteStore(path, busy_timeout_s=0.05), flush_interval=0.05)
        await writer.start()
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        for _ in range(4):  # four batches, each failing on the lock
            for _ in range(5):
                writer.put(make_row())
            await writer.flush()
        assert writer.counters.rows_dropped == 20
        assert writer.counters.write_errors == 4
        assert not writer.healthy
        locker.execute("COMMIT")
        locker.close()
        for _ in range(3):
            writer.put(make_row())
        await writer.flush()
        await writer.close()
        return writer
    writer = asyncio.run(go())
    assert writer.counters.rows_written == 3 == _count_rows(path)
    assert writer.healthy
    down = _messages(caplog, logging.ERROR, "usage store unavailable")
    assert len(down) == 1 and "database is locked" in down[0]
    up = _messages(caplog, logging.WARNING, "recovered")
    assert len(up) == 1 and "20 usage rows were lost" in up[0]


def test_postgres_down_and_back(own_pg_cluster: PgCluster,
                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.usage")
    store = PostgresStore(own_pg_cluster.url, timeout_s=3.0)

    async def go() -> UsageWriter:
        writer = UsageWriter(store, flush_interval=0.05)
        await writer.start()
        for _ in range(5):
            writer.put(make_row())
        await writer.flush()
        assert writer.counters.rows_written == 5
        await asyncio.to_thread(own_pg_cluster.stop)
        for _ in range(3):
            for _ in range(4):
                writer.put(make_row())
            await writer.flush()
        assert writer.counters.rows_dropped == 12
        await asyncio.to_thread(own_pg_cluster.start)
        # The pool notices its dead connections on first use; keep going until rows land.
        deadline = time.monotonic() + 20
        while writer.counters.rows_written == 5:
            assert time.monotonic() < deadline, "writes never recovered after the restart"
            writer.put(make_row())
            await writer.flush()
        total = writer.counters.rows_written
        await writer.close()
        check = PostgresStore(own_pg_cluster.url)
        await check.open()
        stored = (await check.totals(0.0)).requests
        await check.close()
        assert stored == total
        return writer
    writer = asyncio.run(go())
    assert len(_messages(caplog, logging.ERROR, "usage store unavailable")) == 1
    assert len(_messages(caplog, logging.WARNING, "recovered")) == 1
    assert writer.counters.rows_dropped >= 12


def test_unreachable_store_at_start(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.usage")
    store = PostgresStore(f"postgresql://crossway@127.0.0.1:{free_port()}/usage", timeout_s=2)

    async def go() -> UsageWriter:
        writer = UsageWriter(store, flush_interval=0.05)
        await writer.start()  # does not raise: crossway serves without its store
        for _ in range(3):
            writer.put(make_row())
            await writer.flush()
        await writer.close()
        return writer
    writer = asyncio.run(go())
    assert writer.counters.rows_dropped == 3
    assert writer.counters.rows_written == 0
    assert writer.counters.write_errors >= 2  # open retried at each flush
    assert len(_messages(caplog, logging.ERROR, "usage store unavailable")) == 1


def test_full_queue_drops_newest_rows_and_logs_once(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.usage")
    path = tmp_path / "usage.db"

    async def go() -> UsageWriter:
        writer = UsageWriter(SQLiteStore(path), max_queue=10, batch_size=100)
        for _ in range(15):  # the writer has not started: nothing drains the queue
            writer.put(make_row())
        assert writer.queued == 10
        assert writer.counters.rows_dropped == 5
        await writer.start()
        await writer.flush()
        await writer.close()
        return writer
    writer = asyncio.run(go())
    assert writer.counters.rows_written == 10 == _count_rows(path)
    assert len(_messages(caplog, logging.ERROR, "not keeping up")) == 1
    assert len(_messages(caplog, logging.WARNING, "caught up")) == 1


def test_closing_an_unstarted_writer_counts_its_rows_as_dropped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crossway.usage")
    writer = UsageWriter(SQLiteStore(tmp_path / "usage.db"))
    writer.put(make_row())
    writer.put(make_row())
    asyncio.run(writer.close())
    assert writer.counters.rows_dropped == 2
    assert _messages(caplog, logging.ERROR, "2 rows dropped: the writer was closed without")


def test_retention_prunes_old_rows_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"

    async def go() -> None:
        writer = UsageWriter(SQLiteStore(path), flush_interval=0.05, retention_days=30,
                             clock=lambda: T0)
        await writer.start()
        writer.put(make_row(ts=T0 - 31 * 86400))
        writer.put(make_row(ts=T0 - 86400))
        await writer.flush()
        await writer.close()  # the first pass of the writer prunes after its first batch
    asyncio.run(go())
    assert _count_rows(path) == 1
    asyncio.run(go())
    assert _count_rows(path) == 2  # the recent row of each run; both 31-day-old rows pruned


def test_configuration_from_environment(tmp_path: Path) -> None:
    assert store_from_env({"CROSSWAY_USAGE": "off"}) is None
    assert writer_from_env({"CROSSWAY_USAGE": "off"}) is None
    default = store_from_env({"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert isinstance(default, SQLiteStore)
    assert default.path == tmp_path / "xdg" / "crossway" / "usage.db"
    assert default_sqlite_path({"HOME": "/home/a"}, "linux") == Path(
        "/home/a/.local/share/crossway/usage.db")
    assert default_sqlite_path({"HOME": "/Users/a"}, "darwin") == Path(
        "/Users/a/Library/Application Support/crossway/usage.db")
    assert default_sqlite_path({"HOME": "C:/Users/a", "LOCALAPPDATA": "C:/Users/a/AppData/Local"},
                               "win32") == Path("C:/Users/a/AppData/Local/crossway/usage.db")
    pg = store_from_env({"CROSSWAY_DATABASE_URL": "postgresql://u:pw@db:5432/crossway"})
    assert isinstance(pg, PostgresStore)
    assert pg.description == "postgres postgresql://u:***@db:5432/crossway"
    file = store_from_env({"CROSSWAY_DATABASE_URL": "sqlite:///var/lib/crossway/u.db"})
    assert isinstance(file, SQLiteStore) and file.path == Path("/var/lib/crossway/u.db")
    with pytest.raises(ConfigError, match="postgresql:// or sqlite://"):
        store_from_env({"CROSSWAY_DATABASE_URL": "mysql://x"})
    assert retention_days_from_env({}) == 90
    assert retention_days_from_env({"CROSSWAY_USAGE_RETENTION_DAYS": "7"}) == 7
    assert retention_days_from_env({"CROSSWAY_USAGE_RETENTION_DAYS": "0"}) is None
    with pytest.raises(ConfigError, match="number of days"):
        retention_days_from_env({"CROSSWAY_USAGE_RETENTION_DAYS": "a week"})
    writer = writer_from_env({"CROSSWAY_DATABASE_URL": f"sqlite:///{tmp_path}/w.db",
                              "CROSSWAY_USAGE_RETENTION_DAYS": "14"})
    assert writer is not None and isinstance(writer.store, SQLiteStore)
