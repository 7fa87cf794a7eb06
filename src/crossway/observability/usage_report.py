"""`crossway usage`: what the recorded requests cost, from the usage store, in a terminal.

    crossway usage                       # last 24 hours, by model
    crossway usage --since 7d --by key   # a week, per client key
    crossway usage --json                # the same figures as JSON

Also runnable as `python -m crossway.observability.usage_report`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from crossway.errors import ConfigError
from crossway.observability.quota import GoLimits, KeyQuota, QuotaMeter
from crossway.observability.store import store_for_url, usage_enabled
from crossway.observability.store.base import (
    GROUP_BY_CHOICES,
    Group,
    StoreError,
    Totals,
    UsageStore,
    validate_dim,
)
from crossway.observability.store.sqlite import SQLiteStore

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_since(text: str) -> float:
    """`30m`, `24h`, `7d`, `2w`, `90s` as seconds."""
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write a number and a unit: 30m, 24h, 7d, 2w")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `usage` subcommand to `crossway`'s subparsers; returns its parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "usage", help="report requests, tokens and cost from the usage store",
        description="Report requests, errors, tokens and cost recorded by crossway, and how "
                    "much of each OpenCode Go key's limits is spent.")
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=parse_since, default=parse_since("24h"), metavar="DURATION",
                   help="how far back to look: 30m, 24h, 7d, 2w (default 24h)")
    p.add_argument("--by", choices=GROUP_BY_CHOICES, default="model",
                   help="group rows by this (default model; day and hour are UTC)")
    p.add_argument("--limit", type=int, default=50, metavar="N",
                   help="show at most N groups (default 50)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--database-url", metavar="URL",
                   help="postgresql://... or sqlite:///path (default: $CROSSWAY_DATABASE_URL, "
                        "else the SQLite file in the user's data directory)")


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None,
        out: TextIO | None = None) -> int:
    """Print the report; returns the process exit status."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    url = args.database_url or env.get("CROSSWAY_DATABASE_URL", "").strip() or None
    if not args.database_url and not usage_enabled(env):
        print("crossway usage: usage recording is off (CROSSWAY_USAGE=off); nothing to report",
              file=sys.stderr)
        return 1
    try:
        store = store_for_url(url, env)
        limits = GoLimits.from_env(env)
    except ConfigError as exc:
        print(f"crossway usage: {exc}", file=sys.stderr)
        return 2
    if isinstance(store, SQLiteStore) and not store.path.exists():
        print(f"crossway usage: no usage recorded yet: {store.path} does not exist "
              "(crossway serve creates it when it starts)", file=sys.stderr)
        return 1
    now = time.time()
    try:
        report = asyncio.run(_collect(store, validate_dim(args.by), now - args.since, now,
                                      args.limit, limits))
    except StoreError as exc:
        print(f"crossway usage: {exc}", file=sys.stderr)
        return 1
    if args.json:
        out.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.write(report.render())
    return 0


class Report:
    def __init__(self, store: str, by: str, since: float, until: float, totals: Totals,
                 groups: list[Group], quota: list[KeyQuota]) -> None:
        self.store, self.by, self.since, self.until = store, by, since, until
        self.totals, self.groups, self.quota = totals, groups, quota

    def to_json(self) -> dict[str, Any]:
        return {"store": self.store, "since": self.since, "until": self.until, "by": self.by,
                "totals": self.totals.to_dict(),
                "groups": [g.to_dict() for g in self.groups],
                "go_quota": [k.to_dict() for k in self.quota]}

    def render(self) -> str:
        lines = [f"crossway usage: {_when(self.since)} to {_when(self.until)} UTC "
                 f"({self.store})", ""]
        t = self.totals
        if not t.requests:
            lines.append("No requests recorded in this period.")
        else:
            lines += _table(["", *_COLUMNS], [["total", *_cells(t)]])
            lines.append("")
            label = f"by {self.by}" + (" (UTC)" if self.by in ("day", "hour") else "")
            rows = [[_key(g.key), *_cells(g.totals)] for g in self.groups]
            lines += _table([label, *_COLUMNS], rows)
            lines += _footnotes([t])
        if self.quota:
            lines += ["", *_quota_lines(self.quota)]
        return "\n".join(lines) + "\n"


