"""SQL shared by the SQLite and Postgres stores, parameterised by placeholder style.

Both stores keep one table, `usage`, with one column per UsageRow field; column order in the
table may differ (columns added by migrations come last), so every statement names columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from crossway.observability.rows import COLUMNS, OK_OUTCOMES
from crossway.observability.store.base import (
    PERCENTILES,
    TIME_DIMENSIONS,
    CostSum,
    GroupBy,
    Totals,
    percentile,
)

Placeholder = Callable[[int], str]  # 1-based index -> "?" or "$n"

_OK = ", ".join(f"'{o}'" for o in sorted(OK_OUTCOMES))
_TOKENS = "(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens)"

# Aggregates in Totals field order (up to `unpriced`); COALESCE because SUM of no rows is NULL.
AGGREGATES = (
    "COUNT(*)",
    f"COALESCE(SUM(CASE WHEN outcome NOT IN ({_OK}) THEN 1 ELSE 0 END), 0)",
    "COALESCE(SUM(fallbacks), 0)",
    "COALESCE(SUM(input_tokens), 0)",
    "COALESCE(SUM(output_tokens), 0)",
    "COALESCE(SUM(cache_read_tokens), 0)",
    "COALESCE(SUM(cache_write_tokens), 0)",
    "COALESCE(SUM(reasoning_tokens), 0)",
    "COALESCE(SUM(cost_usd), 0)",
    "COALESCE(SUM(CASE WHEN cost_estimated THEN cost_usd ELSE 0 END), 0)",
    f"COALESCE(SUM(CASE WHEN cost_usd IS NULL AND {_TOKENS} > 0 THEN 1 ELSE 0 END), 0)",
)
N_AGGREGATES = len(AGGREGATES)
# 1-based position of the cost sum in "SELECT key, <AGGREGATES>".
_COST_COLUMN = 2 + AGGREGATES.index("COALESCE(SUM(cost_usd), 0)")

# Dimension expressions common to both databases; day/hour are per-database.
COMMON_DIMENSIONS: dict[str, str] = {
    "model": "COALESCE(upstream_model, model_requested)",
    "key": "key_id",
    "instance": "instance",
    "client": "client_family",
    "conversation": "conversation",
    "status": "CAST(status AS TEXT)",
    "backend": "backend",
}


def window_clause(ph: Placeholder, since: float, until: float | None,
                  first: int = 1) -> tuple[str, list[Any]]:
    if until is None:
        return f"ts >= {ph(first)}", [since]
    return f"ts >= {ph(first)} AND ts < {ph(first + 1)}", [since, until]


def insert_sql(ph: Placeholder) -> str:
    cols = ", ".join(COLUMNS)
    marks = ", ".join(ph(i + 1) for i in range(len(COLUMNS)))
    return f"INSERT INTO usage ({cols}) VALUES ({marks})"


def select_rows_sql() -> str:
    return f"SELECT {', '.join(COLUMNS)} FROM usage"


def totals_from(values: Sequence[Any], pct: Sequence[float | None] = ()) -> Totals:
    """Totals from one aggregate row and the six percentiles (latency, then TTFB)."""
    v = list(values[:N_AGGREGATES])
    p = list(pct) + [None] * (6 - len(pct))
    return Totals(
        int(v[0]), int(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]), int(v[6]),
        int(v[7]), float(v[8]), float(v[9]), int(v[10]), *p)


def percentiles_of(latencies: list[float], ttfbs: list[float]) -> list[float | None]:
    latencies.sort()
    ttfbs.sort()
    return ([percentile(latencies, q) for q in PERCENTILES]
            + [percentile(ttfbs, q) for q in PERCENTILES])


def group_order(dim: GroupBy) -> str:
    # Time buckets read oldest first; everything else busiest first (dearest, then most used).
    if dim in TIME_DIMENSIONS:
        return "ORDER BY 1"
    return f"ORDER BY {_COST_COLUMN} DESC, 2 DESC, 1"


def cost_windows_sql(ph: Placeholder, n_windows: int, has_until: bool) -> str:
    """Conditional sums per window. Parameters: 1 the backend type, 2 the earliest start,
    3..n+2 the window starts, n+3 the optional end (see cost_windows_params)."""
    parts = []
    for i in range(n_windows):
        s = ph(i + 3)
        parts += [
            f"COALESCE(SUM(CASE WHEN ts >= {s} THEN cost_usd ELSE 0 END), 0)",
            f"COALESCE(SUM(CASE WHEN ts >= {s} AND cost_estimated THEN cost_usd ELSE 0 END), 0)",
            f"COALESCE(SUM(CASE WHEN ts >= {s} THEN 1 ELSE 0 END), 0)",
            f"COALESCE(SUM(CASE WHEN ts >= {s} AND cost_usd IS NULL AND {_TOKENS} > 0 "
            f"THEN 1 ELSE 0 END), 0)",
        ]
    until = f" AND ts < {ph(n_windows + 3)}" if has_until else ""
    return (f"SELECT instance, {', '.join(parts)} FROM usage WHERE backend_type = {ph(1)} "
            f"AND instance IS NOT NULL AND ts >= {ph(2)}{until} GROUP BY instance ORDER BY 1")


def cost_windows_params(backend_type: str, starts: Sequence[float],
                        until: float | None) -> list[Any]:
    params: list[Any] = [backend_type, min(starts), *starts]
    if until is not None:
        params.append(until)
    return params


def cost_sums_from(values: Sequence[Any], n_windows: int) -> list[CostSum]:
    out = []
    for i in range(n_windows):
        c, e, r, u = values[1 + 4 * i: 5 + 4 * i]
        out.append(CostSum(float(c), float(e), int(r), int(u)))
    return out
