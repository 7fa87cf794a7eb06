"""`crossway usage` over a real SQLite file, run as a process the way a user runs it."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from crossway.observability import usage_report
from crossway.observability.rows import UsageRow
from crossway.observability.store.postgres import PostgresStore
from crossway.observability.store.sqlite import SQLiteStore
from tests.observability.rowkit import make_row

REPO = Path(__file__).resolve().parents[2]


def _rows(now: float) -> list[UsageRow]:
    rows = [make_row(ts=now - 60 * (i + 1), duration_ms=100.0 * (i + 1), cost_usd=0.5,
                     key_id="team-a", conversation="ses_one") for i in range(4)]
    rows.append(make_row(ts=now - 120, status=502, outcome="error", cost_usd=None,
                         input_tokens=0, output_tokens=0, key_id="team-b",
                         conversation="ses_two", error="upstream refused"))
    rows.append(make_row(ts=now - 3 * 86400, cost_usd=2.0, key_id="team-a"))  # outside 24h
    rows.append(make_row(ts=now - 300, backend="opencode-zen", backend_type="opencode-zen",
                         instance="opencode-zen", upstream_model="claude-opus-5",
                         client_family="sdk-anthropic", cost_usd=0.25, cost_estimated=True,
                         key_id="team-b", output_tokens=2_500_000))
    return rows


def _populate(store: SQLiteStore | PostgresStore, rows: list[UsageRow]) -> None:
    async def go() -> None:
        await store.open()
        await store.write(rows)
        await store.close()
    asyncio.run(go())


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # The test decides the store: nothing inherited from the environment that runs pytest.
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("CROSSWAY_DATABASE_URL", "CROSSWAY_USAGE")}
    full_env = {**inherited, **(env or {})}
    return subprocess.run([sys.executable, "-m", "crossway.observability.usage_report", *args],
                          capture_output=True, text=True, timeout=60, env=full_env,
                          cwd=REPO, check=False)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "usage.db"
    _populate(SQLiteStore(path), _rows(time.time()))
    return path


def _table(out: str, title: str) -> dict[str, list[str]]:
    """Rows of the table whose header starts with `title`, keyed by first cell."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def test_terminal_report_by_model(db: Path) -> None:
    proc = _cli("--database-url", f"sqlite://{db}", "--since", "24h")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"(sqlite {db})" in out.splitlines()[0]
    total = _table(out, " ")["total"]
    # requests, errors, err%, p50, p95, ttfb, input, output, cache read, cache write, cost
    assert total[:3] == ["6", "1", "16.7%"]
    assert total[7] == "2.5M"  # output tokens, compact
    assert total[-1] == "~$2.25"  # $2 recorded + $0.25 estimated
    models = _table(out, "BY MODEL")
    assert list(models) == ["kimi-k2.6", "claude-opus-5"]  # dearest first
    assert models["kimi-k2.6"][:3] == ["5", "1", "20.0%"]
    assert models["kimi-k2.6"][-1] == "$2.00"
    assert models["claude-opus-5"][-1] == "~$0.2500"
    assert "~ includes $0.2500 estimated from crossway's price table" in out
    quota = _table(out, "KEY ")
    assert quota["opencode-go"][:4] == ["$2.00", "of", "$12.00", "(17%)"]
    assert quota["opencode-go"][8:12] == ["$4.00", "of", "$60.00", "(7%)"]  # month: +$2


def test_terminal_report_by_key_day_and_conversation(db: Path) -> None:
    by_key = _cli("--database-url", f"sqlite://{db}", "--by", "key", "--since", "7d").stdout
    keys = _table(by_key, "BY KEY")
    assert keys["team-a"][:2] == ["5", "0"] and keys["team-a"][-1] == "$4.00"
    assert keys["team-b"][:3] == ["2", "1", "50.0%"]
    by_day = _cli("--database-url", f"sqlite://{db}", "--by", "day", "--since", "7d").stdout
    assert "BY DAY (UTC)" in by_day
    days = list(_table(by_day, "BY DAY"))
    assert days == sorted(days) and len(days) >= 2
    conv = _cli("--database-url", f"sqlite://{db}", "--by", "conversation").stdout
    assert _table(conv, "BY CONVERSATION")["ses_one"][0] == "4"


def test_json_report(db: Path) -> None:
    proc = _cli("--database-url", f"sqlite://{db}", "--since", "30m", "--by", "client",
                "--json")
    assert proc.returncode == 0, proc.stderr
    data = orjson.loads(proc.stdout)
    assert data["by"] == "client"
    assert data["until"] - data["since"] == pytest.approx(1800)
    assert data["totals"]["requests"] == 6
    assert data["totals"]["estimated_cost_usd"] == pytest.approx(0.25)
    clients = {g["key"]: g["requests"] for g in data["groups"]}
    assert clients == {"claude-code": 5, "sdk-anthropic": 1}
    (go,) = data["go_quota"]
    assert go["instance"] == "opencode-go"
    assert go["windows"][0]["spent_usd"] == pytest.approx(2.0)
    assert go["windows"][0]["share"] == pytest.approx(2 / 12)


def test_report_from_postgres(pg_url: str) -> None:
    _populate(PostgresStore(pg_url), _rows(time.time()))
    proc = _cli("--json", env={"CROSSWAY_DATABASE_URL": pg_url})
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)["totals"]["requests"] == 6


def test_default_file_missing_off_and_bad_arguments(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    missing = _cli(env=env)
    assert missing.returncode == 1
    assert f"no usage recorded yet: {tmp_path}/xdg/crossway/usage.db does not exist" in \
        missing.stderr
    assert not (tmp_path / "xdg").exists()  # a report never creates the store
    off = _cli(env={**env, "CROSSWAY_USAGE": "off"})
    assert off.returncode == 1 and "usage recording is off" in off.stderr
    bad = _cli("--since", "yesterday", env=env)
    assert bad.returncode == 2 and "not a duration" in bad.stderr
    scheme = _cli("--database-url", "mysql://db/usage", env=env)
    assert scheme.returncode == 2 and "postgresql:// or sqlite://" in scheme.stderr


def test_register_and_run_in_process(db: Path) -> None:
    """How cli.py wires it: register() on its subparsers, run() on the parsed arguments."""
    parser = argparse.ArgumentParser(prog="crossway")
    sub = parser.add_subparsers(dest="command", required=True)
    usage_report.register(sub)
    args = parser.parse_args(["usage", "--since", "90m", "--by", "instance",
                              "--database-url", f"sqlite://{db}"])
    out = io.StringIO()
    assert usage_report.run(args, env={}, out=out) == 0
    assert list(_table(out.getvalue(), "BY INSTANCE")) == ["opencode-go", "opencode-zen"]
    assert usage_report.parse_since("2w") == 14 * 86400
