"""The usage store interface: rows in, totals and group-bys out, over time windows.

Two implementations (SQLite by default, Postgres for teams) answer the same questions with
the same definitions, so `/admin/stats`, `/metrics`, `crossway usage` and the Go quota meter
read the same numbers whichever store is configured:

- a window is `since <= ts < until` on the request's start time (unix seconds);
- an error is a row whose outcome is not in `rows.OK_OUTCOMES`;
- `cost_usd` sums the known costs; `estimated_cost_usd` is the part of it that came from the
  price table; `unpriced` counts rows that used tokens but have no cost at all;
- latency and TTFB percentiles interpolate linearly between ranks (Postgres'
  `percentile_cont`), rows without a TTFB are left out of the TTFB percentiles.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from crossway.observability.rows import UsageRow

GroupBy = Literal["model", "key", "instance", "day", "hour", "client", "conversation",
                  "status", "backend"]
GROUP_BY_CHOICES: tuple[str, ...] = get_args(GroupBy)
# Time-ordered dimensions are listed oldest first; the others busiest first.
TIME_DIMENSIONS = frozenset({"day", "hour"})

# Windows of /admin/stats (seconds).
STATS_WINDOWS: dict[str, float] = {"5m": 300.0, "1h": 3600.0, "24h": 86400.0}

PERCENTILES = (0.5, 0.95, 0.99)


class StoreError(Exception):
    """The store cannot be opened, written or read; the message says why in plain words."""


@dataclass(frozen=True, slots=True)
class Totals:
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
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    ttfb_p50_ms: float | None = None
    ttfb_p95_ms: float | None = None
    ttfb_p99_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def tokens(self) -> int:
        return (self.input_tokens + self.output_tokens + self.cache_read_tokens
                + self.cache_write_tokens)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["error_rate"] = self.error_rate
        d["tokens"] = self.tokens
        return d


@dataclass(frozen=True, slots=True)
class Group:
    key: str | None
    totals: Totals

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, **self.totals.to_dict()}


@dataclass(frozen=True, slots=True)
class CostSum:
    """Dollars recorded for one key in one window (see quota.py for what counts)."""

    cost_usd: float = 0.0
    estimated_usd: float = 0.0
    requests: int = 0
    unpriced: int = 0


class UsageStore(ABC):
    """Where finished requests are kept. All methods are coroutines that never block the
    event loop; any failure is raised as StoreError."""

    # Human-readable location (a path or a URL without password), for reports and logs.
    description: str = ""

    @abstractmethod
    async def open(self) -> None:
        """Connect, create the schema on first use and migrate an older one."""

    @abstractmethod
    async def write(self, rows: Sequence[UsageRow]) -> None:
        """Insert rows (a RowBatch, or any rows), all or none."""

    async def totals(self, since: float, until: float | None = None) -> Totals:
        groups = await self._aggregate(None, since, until, None)
        return groups[0].totals if groups else Totals()

    async def group_by(self, dim: GroupBy, since: float, until: float | None = None,
                       limit: int | None = None) -> list[Group]:
        return await self._aggregate(validate_dim(dim), since, until, limit)

    @abstractmethod
    async def _aggregate(self, dim: GroupBy | None, since: float, until: float | None,
                         limit: int | None) -> list[Group]:
        """Totals over the window, per `dim` value (one group, key None, when dim is None)."""

    @abstractmethod
    async def cost_windows(self, backend_type: str, starts: Sequence[float],
                           until: float | None = None) -> dict[str, list[CostSum]]:
        """Per instance of `backend_type`: one CostSum per start time (`start <= ts`)."""

    @abstractmethod
    async def recent(self, limit: int = 50) -> list[UsageRow]:
        """The newest rows, newest first."""

    @abstractmethod
    async def prune(self, retention_days: float, now: float) -> int:
        """Delete rows that started more than retention_days before now; return how many."""

    @abstractmethod
    async def close(self) -> None: ...

    async def window_stats(self, now: float,
                           windows: Mapping[str, float] = STATS_WINDOWS) -> dict[str, Totals]:
        """Totals for each named window ending now (for /admin/stats)."""
        return {name: await self.totals(now - seconds, None) for name, seconds in
                windows.items()}


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, as Postgres' percentile_cont."""
    n = len(sorted_values)
    if n == 0:
        return None
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def validate_dim(dim: str) -> GroupBy:
    if dim not in GROUP_BY_CHOICES:
        raise ValueError(f"cannot group by {dim!r}; choose one of {', '.join(GROUP_BY_CHOICES)}")
    return dim  # type: ignore[return-value]
