"""The OpenCode Go quota meter: how much of each Go key's dollar limits is spent.

OpenCode Go limits each subscription in dollars of model usage: $12 per 5 hours, $30 per
week, $60 per month (spec A9; configurable here because the plan may change). What counts,
exactly:

- rows of the usage store whose `backend_type` is `opencode-go`, grouped by `instance` (the
  Go key's id in crossway: `opencode-go`, `opencode-go.2`, ...; never the key);
- a row belongs to a window when its request started at or after `now - window`: the
  windows are rolling (5 hours, 7 days, 30 days), because Go does not publish how it anchors
  its weekly and monthly windows;
- `spent_usd` sums `cost_usd`: the upstream's own figure (Zen/Go cost frames) or, when the
  upstream sent none, crossway's price-table estimate, whose part is shown separately as
  `estimated_usd`; requests that used tokens but have no cost at all (a model missing from
  the price table) are counted as `unpriced`, so an undercount is visible, never silent;
- failed requests count with whatever cost they carry (usually none);
- an upstream `GoUsageLimitError` (HTTP 429, `metadata.limitName` "5 hour" | "weekly" |
  "monthly", `retry-after`) is reported with `report_limit` and shown as that window being
  exhausted until the retry-after passes, whatever the recorded costs say: the upstream's
  own accounting wins. Reports live in this process only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

from crossway.errors import ConfigError
from crossway.observability.store.base import CostSum, UsageStore
from crossway.transport.base import retry_after_seconds

GO_BACKEND_TYPE = "opencode-go"


@dataclass(frozen=True, slots=True)
class Window:
    name: str  # as crossway shows it
    limit_name: str  # as Go's GoUsageLimitError names it
    seconds: float


WINDOWS = (
    Window("5h", "5 hour", 5 * 3600.0),
    Window("weekly", "weekly", 7 * 86400.0),
    Window("monthly", "monthly", 30 * 86400.0),
)


@dataclass(frozen=True, slots=True)
class GoLimits:
    five_hour_usd: float = 12.0
    weekly_usd: float = 30.0
    monthly_usd: float = 60.0

    def for_window(self, window: Window) -> float:
        return {"5h": self.five_hour_usd, "weekly": self.weekly_usd,
                "monthly": self.monthly_usd}[window.name]

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> GoLimits:
        """CROSSWAY_GO_LIMIT_5H, CROSSWAY_GO_LIMIT_WEEKLY, CROSSWAY_GO_LIMIT_MONTHLY (USD)."""
        values = {}
        for var, field in (("CROSSWAY_GO_LIMIT_5H", "five_hour_usd"),
                           ("CROSSWAY_GO_LIMIT_WEEKLY", "weekly_usd"),
                           ("CROSSWAY_GO_LIMIT_MONTHLY", "monthly_usd")):
            raw = env.get(var, "").strip().lstrip("$")
            if not raw:
                continue
            try:
                values[field] = float(raw)
            except ValueError:
                raise ConfigError(f"{var} must be an amount in US dollars (got {raw!r})") from None
            if values[field] <= 0:
                raise ConfigError(f"{var} must be more than 0")
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ReportedLimit:
    """A usage limit the upstream itself said was reached."""

    limit_name: str | None  # Go's metadata.limitName, verbatim
    window: str | None  # the matching crossway window, None when the name is unknown
    reported_at: float
    until: float  # when the key may be used again
    until_known: bool  # False when Go sent no retry-after and `until` is a window-long guess

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class WindowQuota:
    window: str
    seconds: float
    limit_usd: float
    spent_usd: float
    estimated_usd: float
    requests: int
    unpriced: int
    reported: ReportedLimit | None

    @property
    def share(self) -> float:
        """Spent / limit (1.0 when the upstream reported this limit reached)."""
        used = self.spent_usd / self.limit_usd if self.limit_usd else 0.0
        return max(used, 1.0) if self.reported else used

    @property
    def remaining_usd(self) -> float:
        return 0.0 if self.reported else max(self.limit_usd - self.spent_usd, 0.0)

    @property
    def exhausted(self) -> bool:
        return self.share >= 1.0

    def to_dict(self) -> dict[str, object]:
        return {"window": self.window, "seconds": self.seconds, "limit_usd": self.limit_usd,
                "spent_usd": self.spent_usd, "estimated_usd": self.estimated_usd,
                "requests": self.requests, "unpriced": self.unpriced, "share": self.share,
                "remaining_usd": self.remaining_usd, "exhausted": self.exhausted,
                "reported": self.reported.to_dict() if self.reported else None}


@dataclass(frozen=True, slots=True)
class KeyQuota:
    instance: str
    windows: tuple[WindowQuota, ...]
    # Reports whose limitName matched no window (shown, so nothing the upstream says is lost).
    other_reports: tuple[ReportedLimit, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"instance": self.instance, "windows": [w.to_dict() for w in self.windows],
                "other_reports": [r.to_dict() for r in self.other_reports]}


def window_for(limit_name: str | None) -> Window | None:
    if not limit_name:
        return None
    lowered = limit_name.lower()
    for w in WINDOWS:
        if lowered == w.limit_name or lowered == w.name:
            return w
    if "hour" in lowered:
        return WINDOWS[0]
    if "week" in lowered:
        return WINDOWS[1]
    if "month" in lowered:
        return WINDOWS[2]
    return None


class QuotaMeter:
    """Per Go key: spend in the rolling windows against Go's limits, plus upstream reports.

    `instances` lists the configured Go key ids, so a key with no traffic yet shows at 0%.
    """

    def __init__(self, store: UsageStore | None, *, limits: GoLimits | None = None,
                 instances: Sequence[str] = (), cache_s: float = 0.0,
                 clock: Callable[[], float] = time.time,
                 version: Callable[[], int] | None = None, fresh_s: float = 1.0) -> None:
        """`cache_s`: reuse the store's sums for this long (the 30-day query reads every Go
        row of the month; /metrics and the dashboard poll). Reports always show at once.
        `version`: a number that changes when rows reach the store (the writer's count of
        rows written); when it has changed, sums older than `fresh_s` are read again, so a
        request shows in the meter as soon as it is stored, and an idle gateway still costs
        the store one query per `cache_s`."""
        self.store = store
        self.limits = limits or GoLimits()
        self.instances = tuple(instances)
        self._cache_s = cache_s
        self._fresh_s = fresh_s
        self._version = version
        self._cached: tuple[float, dict[str, list[CostSum]]] | None = None
        self._cached_version: int | None = None
        self._clock = clock
        self._reports: dict[str, dict[str | None, ReportedLimit]] = {}

    def report_limit(self, instance: str, limit_name: str | None,
                     retry_after: str | float | None) -> ReportedLimit:
        """Record that the upstream answered GoUsageLimitError for this key. Call it with
        the body's `metadata.limitName` (crossway.routing.keypool.limit_name reads it) and
        the `retry-after` header; either may be None."""
        now = self._clock()
        window = window_for(limit_name)
        wait = retry_after_seconds(retry_after, now)
        if wait is None:
            # No retry-after: the rolling window frees up at most one window length later.
            until, known = now + (window.seconds if window else WINDOWS[0].seconds), False
        else:
            until, known = now + wait, True
        report = ReportedLimit(limit_name, window.name if window else None, now, until, known)
        self._reports.setdefault(instance, {})[report.window or limit_name] = report
        return report

    def active_reports(self, instance: str) -> list[ReportedLimit]:
        now = self._clock()
        reports = self._reports.get(instance, {})
        for key in [k for k, r in reports.items() if r.until <= now]:
            del reports[key]
        return list(reports.values())

    async def snapshot(self) -> list[KeyQuota]:
        """Every known Go key (configured, seen in the store, or reported), by name."""
        sums = await self._sums()
        names = sorted({*self.instances, *sums, *self._reports})
        return [self._key_quota(name, sums.get(name)) for name in names]

    async def _sums(self) -> dict[str, list[CostSum]]:
        if self.store is None:
            return {}
        now = self._clock()
        version = self._version() if self._version is not None else None
        if self._cached is not None:
            age = now - self._cached[0]
            if age < self._fresh_s or (age < self._cache_s and version == self._cached_version):
                return self._cached[1]
        starts = [now - w.seconds for w in WINDOWS]
        sums = await self.store.cost_windows(GO_BACKEND_TYPE, starts)
        self._cached = (now, sums)
        self._cached_version = version
        return sums

    def _key_quota(self, instance: str, sums: list[CostSum] | None) -> KeyQuota:
        reports = self.active_reports(instance)
        by_window = {r.window: r for r in reports if r.window}
        windows = []
        for i, w in enumerate(WINDOWS):
            s = sums[i] if sums else CostSum()
            windows.append(WindowQuota(w.name, w.seconds, self.limits.for_window(w),
                                       s.cost_usd, s.estimated_usd, s.requests, s.unpriced,
                                       by_window.get(w.name)))
        other = tuple(r for r in reports if r.window is None)
        return KeyQuota(instance, tuple(windows), other)
