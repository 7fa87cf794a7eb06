"""Codex CLI (the real binary, headless) through crossway to the fake OpenCode Go upstream.

Codex speaks only the OpenAI Responses API (`wire_api = "responses"`), always streaming, with
`store: false` and its whole history every turn. Its config is what `crossway config codex`
writes (a `model_providers.crossway` table), plus what a hermetic run needs: no retries, no
update check, no plugins, no analytics, and a model catalog entry so Codex declares its
freeform `apply_patch` tool for a model it does not know (spec clients.md, section 5).

glm-5.1 answers over chat/completions, minimax-m2.7 over messages and grok-4.5 over
responses. The shell turn makes Codex really run a command whose output ($RANDOM) the fake
cannot know; the patch turn makes it really edit a file in its workspace.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from tests.e2e.clients import ROOT, Case, ClientRun, base_env, run_client
from tests.fakes.opencode import FakeOpenCode, FakeUsage, Recorded, Reply, ToolCallSpec
from tests.gateway import Gateway

CLIENT = "codex"
pytestmark = pytest.mark.timeout(240, func_only=True)

# Upstream dialect -> a model the fake Go tier serves over it.
MODELS = {"chat": "opencode-go/glm-5.1", "messages": "opencode-go/minimax-m2.7",
          "responses": "opencode-go/grok-4.5"}
ROUTES = {"chat": "/chat/completions", "messages": "/messages", "responses": "/responses"}
dialects = pytest.mark.parametrize("dialect", sorted(MODELS))

MARKER_RE = re.compile(r"crossway-e2e-(\d+)-marker")
PATCH = ("*** Begin Patch\n*** Add File: hello.txt\n+Hello from crossway\n"
         "*** Update File: notes.md\n@@\n-old line\n+new line\n*** End Patch\n")


def codex_home(home: Path, gateway: Gateway, model: str) -> Path:
    """A scratch CODEX_HOME: `crossway config codex` output plus the hermetic-run settings."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "crossway", "config", "codex", "--file", str(config),
         "--base-url", gateway.url, "--model", model],
        cwd=ROOT, env=base_env(home), capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = tomlkit.parse(config.read_text())
    provider = doc["model_providers"]["crossway"]  # type: ignore[index]
    assert provider["wire_api"] == "responses"  # type: ignore[index]
    assert provider["base_url"] == gateway.url + "/v1"  # type: ignore[index]
    provider.update({"request_max_retries": 0, "stream_max_retries": 0,  # type: ignore[union-attr]
                     "stream_idle_timeout_ms": 60000})
    catalog = home / "models.json"
    catalog.write_text(json.dumps({"models": [{
        "slug": model, "display_name": model, "base_instructions": "You are a coding agent.",
        "apply_patch_tool_type": "freeform", "shell_type": "unified_exec",
        "context_window": 200000, "input_modalities": ["text"],
        "supported_reasoning_levels": [], "truncation_policy": {"mode": "tokens",
                                                                "limit": 10000},
        "experimental_supported_tools": [], "visibility": "list", "supported_in_api": True,
        "priority": 1, "support_verbosity": False}]}))
    settings: dict[str, Any] = {
        "approval_policy": "never", "sandbox_mode": "danger-full-access",
        "check_for_update_on_startup": False, "model_catalog_json": str(catalog)}
    text = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    text += tomlkit.dumps(doc)
    text += ("\n[features]\nplugins = false\nunbounded_connection_retries = false\n"
             "[analytics]\nenabled = false\n[feedback]\nenabled = false\n"
             '[history]\npersistence = "none"\n')
    config.write_text(text)
    return home


