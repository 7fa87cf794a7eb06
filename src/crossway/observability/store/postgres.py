"""The usage store in Postgres (asyncpg), so several crossway replicas share one store.

Selected with `CROSSWAY_DATABASE_URL=postgresql://user@host/db`. Same table, same
definitions as the SQLite store; migrations run under an advisory lock so replicas starting
together migrate once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from crossway.observability.rows import UsageRow, row_from_values
from crossway.observability.store import sql
from crossway.observability.store.base import (
    CostSum,
    Group,
    GroupBy,
    StoreError,
    UsageStore,
)

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, (
        """CREATE TABLE usage (
            request_id TEXT PRIMARY KEY,
            ts DOUBLE PRECISION NOT NULL,
            client_dialect TEXT NOT NULL,
            model_requested TEXT,
            target TEXT,
            instance TEXT,
            backend TEXT,
            upstream_model TEXT,
            upstream_dialect TEXT,
            fast_path BOOLEAN NOT NULL,
            stream BOOLEAN NOT NULL,
            status INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            duration_ms DOUBLE PRECISION NOT NULL,
            ttfb_ms DOUBLE PRECISION,
            input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            cache_read_tokens BIGINT NOT NULL,
            cache_write_tokens BIGINT NOT NULL,
            cost_usd DOUBLE PRECISION,
            error TEXT
        )""",
        "CREATE INDEX usage_ts ON usage (ts)",
    )),
    (2, (
        "ALTER TABLE usage ADD COLUMN client_family TEXT NOT NULL DEFAULT 'other'",
        "ALTER TABLE usage ADD COLUMN conversation TEXT",
        "ALTER TABLE usage ADD COLUMN backend_type TEXT",
        "ALTER TABLE usage ADD COLUMN fallbacks INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE usage ADD COLUMN reasoning_tokens BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE usage ADD COLUMN cost_estimated BOOLEAN NOT NULL DEFAULT FALSE",
        "ALTER TABLE usage ADD COLUMN key_id TEXT",
        "ALTER TABLE usage ADD COLUMN attempts_json TEXT NOT NULL DEFAULT '[]'",
        "UPDATE usage SET backend_type = backend "
        "WHERE backend IN ('opencode-go', 'opencode-zen')",
        "UPDATE usage SET fallbacks = GREATEST(attempts - 1, 0)",
        "CREATE INDEX usage_backend_type_ts ON usage (backend_type, ts)",
    )),
    (3, (
        # Version 3, as in SQLite: attempts_json NULL for a lone clean attempt (the row
        # describes it), and no primary key on request_id (it served no query, and a row
        # whose id repeated one from an earlier run was dropped without a word).
        "ALTER TABLE usage ALTER COLUMN attempts_json DROP NOT NULL",
        "ALTER TABLE usage ALTER COLUMN attempts_json DROP DEFAULT",
        "ALTER TABLE usage DROP CONSTRAINT IF EXISTS usage_pkey",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
# Any constant shared by all replicas; serialises their migrations.
_MIGRATION_LOCK = 7_203_114_551


def _ph(index: int) -> str:
    return f"${index}"


_DIMENSIONS = {
    **sql.COMMON_DIMENSIONS,
    "day": "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
    "hour": "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00')",
}
_PCT = ("percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms), "
        "percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ttfb_ms)")


def redact(url: str) -> str:
    """The URL without its password, for messages and reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(UsageStore):
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 4,
                 timeout_s: float = 10.0) -> None:
        self.url = url
        self.description = f"postgres {redact(url)}"
        self._sizes = (min_size, max_size)
        self._timeout_s = timeout_s
        self._pool: Any = None

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self._sizes[0], max_size=self._sizes[1],
                timeout=self._timeout_s, command_timeout=self._timeout_s)
            async with self._pool.acquire() as conn:
                await migrate(conn)
        except StoreError:
            await self.close()
            raise
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            await self.close()
            raise StoreError(f"cannot open the usage database {redact(self.url)}: "
                             f"{_describe(exc)}") from exc

    def _require_pool(self) -> Any:
        if self._pool is None:
            raise StoreError(f"usage store {redact(self.url)} is not open")
        return self._pool

    async def _fetch(self, query: str, params: Sequence[Any]) -> list[Any]:
        pool = self._require_pool()
        try:
            return cast(list[Any], await pool.fetch(query, *params))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise StoreError(f"usage database {redact(self.url)}: {_describe(exc)}") from exc

    async def write(self, rows: Sequence[UsageRow]) -> None:
        if not rows:
            return
        pool = self._require_pool()
        stmt = sql.insert_sql(_ph)
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.executemany(stmt, rows)  # rows are tuples in COLUMNS order
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise StoreError(f"usage database {redact(self.url)}: {_describe(exc)}") from exc

    async def _aggregate(self, dim: GroupBy | None, since: float, until: float | None,
                         limit: int | None) -> list[Group]:
        where, params = sql.window_clause(_ph, since, until)
        key = _DIMENSIONS[dim] if dim else "NULL::text"
        query = (f"SELECT {key}, {', '.join(sql.AGGREGATES)}, {_PCT} "
                 f"FROM usage WHERE {where}")
        if dim:
            query += f" GROUP BY 1 {sql.group_order(dim)}"
            if limit is not None:
                query += f" LIMIT {int(limit)}"
        rows = await self._fetch(query, params)
        if dim is None and rows and rows[0][1] == 0:
            return []
        out = []
        for r in rows:
            lat, ttfb = r[-2] or [None] * 3, r[-1] or [None] * 3
            pct = [*lat, *ttfb]
            out.append(Group(r[0], sql.totals_from(list(r)[1:], pct)))
        return out

    async def cost_windows(self, backend_type: str, starts: Sequence[float],
                           until: float | None = None) -> dict[str, list[CostSum]]:
        if not starts:
            return {}
        query = sql.cost_windows_sql(_ph, len(starts), until is not None)
        params = sql.cost_windows_params(backend_type, starts, until)
        rows = await self._fetch(query, params)
        return {r[0]: sql.cost_sums_from(list(r), len(starts)) for r in rows}

    async def recent(self, limit: int = 50) -> list[UsageRow]:
        query = f"{sql.select_rows_sql()} ORDER BY ts DESC, request_id DESC LIMIT $1"
        return [row_from_values(list(r)) for r in await self._fetch(query, [limit])]

    async def prune(self, retention_days: float, now: float) -> int:
        pool = self._require_pool()
        try:
            status = await pool.execute("DELETE FROM usage WHERE ts < $1",
                                        now - retention_days * 86400.0)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise StoreError(f"usage database {redact(self.url)}: {_describe(exc)}") from exc
        return int(str(status).rsplit(" ", 1)[-1])  # "DELETE <n>"

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


async def schema_version(conn: Any) -> int:
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    value = await conn.fetchval("SELECT MAX(version) FROM schema_version")
    return int(value) if value is not None else 0


async def migrate(conn: Any) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it had before."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        before = await schema_version(conn)
        if before > SCHEMA_VERSION:
            raise StoreError(
                f"the usage database has schema version {before}, newer than this crossway "
                f"understands ({SCHEMA_VERSION}); upgrade crossway or use another database")
        for version, statements in MIGRATIONS:
            if version <= before:
                continue
            for stmt in statements:
                await conn.execute(stmt)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)
    return before


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
