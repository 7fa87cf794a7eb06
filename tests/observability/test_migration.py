"""A usage database written with schema version 1 (fixtures/usage_v1.*.sql) is upgraded in
place on open, keeps its rows, and a database from a newer crossway is refused clearly."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from crossway.observability.store import postgres as pg_store
from crossway.observability.store import sqlite_schema as sqlite_store
from crossway.observability.store.base import StoreError
from crossway.observability.store.postgres import PostgresStore
from crossway.observability.store.sqlite import SQLiteStore
from tests.observability.rowkit import make_row

FIXTURES = Path(__file__).parent / "fixtures"


def _columns_sqlite(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return [tuple(r[1:]) for r in conn.execute("PRAGMA table_info(usage)")]


def test_fixture_is_what_version_1_created() -> None:
    """The fixture must be the real old layout, or the migration test proves nothing."""
    fixture = sqlite3.connect(":memory:")
    fixture.executescript((FIXTURES / "usage_v1.sqlite.sql").read_text())
    fresh = sqlite3.connect(":memory:")
    for stmt in sqlite_store.MIGRATIONS[0][1]:
        fresh.execute(stmt)
    assert _columns_sqlite(fixture) == _columns_sqlite(fresh)


def _check_migrated(rows: list[Any]) -> None:
    by_id = {r.request_id: r for r in rows}
    assert set(by_id) == {"req_old00000001", "req_old00000002", "req_old00000003"}
    go = by_id["req_old00000001"]
    assert (go.backend_type, go.cache_read_tokens, go.cost_usd) == ("opencode-go", 30000, 0.0213)
    assert (go.client_family, go.conversation, go.key_id) == ("other", None, None)
    assert (go.reasoning_tokens, go.cost_estimated, go.attempt_list()) == (0, False, [])
    assert go.stream is True and go.fast_path is False
    assert by_id["req_old00000002"].fallbacks == 1  # derived from attempts=2
    assert by_id["req_old00000002"].backend_type == "opencode-zen"
    old_vllm = by_id["req_old00000003"]
    assert old_vllm.backend_type is None  # only the built-in backends are known by name
    assert old_vllm.error == "upstream refused the connection"


def test_sqlite_migrates_a_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / "usage_v1.sqlite.sql").read_text())

    async def go() -> Any:
        store = SQLiteStore(path)
        await store.open()
        try:
            await store.write([make_row(request_id="req_new00000001")])
            return await store.recent(10), await store.cost_windows("opencode-go", [0.0])
        finally:
            await store.close()
    rows, sums = asyncio.run(go())
    _check_migrated([r for r in rows if r.request_id.startswith("req_old")])
    assert len(rows) == 4
    assert sums["opencode-go"][0].requests == 2  # the migrated row counts for the quota
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version")]
        assert versions == [1, 2, 3]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_version_3_keeps_version_2_rows_and_stores_a_lone_attempt_as_null(
        tmp_path: Path) -> None:
    """Version 3 rebuilds the table so attempts_json may be NULL: the rows of a version 2
    database survive with their JSON, and a row with one clean attempt stores none."""
    path = tmp_path / "usage.db"
    with sqlite3.connect(path) as conn:
        for _version, statements in sqlite_store.MIGRATIONS[:2]:
            for stmt in statements:
                conn.execute(stmt)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.executemany("INSERT INTO schema_version VALUES (?)", [(1,), (2,)])
        old = make_row(request_id="req_v2000000001", fallbacks=1, attempts=2)
        conn.execute(f"INSERT INTO usage ({', '.join(old._fields)}) VALUES "
                     f"({', '.join('?' * len(old))})", old)
    lone = make_row(request_id="req_v3000000001", attempts_json=None)

    async def go() -> Any:
        store = SQLiteStore(path)
        await store.open()
        try:
            await store.write([lone])
            return await store.recent(10)
        finally:
            await store.close()
    rows = {r.request_id: r for r in asyncio.run(go())}
    assert rows["req_v2000000001"] == old
    assert rows["req_v3000000001"] == lone
    assert rows["req_v3000000001"].attempt_list() == [{
        "target": "opencode-go:kimi-k2.6", "dialect": "openai_chat", "fast": False,
        "status": 200, "failure": None, "error_class": None, "duration_ms": None,
        "ttfb_ms": None, "cost_usd": 0.01}]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT attempts_json FROM usage WHERE request_id = ?",
                            ("req_v3000000001",)).fetchone() == (None,)
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(requests)")}
        assert indexes == {"requests_ts"}  # one index to update per insert
        # One route shared by both rows (same client, model, target): stored once.
        assert conn.execute("SELECT COUNT(*) FROM routes").fetchone()[0] == 1


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StoreError, match="schema version 99, newer than this crossway"):
        asyncio.run(SQLiteStore(path).open())


def test_sqlite_created_on_first_start_in_missing_directories(tmp_path: Path) -> None:
    path = tmp_path / "data" / "crossway" / "usage.db"

    async def go() -> None:
        store = SQLiteStore(path)
        await store.open()
        await store.close()
        await store.open()  # a second start leaves the schema alone
        await store.close()
    asyncio.run(go())
    with sqlite3.connect(path) as conn:
        assert [v for (v,) in conn.execute("SELECT version FROM schema_version")] == [1, 2, 3]


def test_postgres_migrates_a_version_1_database(pg_url: str) -> None:
    async def go() -> Any:
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute((FIXTURES / "usage_v1.postgres.sql").read_text())
        finally:
            await conn.close()
        store = PostgresStore(pg_url)
        await store.open()
        try:
            rows = await store.recent(10)
        finally:
            await store.close()
        conn = await asyncpg.connect(pg_url)
        try:
            versions = [r[0] for r in await conn.fetch(
                "SELECT version FROM schema_version ORDER BY 1")]
        finally:
            await conn.close()
        return rows, versions
    rows, versions = asyncio.run(go())
    _check_migrated(rows)
    assert versions == [1, 2, 3]


def test_postgres_refuses_a_newer_schema(pg_url: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL);"
                               f"INSERT INTO schema_version VALUES ({pg_store.SCHEMA_VERSION + 1})")
        finally:
            await conn.close()
        await PostgresStore(pg_url).open()
    with pytest.raises(StoreError, match="newer than this crossway"):
        asyncio.run(go())


def test_postgres_unreachable_is_a_clear_store_error() -> None:
    from tests.observability.pg import free_port
    url = f"postgresql://crossway:secret@127.0.0.1:{free_port()}/usage"
    with pytest.raises(StoreError) as info:
        asyncio.run(PostgresStore(url, timeout_s=3).open())
    assert "cannot open the usage database" in str(info.value)
    assert "secret" not in str(info.value)  # the password never reaches a log line
