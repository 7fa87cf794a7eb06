"""The default usage store: one SQLite file, written from one worker thread.

The standard sqlite3 module blocks, so every statement runs on a single dedicated thread
(one connection, used only there); the event loop only awaits the result. WAL lets
`crossway usage` read the file while a running gateway writes it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar

from crossway.observability.rows import COLUMNS, UsageRow, row_from_values
from crossway.observability.store import sql
from crossway.observability.store.base import (
    CostSum,
    Group,
    GroupBy,
    StoreError,
    UsageStore,
)

T = TypeVar("T")

# Version 3's table: version 2's columns in version 2's order (1's, then those it added),
# without the primary key on request_id (see the migration).
_V3_TABLE = """CREATE TABLE usage_v3 (
    request_id TEXT NOT NULL,
    ts REAL NOT NULL,
    client_dialect TEXT NOT NULL,
    model_requested TEXT,
    target TEXT,
    instance TEXT,
    backend TEXT,
    upstream_model TEXT,
    upstream_dialect TEXT,
    fast_path INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    ttfb_ms REAL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL,
    error TEXT,
    client_family TEXT NOT NULL DEFAULT 'other',
    conversation TEXT,
    backend_type TEXT,
    fallbacks INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_estimated INTEGER NOT NULL DEFAULT 0,
    key_id TEXT,
    attempts_json TEXT
)"""
_V2_COLUMNS = ", ".join(line.split()[0] for line in _V3_TABLE.splitlines()[1:-1])

# Each entry migrates the schema from version N-1 to N. Version 1 is the first released
# layout; a fresh database runs them all, an older one only those it lacks.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (
        """CREATE TABLE usage (
            request_id TEXT PRIMARY KEY,
            ts REAL NOT NULL,
            client_dialect TEXT NOT NULL,
            model_requested TEXT,
            target TEXT,
            instance TEXT,
            backend TEXT,
            upstream_model TEXT,
            upstream_dialect TEXT,
            fast_path INTEGER NOT NULL,
            stream INTEGER NOT NULL,
            status INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            duration_ms REAL NOT NULL,
            ttfb_ms REAL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            cost_usd REAL,
            error TEXT
        )""",
        "CREATE INDEX usage_ts ON usage (ts)",
    )),
    (2, (
        # Version 2: client family, conversation, backend type (for the Go quota meter),
        # fallbacks, reasoning tokens, estimated-cost flag, client key id, attempts.
        "ALTER TABLE usage ADD COLUMN client_family TEXT NOT NULL DEFAULT 'other'",
        "ALTER TABLE usage ADD COLUMN conversation TEXT",
        "ALTER TABLE usage ADD COLUMN backend_type TEXT",
        "ALTER TABLE usage ADD COLUMN fallbacks INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE usage ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE usage ADD COLUMN cost_estimated INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE usage ADD COLUMN key_id TEXT",
        "ALTER TABLE usage ADD COLUMN attempts_json TEXT NOT NULL DEFAULT '[]'",
        # Version 1 only knew the built-in OpenCode backends by name.
        "UPDATE usage SET backend_type = backend "
        "WHERE backend IN ('opencode-go', 'opencode-zen')",
        "UPDATE usage SET fallbacks = MAX(attempts - 1, 0)",
        "CREATE INDEX usage_backend_type_ts ON usage (backend_type, ts)",
    )),
    (3, (
        # Version 3, to make each insert cheaper (it runs once per request, on the gateway's
        # core): attempts_json may be NULL (a lone clean attempt is the row itself, so most
        # rows store no JSON), and the table keeps one index, on ts, instead of three. The
        # primary key on request_id served no query, and made a row whose id repeated one
        # from an earlier run be dropped without a word. The (backend_type, ts) index helped
        # the Go quota query only where most traffic is not Go; the ts index serves it too.
        # SQLite changes neither a NOT NULL nor a primary key in place: the table is rebuilt.
        _V3_TABLE,
        f"INSERT INTO usage_v3 ({_V2_COLUMNS}) SELECT {_V2_COLUMNS} FROM usage",
        "DROP TABLE usage",
        "ALTER TABLE usage_v3 RENAME TO usage",
        "CREATE INDEX usage_ts ON usage (ts)",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def _ph(index: int) -> str:
    # Numbered, because the cost-window query uses some parameters more than once.
    return f"?{index}"


_DIMENSIONS = {
    **sql.COMMON_DIMENSIONS,
    "day": "strftime('%Y-%m-%d', ts, 'unixepoch')",
    "hour": "strftime('%Y-%m-%d %H:00', ts, 'unixepoch')",
}


# At most this many rows per INSERT (100 x 30 columns = 3,000 parameters; SQLite allows
# 32,766 since 3.32, older builds 999: the connection's own limit is read at open).
ROWS_PER_INSERT = 100


class SQLiteStore(UsageStore):
    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.description = f"sqlite {self.path}"
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._rconn: sqlite3.Connection | None = None
        self._inserts: dict[int, str] = {}  # rows -> INSERT statement
        self._rows_per_insert = ROWS_PER_INSERT

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """On the writer's connection and thread."""
        if self._executor is None or self._conn is None:
            raise StoreError(f"usage store {self.path} is not open")
        conn = self._conn
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, lambda: fn(conn))
        except sqlite3.Error as exc:
            raise StoreError(f"usage database {self.path}: {exc}") from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """On a reader connection and thread of its own: a query over a large window (seconds
        on millions of rows) must not hold up the batch writer behind it, which would let
        rows pile up and be dropped. WAL lets one writer and readers work at once."""
        if self._reader is None:
            if self._executor is None:
                raise StoreError(f"usage store {self.path} is not open")
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="crossway-usage-read")
        reader = self._reader
        try:
            return await asyncio.get_running_loop().run_in_executor(
                reader, lambda: fn(self._reader_conn()))
        except sqlite3.Error as exc:
            raise StoreError(f"usage database {self.path}: {exc}") from exc

    def _reader_conn(self) -> sqlite3.Connection:
        # Made in the reader thread on first use (the schema exists by then: open() ran).
        if self._rconn is None:
            self._rconn = sqlite3.connect(self.path, timeout=self._busy_timeout_s,
                                          check_same_thread=False, isolation_level=None)
        return self._rconn

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="crossway-usage-sqlite")
        try:
            self._conn = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._connect)
        except (sqlite3.Error, OSError) as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise StoreError(f"cannot open the usage database {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s,
                               check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a crash may lose the last batch, never corrupt the file.
            conn.execute("PRAGMA synchronous=NORMAL")
            migrate(conn)
            limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._rows_per_insert = max(1, min(ROWS_PER_INSERT, limit // len(COLUMNS)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _insert_sql(self, n: int) -> str:
        stmt = self._inserts.get(n)
        if stmt is None:
            one = "(" + ", ".join("?" * len(COLUMNS)) + ")"
            stmt = self._inserts[n] = (
                f"INSERT INTO usage ({', '.join(COLUMNS)}) VALUES {', '.join([one] * n)}")
        return stmt

    async def write(self, rows: Sequence[UsageRow]) -> None:
        if not rows:
            return
        # Many rows per INSERT, not executemany: the sqlite3 module lets go of the GIL around
        # every statement it steps, and a writer thread taking it back once per row made the
        # event loop's thread wait for it once per row too (measured: a store that cost the
        # fast path ~15% of its CPU per request cost ~3% this way; docs/benchmarks.md).
        per = self._rows_per_insert
        work = [(self._insert_sql(len(b)), list(chain.from_iterable(b)))
                for b in (rows[i:i + per] for i in range(0, len(rows), per))]

        def insert(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                for stmt, values in work:
                    conn.execute(stmt, values)
        await self._run(insert)

    async def _aggregate(self, dim: GroupBy | None, since: float, until: float | None,
                         limit: int | None) -> list[Group]:
        where, params = sql.window_clause(_ph, since, until)
        key = _DIMENSIONS[dim] if dim else "NULL"
        agg = f"SELECT {key}, {', '.join(sql.AGGREGATES)} FROM usage WHERE {where}"
        if dim:
            agg += f" GROUP BY 1 {sql.group_order(dim)}"
            if limit is not None:
                agg += f" LIMIT {int(limit)}"
        samples = f"SELECT {key}, duration_ms, ttfb_ms FROM usage WHERE {where}"

        def query(conn: sqlite3.Connection) -> list[Group]:
            with _transaction(conn, immediate=False):
                rows = conn.execute(agg, params).fetchall()
                if dim is None and rows and rows[0][1] == 0:
                    return []
                lat: dict[Any, tuple[list[float], list[float]]] = {r[0]: ([], []) for r in rows}
                for k, d, t in conn.execute(samples, params):
                    if k in lat:
                        lat[k][0].append(d)
                        if t is not None:
                            lat[k][1].append(t)
            return [Group(None if r[0] is None else str(r[0]),
                          sql.totals_from(r[1:], sql.percentiles_of(*lat[r[0]])))
                    for r in rows]
        return await self._read(query)

    async def cost_windows(self, backend_type: str, starts: Sequence[float],
                           until: float | None = None) -> dict[str, list[CostSum]]:
        if not starts:
            return {}
        stmt = sql.cost_windows_sql(_ph, len(starts), until is not None)
        params = sql.cost_windows_params(backend_type, starts, until)

        def query(conn: sqlite3.Connection) -> dict[str, list[CostSum]]:
            return {r[0]: sql.cost_sums_from(r, len(starts))
                    for r in conn.execute(stmt, params)}
        return await self._read(query)

    async def recent(self, limit: int = 50) -> list[UsageRow]:
        stmt = f"{sql.select_rows_sql()} ORDER BY ts DESC, request_id DESC LIMIT ?"

        def query(conn: sqlite3.Connection) -> list[UsageRow]:
            return [row_from_values(r) for r in conn.execute(stmt, (limit,))]
        return await self._read(query)

    async def prune(self, retention_days: float, now: float) -> int:
        cutoff = now - retention_days * 86400.0

        def delete(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                return conn.execute("DELETE FROM usage WHERE ts < ?", (cutoff,)).rowcount
        return await self._run(delete)

    async def close(self) -> None:
        reader, rconn = self._reader, self._rconn
        self._reader = self._rconn = None
        if reader is not None:
            if rconn is not None:
                await asyncio.get_running_loop().run_in_executor(reader, rconn.close)
            reader.shutdown(wait=True)
        executor, conn = self._executor, self._conn
        self._executor = self._conn = None
        if executor is None:
            return
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
        executor.shutdown(wait=True)


class _transaction:
    """BEGIN ... COMMIT on an autocommit connection; ROLLBACK on any error.

    Writers take the write lock up front (IMMEDIATE), so a busy database waits busy_timeout
    once instead of failing half-way through a batch; readers get one consistent snapshot.
    """

    def __init__(self, conn: sqlite3.Connection, *, immediate: bool = True) -> None:
        self.conn = conn
        self.begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute(self.begin)
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it had before."""
    with _transaction(conn):
        before = schema_version(conn)
        if before > SCHEMA_VERSION:
            raise StoreError(
                f"the usage database has schema version {before}, newer than this crossway "
                f"understands ({SCHEMA_VERSION}); upgrade crossway or point it at another file")
        for version, statements in MIGRATIONS:
            if version <= before:
                continue
            for stmt in statements:
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    return before
