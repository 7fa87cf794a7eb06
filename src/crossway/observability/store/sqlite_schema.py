"""The SQLite usage store's schema and its migrations.

Version 3 keeps a request in two parts: `routes` holds what many requests share (the client's
dialect and family, the model asked for, the target and its instance, backend and dialect,
fast or translated, stream or not, the client key's id), once per distinct combination;
`requests` holds what is the request's own (id, time, conversation, status, outcome,
timings, tokens, cost, error, attempts) and the id of its route. A view named `usage` joins
them back into the one flat row every query reads (rows.py's COLUMNS), so the queries
(sql.py) are the same for SQLite and Postgres. An insert then binds 19 values instead of 30,
most of them numbers: about half the CPU per request (docs/benchmarks.md), and a smaller file.
Routes are never deleted (pruning removes requests only), so a route id, once known, stays
valid for every process writing the file.
"""

from __future__ import annotations

import sqlite3

from crossway.observability.store.base import StoreError

# The shared part of a row, in this order in `routes` (and in the route key).
ROUTE_COLUMNS = ("client_dialect", "client_family", "model_requested", "target", "instance",
                 "backend", "backend_type", "upstream_model", "upstream_dialect", "fast_path",
                 "stream", "key_id")
# The request's own part, then `route`, in this order in `requests` (fallbacks is derived).
FACT_COLUMNS = ("request_id", "ts", "conversation", "status", "outcome", "attempts",
                "duration_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens",
                "cache_write_tokens", "reasoning_tokens", "cost_usd", "cost_estimated", "error",
                "attempts_json")
# One text per distinct route, computed by SQLite alike wherever a route is looked up.
ROUTE_KEY = f"json_array({', '.join('?' * len(ROUTE_COLUMNS))})"
_ROUTE_KEY_OF_USAGE = f"json_array({', '.join('u.' + c for c in ROUTE_COLUMNS)})"

_V3 = (
    # Version 3: the request split into routes and requests (see the module docstring);
    # attempts_json NULL for a lone clean attempt (the row describes it); one index, on ts.
    # Version 2's primary key on request_id served no query and dropped, without a word, a
    # row whose id repeated one from an earlier run; its (backend_type, ts) index helped the
    # Go quota query only where most traffic is not Go.
    """CREATE TABLE routes (
        id INTEGER PRIMARY KEY,
        client_dialect TEXT NOT NULL,
        client_family TEXT NOT NULL,
        model_requested TEXT,
        target TEXT,
        instance TEXT,
        backend TEXT,
        backend_type TEXT,
        upstream_model TEXT,
        upstream_dialect TEXT,
        fast_path INTEGER NOT NULL,
        stream INTEGER NOT NULL,
        key_id TEXT,
        key TEXT NOT NULL UNIQUE
    )""",
    """CREATE TABLE requests (
        request_id TEXT NOT NULL,
        ts REAL NOT NULL,
        conversation TEXT,
        status INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        ttfb_ms REAL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_usd REAL,
        cost_estimated INTEGER NOT NULL,
        error TEXT,
        attempts_json TEXT,
        route INTEGER NOT NULL REFERENCES routes (id)
    )""",
    f"INSERT OR IGNORE INTO routes ({', '.join(ROUTE_COLUMNS)}, key) "
    f"SELECT DISTINCT {', '.join('u.' + c for c in ROUTE_COLUMNS)}, {_ROUTE_KEY_OF_USAGE} "
    "FROM usage u",
    f"INSERT INTO requests ({', '.join(FACT_COLUMNS)}, route) "
    f"SELECT {', '.join('u.' + c for c in FACT_COLUMNS)}, r.id "
    f"FROM usage u JOIN routes r ON r.key = {_ROUTE_KEY_OF_USAGE}",
    "DROP TABLE usage",
    "CREATE INDEX requests_ts ON requests (ts)",
    """CREATE VIEW usage AS SELECT
        q.request_id, q.ts, r.client_dialect, r.client_family, q.conversation,
        r.model_requested, r.target, r.instance, r.backend, r.backend_type, r.upstream_model,
        r.upstream_dialect, r.fast_path, r.stream, q.status, q.outcome, q.attempts,
        MAX(q.attempts - 1, 0) AS fallbacks, q.duration_ms, q.ttfb_ms, q.input_tokens,
        q.output_tokens, q.cache_read_tokens, q.cache_write_tokens, q.reasoning_tokens,
        q.cost_usd, q.cost_estimated, r.key_id, q.error, q.attempts_json
    FROM requests q JOIN routes r ON r.id = q.route""",
)

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
    (3, _V3),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION in one transaction; returns the version it had
    before."""
    conn.execute("BEGIN IMMEDIATE")
    try:
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
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return before
