"""The default usage store: one SQLite file, written from one worker thread.

The standard sqlite3 module blocks, so every statement runs on a single dedicated thread
(one connection, used only there); the event loop only awaits the result. WAL lets
`crossway usage` read the file while a running gateway writes it. Rows are written as
`requests` plus their `routes` and read back through the `usage` view (sqlite_schema.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain, repeat
from pathlib import Path
from typing import Any, TypeVar

from crossway.observability.rows import (
    BOOL_COLUMNS,
    COLUMNS,
    RowBatch,
    UsageRow,
    one_value,
    row_from_values,
)
from crossway.observability.store import sql
from crossway.observability.store.base import (
    CostSum,
    Group,
    GroupBy,
    StoreError,
    UsageStore,
)
from crossway.observability.store.sqlite_schema import (
    FACT_COLUMNS,
    ROUTE_COLUMNS,
    ROUTE_KEY,
    migrate,
)

T = TypeVar("T")


def _ph(index: int) -> str:
    # Numbered, because the cost-window query uses some parameters more than once.
    return f"?{index}"


_DIMENSIONS = {
    **sql.COMMON_DIMENSIONS,
    "day": "strftime('%Y-%m-%d', ts, 'unixepoch')",
    "hour": "strftime('%Y-%m-%d %H:00', ts, 'unixepoch')",
}


# At most this many rows per INSERT (128 x 18 values = 2,304 parameters; SQLite allows
# 32,766 since 3.32, older builds 999: the connection's own limit is read at open). A batch
# goes in as full INSERTs and a remainder in powers of two (64, 32, ... 1 rows), so a handful
# of statements, each prepared once and kept in the module's cache, serve any batch size
# (a statement per remainder size had SQLite parse a new one for most batches).
ROWS_PER_INSERT = 128
_PER_ROW = len(FACT_COLUMNS) + 1  # values bound per row: its own, and its route's id
_ROUTE_INDEXES = tuple(COLUMNS.index(c) for c in ROUTE_COLUMNS)
_FACT_INDEXES = tuple(COLUMNS.index(c) for c in FACT_COLUMNS)
_BOOL_FACTS = tuple(i for i, c in enumerate(FACT_COLUMNS) if c in BOOL_COLUMNS)
_INSERT_COLUMNS = (*FACT_COLUMNS, "route")
MAX_STATEMENTS = 64  # INSERT texts kept (batch layouts x sizes; a handful in practice)


def _power_of_two(n: int) -> int:
    """The largest power of two not above n (1 for n < 1)."""
    return 1 << (max(n, 1).bit_length() - 1)


def _route_id(conn: sqlite3.Connection, route: tuple[Any, ...]) -> int:
    """The id of a route, added when new (inside the writer's transaction)."""
    conn.execute(f"INSERT OR IGNORE INTO routes ({', '.join(ROUTE_COLUMNS)}, key) "
                 f"VALUES ({', '.join('?' * len(route))}, {ROUTE_KEY})", route + route)
    row = conn.execute(f"SELECT id FROM routes WHERE key = {ROUTE_KEY}", route).fetchone()
    return int(row[0])


def _insert_text(n: int, columns: tuple[str, ...], shared: tuple[bool, ...]) -> str:
    """INSERT of n rows: a column of its own takes a parameter per row (?1, ?2, ... row
    after row), a column shared by the batch one parameter that every row names (numbered
    after the rows')."""
    width = shared.count(False)
    common = [f"?{n * width + j + 1}" for j in range(len(shared) - width)]
    rows = []
    p = 0
    for _ in range(n):
        named = iter(common)
        cells = []
        for one in shared:
            if one:
                cells.append(next(named))
            else:
                p += 1
                cells.append(f"?{p}")
        rows.append(f"({', '.join(cells)})")
    return f"INSERT INTO requests ({', '.join(columns)}) VALUES {', '.join(rows)}"


class SQLiteStore(UsageStore):
    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.description = f"sqlite {self.path}"
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._rconn: sqlite3.Connection | None = None
        # (rows, columns, which are shared by the batch) -> INSERT text
        self._inserts: dict[tuple[int, tuple[str, ...], tuple[bool, ...]], str] = {}
        self._rows_per_insert = ROWS_PER_INSERT
        # Route (ROUTE_COLUMNS values) -> its id in `routes`; used on the writer thread only.
        self._routes: dict[tuple[Any, ...], int] = {}

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
            self._rows_per_insert = _power_of_two(min(ROWS_PER_INSERT, limit // _PER_ROW))
        except BaseException:
            conn.close()
            raise
        return conn

    def _insert_sql(self, n: int, columns: tuple[str, ...], shared: tuple[bool, ...]) -> str:
        key = (n, columns, shared)
        stmt = self._inserts.get(key)
        if stmt is None:
            if len(self._inserts) >= MAX_STATEMENTS:
                self._inserts.clear()
            stmt = self._inserts[key] = _insert_text(n, columns, shared)
        return stmt

    async def write(self, rows: Sequence[UsageRow]) -> None:
        batch = RowBatch.of(rows)
        if not batch:
            return
        # Many rows per INSERT, not executemany: the sqlite3 module lets go of the GIL around
        # every statement it steps, and a writer thread taking it back once per row made the
        # event loop's thread wait for it once per row too (measured: a store that cost the
        # fast path ~15% of its CPU per request cost ~3% this way; docs/benchmarks.md).
        per = self._rows_per_insert

        def insert(conn: sqlite3.Connection) -> None:
            try:
                with _transaction(conn):
                    names, shared, values, constants = self._values(conn, batch)
                    n, width = len(batch), shared.count(False)
                    i = 0
                    while i < n:
                        k = min(per, _power_of_two(n - i))
                        conn.execute(self._insert_sql(k, names, shared),
                                     values[i * width:(i + k) * width] + constants)
                        i += k
            except BaseException:
                # Routes this transaction added are gone with it: forget every id learnt.
                self._routes.clear()
                raise
        await self._run(insert)

    def _values(self, conn: sqlite3.Connection, batch: RowBatch,
                ) -> tuple[tuple[str, ...], tuple[bool, ...], list[Any], list[Any]]:
        """What this batch's INSERTs bind (writer thread), read from the batch's columns:
        the columns, which of them hold one value in every row, the other columns' values
        row by row (flat), and the shared ones' values.

        Binding costs more than storing: each value is a call into the sqlite3 module and
        SQLite takes its connection's mutex per call. Most columns of a usual batch hold one
        value throughout (status 200, outcome ok, one attempt, no cache tokens, the route):
        bound once per INSERT and named by every row (?NNN), they cost a third of the
        writer's instructions less per row (docs/benchmarks.md). A nullable column that is
        NULL in every row is left out altogether. And booleans are bound as 0/1: the sqlite3
        module binds an exact int, float or str directly, anything else only after looking
        for an adapter and failing (an AttributeError made and dropped per value)."""
        columns = batch.columns
        facts: list[Sequence[Any]] = [columns[i] for i in _FACT_INDEXES]
        for i in _BOOL_FACTS:
            facts[i] = list(map(int, facts[i]))
        facts.append(self._route_ids(conn, batch))
        names: list[str] = []
        shared: list[bool] = []
        varying: list[Sequence[Any]] = []
        constants: list[Any] = []
        for name, column in zip(_INSERT_COLUMNS, facts, strict=True):
            first = column[0]
            one = one_value(column)
            if one and first is None:
                continue  # NULL in every row: the column's default
            names.append(name)
            shared.append(one)
            if one:
                constants.append(first)
            else:
                varying.append(column)
        values = list(chain.from_iterable(zip(*varying, strict=True)))
        return tuple(names), tuple(shared), values, constants

    def _route_ids(self, conn: sqlite3.Connection, batch: RowBatch) -> list[int]:
        """Each row's route id (0 is no id: routes count from 1), added when new."""
        routes: dict[tuple[Any, ...], int] = self._routes
        route_columns = [batch.columns[i] for i in _ROUTE_INDEXES]
        n = len(batch)
        if all(map(one_value, route_columns)):  # the usual batch
            return [self._route(conn, tuple(column[0] for column in route_columns))] * n
        ids = list(map(routes.get, zip(*route_columns, strict=True), repeat(0)))
        if 0 in ids:
            for i, rid in enumerate(ids):
                if not rid:
                    ids[i] = self._route(conn, tuple(column[i] for column in route_columns))
        return ids

    def _route(self, conn: sqlite3.Connection, route: tuple[Any, ...]) -> int:
        """A route's id, learnt from the database (and added there) the first time."""
        rid = self._routes.get(route)
        if rid is None:
            rid = self._routes[route] = _route_id(conn, route)
        return rid

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
                # Requests only: routes stay (few, and their ids are cached by every writer).
                return conn.execute("DELETE FROM requests WHERE ts < ?",
                                    (cutoff,)).rowcount
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
