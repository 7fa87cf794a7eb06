"""The Go quota meter against a scripted series of recorded costs and upstream reports."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crossway.errors import ConfigError
from crossway.observability.quota import GoLimits, KeyQuota, QuotaMeter, window_for
from crossway.observability.rows import UsageRow
from crossway.observability.store.sqlite import SQLiteStore
from tests.observability.rowkit import T0, make_row

HOUR = 3600.0
DAY = 86400.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _script() -> list[UsageRow]:
    """Costs on two Go keys over five weeks, plus traffic that must not count."""
    return [
        # opencode-go: $4 now-1h, $5 (estimated) now-4h, $6 now-6h, $8 now-3d, $20 now-20d,
        # $100 now-40d (outside every window).
        make_row(ts=T0 - 1 * HOUR, cost_usd=4.0),
        make_row(ts=T0 - 4 * HOUR, cost_usd=5.0, cost_estimated=True),
        make_row(ts=T0 - 6 * HOUR, cost_usd=6.0),
        make_row(ts=T0 - 3 * DAY, cost_usd=8.0),
        make_row(ts=T0 - 20 * DAY, cost_usd=20.0),
        make_row(ts=T0 - 40 * DAY, cost_usd=100.0),
        # A failed request with no tokens: counted as a request, costs nothing, not unpriced.
        make_row(ts=T0 - 2 * HOUR, cost_usd=None, status=502, outcome="error",
                 input_tokens=0, output_tokens=0),
        # opencode-go.2: a model without a price (tokens used, cost unknown) and $1.50.
        make_row(ts=T0 - 30 * 60, instance="opencode-go.2", upstream_model="glm-5.3",
                 cost_usd=None),
        make_row(ts=T0 - 30 * 60, instance="opencode-go.2", cost_usd=1.5),
        # Zen and a generic backend never count toward Go limits.
        make_row(ts=T0 - HOUR, backend_type="opencode-zen", instance="opencode-zen",
                 backend="opencode-zen", cost_usd=50.0),
        make_row(ts=T0 - HOUR, backend_type="openai", instance="openai", backend="openai",
                 cost_usd=50.0),
    ]


def _snapshot(tmp_path: Path, meter_setup: Callable[[QuotaMeter, Clock], None] | None = None,
              clock: Clock | None = None, **kw: Any) -> list[KeyQuota]:
    clock = clock or Clock(T0)

    async def go() -> list[KeyQuota]:
        store = SQLiteStore(tmp_path / "usage.db")
        await store.open()
        try:
            await store.write(_script())
            meter = QuotaMeter(store, clock=clock, **kw)
            if meter_setup:
                meter_setup(meter, clock)
            return await meter.snapshot()
        finally:
            await store.close()
    return asyncio.run(go())


def test_spend_per_window_and_share_of_go_limits(tmp_path: Path) -> None:
    keys = {k.instance: k for k in _snapshot(tmp_path, instances=["opencode-go",
                                                                   "opencode-go.3"])}
    assert set(keys) == {"opencode-go", "opencode-go.2", "opencode-go.3"}
    five_h, week, month = keys["opencode-go"].windows
    assert (five_h.window, five_h.limit_usd, five_h.seconds) == ("5h", 12.0, 5 * HOUR)
    assert five_h.spent_usd == pytest.approx(9.0)  # $4 + $5
    assert five_h.estimated_usd == pytest.approx(5.0)
    assert five_h.requests == 3  # the failed request counts as a request
    assert five_h.share == pytest.approx(0.75)
    assert five_h.remaining_usd == pytest.approx(3.0)
    assert not five_h.exhausted
    assert week.spent_usd == pytest.approx(23.0)  # + $6 + $8
    assert week.share == pytest.approx(23 / 30)
    assert month.spent_usd == pytest.approx(43.0)  # + $20; the 40-day-old $100 is out
    assert month.share == pytest.approx(43 / 60)
    two = keys["opencode-go.2"].windows[0]
    assert (two.spent_usd, two.requests, two.unpriced) == (1.5, 2, 1)
    idle = keys["opencode-go.3"].windows
    assert [w.spent_usd for w in idle] == [0.0, 0.0, 0.0]


def test_windows_roll_with_time(tmp_path: Path) -> None:
    later = Clock(T0 + 2 * HOUR)  # the $5 at now-4h is now 6 h old
    keys = {k.instance: k for k in _snapshot(tmp_path, clock=later)}
    assert keys["opencode-go"].windows[0].spent_usd == pytest.approx(4.0)


def test_cached_sums_and_fresh_reports(tmp_path: Path) -> None:
    clock = Clock(T0)

    async def go() -> tuple[float, float, float, bool]:
        store = SQLiteStore(tmp_path / "usage.db")
        await store.open()
        try:
            await store.write(_script())
            meter = QuotaMeter(store, clock=clock, cache_s=10.0)
            first = (await meter.snapshot())[0].windows[0].spent_usd
            await store.write([make_row(ts=T0 - 60, cost_usd=1.0)])
            clock.now += 5  # within the cache: the new $1 is not read yet, a report is
            meter.report_limit("opencode-go", "5 hour", 30)
            cached = (await meter.snapshot())[0].windows[0]
            clock.now += 6
            fresh = (await meter.snapshot())[0].windows[0].spent_usd
            return first, cached.spent_usd, fresh, cached.reported is not None
        finally:
            await store.close()
    first, cached, fresh, reported = asyncio.run(go())
    assert (first, cached, fresh, reported) == (9.0, 9.0, 10.0, True)


def test_configured_limits(tmp_path: Path) -> None:
    limits = GoLimits.from_env({"CROSSWAY_GO_LIMIT_5H": "$9", "CROSSWAY_GO_LIMIT_MONTHLY": "120"})
    assert limits == GoLimits(9.0, 30.0, 120.0)
    keys = {k.instance: k for k in _snapshot(tmp_path, limits=limits)}
    five_h, _, month = keys["opencode-go"].windows
    assert five_h.exhausted and five_h.share == pytest.approx(1.0)
    assert month.share == pytest.approx(43 / 120)
    with pytest.raises(ConfigError, match="CROSSWAY_GO_LIMIT_WEEKLY"):
        GoLimits.from_env({"CROSSWAY_GO_LIMIT_WEEKLY": "lots"})


def test_upstream_report_with_retry_after_wins_until_it_passes(tmp_path: Path) -> None:
    clock = Clock(T0)
    reports = []

    def setup(meter: QuotaMeter, clk: Clock) -> None:
        reports.append(meter.report_limit("opencode-go", "weekly", "3600"))

    keys = {k.instance: k for k in _snapshot(tmp_path, setup, clock)}
    week = keys["opencode-go"].windows[1]
    assert week.reported is not None
    assert week.reported.limit_name == "weekly" and week.reported.until == T0 + 3600
    assert week.reported.until_known
    assert week.exhausted and week.share == 1.0 and week.remaining_usd == 0.0
    assert week.spent_usd == pytest.approx(23.0)  # recorded spend still shown
    assert keys["opencode-go"].windows[0].reported is None
    d = keys["opencode-go"].to_dict()
    assert "'limit_name': 'weekly'" in str(d["windows"])


def test_report_expiry_http_date_and_missing_retry_after() -> None:
    clock = Clock(T0)
    meter = QuotaMeter(None, clock=clock)
    http_date = email.utils.formatdate(T0 + 600, usegmt=True)
    r = meter.report_limit("opencode-go", "5 hour", http_date)
    assert r.window == "5h" and r.until == pytest.approx(T0 + 600) and r.until_known
    guess = meter.report_limit("opencode-go.2", "monthly", None)
    assert guess.until == T0 + 30 * DAY and not guess.until_known
    odd = meter.report_limit("opencode-go.2", "daily", 60)
    assert odd.window is None
    snap = {k.instance: k for k in asyncio.run(meter.snapshot())}
    assert snap["opencode-go"].windows[0].reported == r
    assert snap["opencode-go.2"].other_reports == (odd,)
    clock.now = T0 + 601
    snap = {k.instance: k for k in asyncio.run(meter.snapshot())}
    assert snap["opencode-go"].windows[0].reported is None  # retry-after passed
    assert snap["opencode-go.2"].windows[2].reported == guess
    assert snap["opencode-go.2"].other_reports == ()


@pytest.mark.parametrize(("name", "window"), [
    ("5 hour", "5h"), ("5 Hour", "5h"), ("weekly", "weekly"), ("monthly", "monthly"),
    ("week", "weekly"), ("", None), (None, None), ("burst", None)])
def test_limit_names(name: str | None, window: str | None) -> None:
    found = window_for(name)
    assert (found.name if found else None) == window
