"""Shared pieces of the end-to-end suite: where the clients live, how they are run, and
how a tool round trip looks in each upstream dialect."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.opencode import Recorded
from tests.gateway import Gateway

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "scripts" / "e2e-clients"
CACHE = Path(os.environ.get("E2E_CLIENTS_DIR", ROOT / ".cache" / "e2e-clients"))
INSTALL_TIMEOUT = float(os.environ.get("E2E_INSTALL_TIMEOUT", "1200"))
CLIENT_TIMEOUT = 120.0
CLIENT_KEY = "sk-e2e-client-key-must-not-leak"
# Upstream dialect -> model served over it on the fake OpenCode Go tier.
MODELS = {"chat": "opencode-go/glm-5.1", "messages": "opencode-go/minimax-m2.7"}
ROUTES = {"chat": "/chat/completions", "messages": "/messages"}
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Clients:
    """What scripts/e2e-clients installed; a client it could not install is None + error."""

    claude: Path | None
    opencode: Path | None
    aisdk: Path | None  # folder holding node_modules with ai + providers
    node: str
    errors: dict[str, str]
    installs: dict[str, Any]
    setup_seconds: float
    codex: Path | None = None


@dataclass
class ClientRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self, gateway: Gateway | None = None) -> str:
        """Everything needed to understand a failure, for assertion messages."""
        out = [f"$ {' '.join(self.argv)}", f"rc={self.returncode} in {self.seconds:.1f}s",
               "--- stdout", self.stdout[-6000:], "--- stderr", self.stderr[-4000:]]
        if gateway is not None:
            out += ["--- crossway log (tail)", *gateway.logs().splitlines()[-40:]]
        return "\n".join(out)


@dataclass
class Case:
    """What one e2e test exercised; filled by the test, read by the summary."""

    client: str
    dialect: str  # upstream dialect: "chat" (chat/completions) | "messages"
    mode: str  # "stream" | "unary" (client side; crossway keeps it upstream)
    case: str
    runs: list[float] = field(default_factory=list)


def run_client(argv: Sequence[str | Path], env: Mapping[str, str], cwd: Path,
               timeout: float = CLIENT_TIMEOUT, case: Case | None = None) -> ClientRun:
    """Run a client with exactly `env` (nothing inherited) and stdin at /dev/null, in its own
    process group, which is killed afterwards (tool subprocesses, background installs)."""
    args = [str(a) for a in argv]
    start = time.monotonic()
    with subprocess.Popen(args, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            stdout, stderr = proc.communicate()
            stderr += f"\n[killed after {timeout:.0f}s]"
        finally:
            _kill_group(proc.pid)
    run = ClientRun(args, proc.returncode, stdout, stderr, time.monotonic() - start)
    if case is not None:
        case.runs.append(run.seconds)
    return run


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def base_env(home: Path) -> dict[str, str]:
    return {"PATH": SYSTEM_PATH, "HOME": str(home), "TERM": "dumb", "LANG": "C.UTF-8",
            "TMPDIR": os.environ.get("TMPDIR", "/tmp")}


def offline_home(path: Path) -> Path:
    """A scratch HOME whose npm can reach nothing (OpenCode installs plugins in the background)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / ".npmrc").write_text("registry=http://127.0.0.1:9/\nupdate-notifier=false\n")
    for sub in (".config", ".cache", ".local/share", ".local/state"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [strip_cache_control(v) for v in value]
    return value


def tool_exchange(req: Recorded, dialect: str) -> tuple[str, dict[str, Any], str]:
    """(tool name, input, tool output) of the last tool round trip in an upstream request."""
    msgs = req.json["messages"]
    if dialect == "chat":
        tool_msg = msgs[-1]
        assert tool_msg["role"] == "tool", msgs[-3:]
        assistant = msgs[-2]
        assert assistant["role"] == "assistant", msgs[-3:]
        call = assistant["tool_calls"][-1]
        assert call["id"] == tool_msg["tool_call_id"]
        content = tool_msg["content"]
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content)
        return call["function"]["name"], json.loads(call["function"]["arguments"]), content
    user, assistant = msgs[-1], msgs[-2]
    assert user["role"] == "user" and assistant["role"] == "assistant", msgs[-2:]
    use = [b for b in assistant["content"] if b["type"] == "tool_use"][-1]
    result = user["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == use["id"], user
    content = result["content"]
    if isinstance(content, list):
        content = "".join(b.get("text", "") for b in content if b.get("type") == "text")
    return use["name"], use["input"], content