async def _collect(store: UsageStore, by: Any, since: float, until: float, limit: int,
                   limits: GoLimits) -> Report:
    await store.open()
    try:
        totals = await store.totals(since, until)
        groups = await store.group_by(by, since, until, limit=limit)
        quota = await QuotaMeter(store, limits=limits, clock=lambda: until).snapshot()
    finally:
        await store.close()
    return Report(store.description, by, since, until, totals, groups, quota)


_COLUMNS = ["requests", "errors", "err%", "p50", "p95", "ttfb p50", "input", "output",
            "cache read", "cache write", "cost"]


def _cells(t: Totals) -> list[str]:
    return [f"{t.requests:,}", f"{t.errors:,}", f"{t.error_rate * 100:.1f}%",
            _ms(t.latency_p50_ms), _ms(t.latency_p95_ms), _ms(t.ttfb_p50_ms),
            _count(t.input_tokens), _count(t.output_tokens), _count(t.cache_read_tokens),
            _count(t.cache_write_tokens), _cost(t)]


def _cost(t: Totals) -> str:
    text = _usd(t.cost_usd)
    if t.estimated_cost_usd > 0:
        text = "~" + text
    if t.unpriced:
        text += "?"
    return text


def _footnotes(totals: Sequence[Totals]) -> list[str]:
    notes = []
    if any(t.estimated_cost_usd > 0 for t in totals):
        t = totals[0]
        notes.append(f"~ includes {_usd(t.estimated_cost_usd)} estimated from crossway's price "
                     "table (the upstream sent no cost)")
    if any(t.unpriced for t in totals):
        notes.append(f"? {totals[0].unpriced:,} requests used tokens of a model with no known "
                     "price; their cost is not included")
    return ["", *notes] if notes else []


def _quota_lines(quota: list[KeyQuota]) -> list[str]:
    rows = []
    notes = []
    for k in quota:
        cells = [k.instance]
        for w in k.windows:
            cell = f"{_usd(w.spent_usd)} of {_usd(w.limit_usd)} ({w.share * 100:.0f}%)"
            if w.estimated_usd > 0:
                cell = "~" + cell
            if w.unpriced:
                cell += "?"
            cells.append(cell)
            if w.reported:
                again = _until(w.reported.until, w.reported.until_known)
                notes.append(f"{k.instance}: OpenCode Go reported its {w.reported.limit_name} "
                             f"limit reached; usable again {again}")
        for r in k.other_reports:
            notes.append(f"{k.instance}: OpenCode Go reported a usage limit "
                         f"({r.limit_name or 'unnamed'}); usable again "
                         f"{_until(r.until, r.until_known)}")
        rows.append(cells)
    lines = ["OpenCode Go quota (rolling windows: 5 hours, 7 days, 30 days)"]
    lines += _table(["key", "5 hours", "week", "month"], rows)
    return lines + notes


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()
    return [line([h.upper() for h in headers]), *(line(r) for r in rows)]


def _key(key: str | None) -> str:
    if key is None:
        return "(none)"
    return key if len(key) <= 40 else key[:39] + "…"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f}s" if value >= 10_000 else f"{value:.0f}ms"


def _count(n: int) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _usd(v: float) -> str:
    return f"${v:,.2f}" if v >= 1 or v == 0 else f"${v:.4f}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _until(ts: float, known: bool) -> str:
    text = f"at {_when(ts)} UTC"
    return text if known else f"by {_when(ts)} UTC at the latest (no retry-after was sent)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crossway usage", description=__doc__.splitlines()[0]
                                     if __doc__ else None)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