def codex(binary: Path, gateway: Gateway, model: str, prompt: str, home: Path, cwd: Path,
          case: Case) -> tuple[ClientRun, str]:
    """One headless `codex exec`; returns the run and Codex's last message."""
    codex_home(home, gateway, model)
    env = base_env(home) | {
        "CODEX_HOME": str(home),
        # nothing may leave the machine: every proxied request dies on a dead port
        "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    last = home / "last.txt"
    argv: list[str | Path] = [
        binary, "exec", "--json", "--color", "never", "--skip-git-repo-check", "--ephemeral",
        "--dangerously-bypass-approvals-and-sandbox", "-C", cwd, "-o", last, prompt]
    run = run_client(argv, env, cwd, case=case)
    assert run.returncode == 0, run.describe(gateway)
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    failures = [e for e in events if e.get("type") in ("turn.failed", "error")]
    assert not failures, run.describe(gateway)
    assert any(e.get("type") == "turn.completed" for e in events), run.describe(gateway)
    return run, last.read_text().strip() if last.exists() else ""


def upstream(fake: FakeOpenCode, count: int, dialect: str, run: ClientRun,
             gateway: Gateway) -> list[Recorded]:
    sent = fake.completions()
    summary = [(r.path, r.status) for r in sent]
    assert len(sent) == count, f"{summary}\n{run.describe(gateway)}"
    for req in sent:
        assert req.status == 200, (summary, req.body[:2000])
        assert req.path.endswith(ROUTES[dialect])
        assert req.json["model"] == MODELS[dialect].split("/")[1]
        assert req.json.get("stream") is True  # Codex streams; crossway keeps the mode
        assert req.headers["x-opencode-session"]
    # one Codex thread, one upstream session (prompt-cache affinity)
    assert len({r.headers["x-opencode-session"] for r in sent}) == 1
    return sent


def tool_names(req: Recorded, dialect: str) -> list[str]:
    tools = req.json.get("tools") or []
    if dialect == "chat":
        return [t["function"]["name"] for t in tools]
    return [t["name"] for t in tools]


def last_tool_output(req: Recorded, dialect: str) -> str:
    """The output of the last tool call, as the upstream received it in its own dialect."""
    body = req.json
    if dialect == "chat":
        msg = body["messages"][-1]
        assert msg["role"] == "tool", body["messages"][-3:]
        content = msg["content"]
        return content if isinstance(content, str) else "".join(
            p.get("text", "") for p in content)
    if dialect == "messages":
        block = body["messages"][-1]["content"][0]
        assert block["type"] == "tool_result", body["messages"][-1]
        content = block["content"]
        return content if isinstance(content, str) else "".join(
            b.get("text", "") for b in content)
    item = body["input"][-1]
    assert item["type"] in ("function_call_output", "custom_tool_call_output"), item
    output = item["output"]
    return output if isinstance(output, str) else "".join(p.get("text", "") for p in output)


# ----------------------------------------------------------------------------------- tests


@dialects
def test_text_turn(codex_bin: Path, gateway: Gateway, fake_go: FakeOpenCode, workdir: Path,
                   tmp_path: Path, e2e_case: Case, dialect: str) -> None:
    answer = f"Hello from the {dialect} upstream, through crossway."
    fake_go.script(Reply(text=answer, usage=FakeUsage(prompt_tokens=1500, completion_tokens=42)))
    run, last = codex(codex_bin, gateway, MODELS[dialect], "Say hello.", tmp_path / "home",
                      workdir, e2e_case)
    assert last == answer, run.describe(gateway)
    usage = [json.loads(x) for x in run.stdout.splitlines()
             if '"turn.completed"' in x][-1]["usage"]
    assert usage["output_tokens"] == 42 and usage["input_tokens"] == 1500, usage
    (req,) = upstream(fake_go, 1, dialect, run, gateway)
    assert "Say hello." in json.dumps(req.json)
    names = tool_names(req, dialect)
    assert "exec_command" in names and "apply_patch" in names, names
    if dialect == "responses":
        # a Responses upstream gets Codex's freeform tool as it is, and no stored state
        assert {"custom"} == {t["type"] for t in req.json["tools"]
                              if t["name"] == "apply_patch"}
        assert req.json["store"] is False
        assert all("id" not in item for item in req.json["input"])


@dialects
def test_shell_round_trip(codex_bin: Path, gateway: Gateway, fake_go: FakeOpenCode,
                          workdir: Path, tmp_path: Path, e2e_case: Case, dialect: str) -> None:
    call = ToolCallSpec("exec_command", {"cmd": "echo crossway-e2e-$RANDOM-marker"})
    fake_go.script(Reply(reasoning="I will print the marker.", tool_calls=[call]))
    run, last = codex(codex_bin, gateway, MODELS[dialect], "Print the marker.",
                      tmp_path / "home", workdir, e2e_case)
    _, second = upstream(fake_go, 2, dialect, run, gateway)
    output = last_tool_output(second, dialect)
    match = MARKER_RE.search(output)
    assert match, output  # what the shell printed, in the upstream's own dialect
    assert match.group(0) in last, run.describe(gateway)  # the default "tool said: ..." echo
    assert "Print the marker." in json.dumps(second.json)


@dialects
def test_apply_patch_edits_the_workspace(codex_bin: Path, gateway: Gateway,
                                         fake_go: FakeOpenCode, workdir: Path, tmp_path: Path,
                                         e2e_case: Case, dialect: str) -> None:
    (workdir / "notes.md").write_text("old line\n")
    fake_go.script(Reply(tool_calls=[ToolCallSpec("apply_patch", {"input": PATCH})]),
                   Reply(text="Patched both files."))
    run, last = codex(codex_bin, gateway, MODELS[dialect], "Create hello.txt and fix notes.",
                      tmp_path / "home", workdir, e2e_case)
    assert (workdir / "hello.txt").read_text() == "Hello from crossway\n", run.describe(gateway)
    assert (workdir / "notes.md").read_text() == "new line\n", run.describe(gateway)
    assert last == "Patched both files."
    _, second = upstream(fake_go, 2, dialect, run, gateway)
    output = last_tool_output(second, dialect)
    assert "hello.txt" in output, output
    if dialect == "chat":
        call = second.json["messages"][-2]["tool_calls"][-1]
        assert call["function"]["name"] == "apply_patch"
        assert json.loads(call["function"]["arguments"]) == {"input": PATCH}
    elif dialect == "messages":
        use = second.json["messages"][-2]["content"][-1]
        assert use["type"] == "tool_use" and use["input"] == {"input": PATCH}
    else:
        item = second.json["input"][-2]
        assert item["type"] == "custom_tool_call" and item["input"] == PATCH, item
