"""Fixtures of the end-to-end suite: real, unmodified clients in front of crossway.

`scripts/e2e-clients` installs the pinned clients (Claude Code, OpenCode, Codex, the Vercel AI SDK)
into .cache/e2e-clients/ once per session; when it cannot (no npm, registry unreachable,
install failure) every e2e test is skipped with its error text. Set CROSSWAY_E2E=0 to skip
them on purpose. The clients run offline: scratch HOMEs, every phone-home switch off, stdin
/dev/null, and an .npmrc pointing npm at a dead loopback port.

Each test records what it exercised (client, upstream dialect, case, client runtime); the
terminal summary prints a pass/fail matrix and .cache/e2e-clients/report.json keeps it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import CACHE, INSTALL_TIMEOUT, INSTALLER, ROOT, Case, Clients

_PROP = "e2e"

# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def e2e_clients() -> Clients:
    """Install (or find) the pinned clients once; skip the e2e tests when that fails."""
    if os.environ.get("CROSSWAY_E2E", "1").lower() in ("0", "no", "false", "off", "skip"):
        pytest.skip("e2e clients disabled by CROSSWAY_E2E")
    if shutil.which("bash") is None:
        pytest.skip("e2e clients: bash is not available")
    env = dict(os.environ)
    env["E2E_CLIENTS_DIR"] = str(CACHE)
    start = time.monotonic()
    try:
        proc = subprocess.run([str(INSTALLER), "--json"], cwd=ROOT, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"e2e clients could not be installed: {exc}")
    seconds = time.monotonic() - start
    try:
        info = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        reason = (proc.stderr.strip() or proc.stdout.strip())[-1500:]
        pytest.skip(f"e2e clients could not be installed (rc {proc.returncode}): {reason}")

    def found(key: str) -> Path | None:
        value = info.get(key)
        return Path(value) if isinstance(value, str) and value else None

    clients = Clients(claude=found("claude"), opencode=found("opencode"), aisdk=found("aisdk"),
                      node=str(info.get("node") or "node"),
                      errors={str(k): str(v) for k, v in (info.get("errors") or {}).items()},
                      installs=dict(info.get("installs") or {}), setup_seconds=seconds,
                      codex=found("codex"))
    _SESSION["clients"] = clients
    return clients


def _need(clients: Clients, name: str, value: Path | None) -> Path:
    if value is None:
        why = clients.errors.get(name) or clients.errors.get("all") or "not installed"
        pytest.skip(f"e2e client {name} unavailable: {why}")
    return value


@pytest.fixture
def claude_bin(e2e_clients: Clients) -> Path:
    return _need(e2e_clients, "claude", e2e_clients.claude)


@pytest.fixture
def opencode_bin(e2e_clients: Clients) -> Path:
    return _need(e2e_clients, "opencode", e2e_clients.opencode)


@pytest.fixture
def codex_bin(e2e_clients: Clients) -> Path:
    return _need(e2e_clients, "codex", e2e_clients.codex)


@pytest.fixture
def aisdk_dir(e2e_clients: Clients) -> Path:
    return _need(e2e_clients, "aisdk", e2e_clients.aisdk)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Attach a Case before any fixture runs, so skipped and erroring tests are counted too.
    Client = the module's CLIENT, dialect = the test's `dialect` parameter."""
    callspec = getattr(item, "callspec", None)
    params: dict[str, Any] = dict(callspec.params) if callspec is not None else {}
    module = getattr(item, "module", None)
    mode = {"generate": "unary"}.get(str(params.get("mode", "stream")), "stream")
    case = Case(client=str(getattr(module, "CLIENT", "?")),
                dialect=str(params.get("dialect", "?")), mode=mode, case=item.name)
    item.user_properties.append((_PROP, case))


@pytest.fixture
def e2e_case(request: pytest.FixtureRequest) -> Case:
    """This test's record (client runtimes are added by run_client)."""
    for name, value in request.node.user_properties:
        if name == _PROP and isinstance(value, Case):
            return value
    raise RuntimeError("no e2e Case attached")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The clients' cwd: an empty folder outside any git repository or project config."""
    path = tmp_path / "work"
    path.mkdir()
    return path


# ------------------------------------------------------------------------ summary / report

_SESSION: dict[str, Clients] = {}


def _cases(terminalreporter: Any) -> list[tuple[str, Case, float]]:
    out: list[tuple[str, Case, float]] = []
    for outcome in ("passed", "failed", "error", "skipped"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", "") not in ("call", "setup", "teardown"):
                continue
            for name, value in getattr(rep, "user_properties", []):
                if name == _PROP and isinstance(value, Case):
                    out.append((outcome, value, float(getattr(rep, "duration", 0.0))))
    # one row per test: the worst outcome of its phases wins
    rank = {"failed": 0, "error": 1, "skipped": 2, "passed": 3}
    best: dict[int, tuple[str, Case, float]] = {}
    for outcome, case, dur in out:
        prev = best.get(id(case))
        if prev is None or rank[outcome] < rank[prev[0]]:
            best[id(case)] = (outcome, case, max(dur, prev[2] if prev else 0.0))
    return list(best.values())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows = _cases(terminalreporter)
    if not rows:
        return
    matrix: dict[tuple[str, str, str], dict[str, Any]] = {}
    for outcome, case, _ in rows:
        cell = matrix.setdefault((case.client, case.dialect, case.mode),
                                 {"passed": 0, "failed": 0, "skipped": 0, "runs": []})
        cell["failed" if outcome == "error" else outcome] += 1
        cell["runs"].extend(case.runs)
    tr = terminalreporter
    tr.section("e2e: real clients -> crossway -> fake OpenCode Go")
    tr.write_line(f"{'client':<30}{'upstream':<10}{'mode':<8}{'pass':>5}{'fail':>5}{'skip':>5}"
                  f"{'runs':>6}{'client s':>10}{'max s':>7}")
    for (client, dialect, mode), cell in sorted(matrix.items()):
        runs = cell["runs"]
        tr.write_line(f"{client:<30}{dialect:<10}{mode:<8}{cell['passed']:>5}"
                      f"{cell['failed']:>5}{cell['skipped']:>5}{len(runs):>6}"
                      f"{sum(runs):>10.1f}{max(runs, default=0.0):>7.1f}")
    clients = _SESSION.get("clients")
    if clients is not None:
        tr.write_line(f"client setup (scripts/e2e-clients): {clients.setup_seconds:.1f}s")
        for name, why in clients.errors.items():
            tr.write_line(f"  {name}: NOT INSTALLED - {why}")
        for name, inst in clients.installs.items():
            size_mb = int(inst.get("size_kb", 0)) // 1024
            tr.write_line(f"  {name}: {inst.get('packages')} - installed in "
                          f"{inst.get('install_seconds')}s, {size_mb} MB")
    report = {
        "matrix": [{"client": c, "dialect": d, "mode": m,
                    **{k: v for k, v in cell.items() if k != "runs"},
                    "client_runs": len(cell["runs"]),
                    "client_seconds": round(sum(cell["runs"]), 2)}
                   for (c, d, m), cell in sorted(matrix.items())],
        "tests": [{"client": case.client, "dialect": case.dialect, "mode": case.mode,
                   "case": case.case, "outcome": outcome, "seconds": round(dur, 2),
                   "client_seconds": [round(x, 2) for x in case.runs]}
                  for outcome, case, dur in rows],
        "setup_seconds": round(clients.setup_seconds, 2) if clients else None,
        "installs": clients.installs if clients else None,
        "install_errors": clients.errors if clients else None,
    }
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    except OSError:
        pass
