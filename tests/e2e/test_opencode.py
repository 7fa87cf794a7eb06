"""OpenCode (the real CLI, `opencode run`) through crossway to the fake OpenCode Go upstream.

OpenCode is configured with a custom provider `crossway`, either on `@ai-sdk/openai-compatible`
(OpenAI Chat Completions, baseURL crossway/v1; what users are told to write) or on
`@ai-sdk/anthropic` (Messages, baseURL crossway/v1); both are bundled in its binary. It always
streams. Per prompt it asks for a session title (small_model, no tools) concurrently with the
agent loop (tools offered): scripted replies target the loop with `when_tools=True`, the title
request gets the fake's default echo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import (
    CLIENT_KEY,
    MODELS,
    ROUTES,
    Case,
    ClientRun,
    base_env,
    offline_home,
    run_client,
    tool_exchange,
)
from tests.fakes.opencode import FakeOpenCode, FakeUsage, Recorded, Reply, ToolCallSpec
from tests.gateway import Gateway

CLIENT = "opencode"
pytestmark = pytest.mark.timeout(240, func_only=True)

MARKER_RE = re.compile(r"crossway-e2e-(\d+)-marker")
BASH_MARKER = ToolCallSpec(
    "bash", {"command": "echo crossway-e2e-$RANDOM-marker", "description": "Print marker"}
)
PROVIDERS = ("openai-compatible", "anthropic")
matrix = pytest.mark.parametrize(
    ("provider", "dialect"), [(p, d) for p in PROVIDERS for d in sorted(MODELS)],
    ids=[f"{p}-{d}" for p in PROVIDERS for d in sorted(MODELS)],
)
providers = pytest.mark.parametrize("provider", PROVIDERS)


@pytest.fixture(scope="module")
def opencode_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One scratch HOME for the module: OpenCode's first-run set-up happens once."""
    yield offline_home(tmp_path_factory.mktemp("opencode-home"))


def opencode_config(gateway: Gateway, provider: str, model: str) -> dict[str, Any]:
    return {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "crossway": {
                "npm": f"@ai-sdk/{provider}",
                "name": "crossway",
                "options": {"baseURL": gateway.url + "/v1", "apiKey": CLIENT_KEY},
                "models": {model: {"name": model, "tool_call": True}},
            }
        },
        "model": f"crossway/{model}",
        "small_model": f"crossway/{model}",
        "autoupdate": False,
        "share": "disabled",
        "permission": {"bash": "allow", "edit": "allow", "webfetch": "deny"},
    }


def opencode(binary: Path, gateway: Gateway, provider: str, model: str, prompt: str,
             home: Path, cwd: Path, case: Case, *extra: str,
             ) -> tuple[ClientRun, list[dict[str, Any]]]:
    case.client = f"{CLIENT} ({provider})"
    config = cwd.parent / "opencode-config.json"
    config.write_text(json.dumps(opencode_config(gateway, provider, model), indent=2))
    env = base_env(home) | {
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "OPENCODE_CONFIG": str(config),
        "OPENCODE_DISABLE_PROJECT_CONFIG": "1",
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "OPENCODE_DISABLE_SHARE": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    }
    argv: list[str | Path] = [
        binary, "run", "--model", f"crossway/{model}", "--format", "json", *extra, prompt,
    ]
    run = run_client(argv, env, cwd, case=case)
    events: list[dict[str, Any]] = []
    for line in run.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return run, events


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["part"]["text"] for e in events if e.get("type") == "text"]


def tool_uses(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["part"] for e in events if e.get("type") == "tool_use"]


def agent_requests(fake: FakeOpenCode, count: int, bare_model: str, dialect: str,
                   run: ClientRun, gateway: Gateway) -> list[Recorded]:
    """The agent-loop requests (with tools); checks every upstream request on the way."""
    sent = fake.completions()
    summary = [(r.path, r.status, bool(r.json and r.json.get("tools"))) for r in sent]
    for req in sent:
        assert req.path.endswith(ROUTES[dialect])
        assert req.json["model"] == bare_model
        assert req.json["stream"] is True
        assert req.headers["x-opencode-session"]
        assert CLIENT_KEY not in json.dumps(req.headers) + req.body.decode()
    # the title request runs concurrently and OpenCode may exit before it is answered
    titles = [r for r in sent if not r.json.get("tools")]
    agent = [r for r in sent if r.json.get("tools")]
    assert len(titles) <= 1, summary
    assert len(agent) == count, f"{summary}\n{run.describe(gateway)}"
    for req in agent:
        assert req.status == 200, (summary, req.body[:2000], run.describe(gateway))
    # the whole OpenCode session maps to one upstream session
    assert len({r.headers["x-opencode-session"] for r in agent}) == 1, summary
    return agent


# ----------------------------------------------------------------------------------- tests


@matrix
def test_text_turn(opencode_bin: Path, gateway: Gateway, fake_go: FakeOpenCode,
                   opencode_home: Path, workdir: Path, e2e_case: Case, provider: str,
                   dialect: str) -> None:
    model = MODELS[dialect]
    answer = f"Hello from the {dialect} upstream, through crossway."
    fake_go.script(Reply(text=answer, when_tools=True,
                         usage=FakeUsage(prompt_tokens=900, completion_tokens=17)))
    run, events = opencode(opencode_bin, gateway, provider, model, "Say hello.", opencode_home,
                           workdir, e2e_case)
    assert run.returncode == 0, run.describe(gateway)
    assert texts(events) == [answer], run.describe(gateway)
    assert not [e for e in events if e.get("type") == "error"], run.describe(gateway)
    finishes = [e["part"] for e in events if e.get("type") == "step_finish"]
    assert finishes and finishes[-1]["reason"] == "stop"
    tokens = finishes[-1]["tokens"]
    assert tokens["output"] == 17, tokens
    assert tokens["input"] + tokens["cache"]["read"] + tokens["cache"]["write"] == 900, tokens
    (req,) = agent_requests(fake_go, 1, model.split("/")[1], dialect, run, gateway)
    assert "Say hello." in json.dumps(req.json["messages"])
    assert fake_go.pending == 0


@matrix
def test_tool_turn(opencode_bin: Path, gateway: Gateway, fake_go: FakeOpenCode,
                   opencode_home: Path, workdir: Path, e2e_case: Case, provider: str,
                   dialect: str) -> None:
    model = MODELS[dialect]
    fake_go.script(Reply(text="Running it.", tool_calls=[BASH_MARKER], when_tools=True))
    run, events = opencode(opencode_bin, gateway, provider, model, "Print the marker with bash.",
                           opencode_home, workdir, e2e_case)
    assert run.returncode == 0, run.describe(gateway)
    (use,) = tool_uses(events)
    assert use["tool"] == "bash" and use["state"]["status"] == "completed", use
    assert use["state"]["input"] == BASH_MARKER.arguments
    match = MARKER_RE.search(use["state"]["output"])
    assert match, use
    marker = match.group(0)
    assert texts(events)[0] == "Running it."
    assert texts(events)[-1].strip() == f"tool said: {marker}", run.describe(gateway)
    first, second = agent_requests(fake_go, 2, model.split("/")[1], dialect, run, gateway)
    assert len(first.json["messages"]) < len(second.json["messages"])
    name, args, output = tool_exchange(second, dialect)
    assert (name, args) == ("bash", BASH_MARKER.arguments)
    assert output.strip() == marker  # what bash printed, in the upstream's own dialect


@providers
def test_kimi_two_tool_turns(opencode_bin: Path, gateway: Gateway, fake_go: FakeOpenCode,
                             opencode_home: Path, workdir: Path, e2e_case: Case,
                             provider: str) -> None:
    """Kimi habits: reasoning_content on every reply (the upstream rejects a replayed tool
    call without it) and turn-scoped ids, `functions.bash:0` on both turns."""
    e2e_case.dialect = "chat"
    first_cmd = ToolCallSpec("bash", {"command": "echo first-$RANDOM-one", "description": "a"})
    fake_go.script(Reply(reasoning="Step one.", tool_calls=[first_cmd], when_tools=True),
                   Reply(reasoning="Step two.", tool_calls=[BASH_MARKER], when_tools=True),
                   Reply(reasoning="Done.", when_tools=True))
    run, events = opencode(opencode_bin, gateway, provider, "opencode-go/kimi-k2.6",
                           "Run two commands with bash.", opencode_home, workdir, e2e_case)
    assert run.returncode == 0, run.describe(gateway)
    uses = tool_uses(events)
    assert [u["state"]["status"] for u in uses] == ["completed", "completed"], uses
    match = MARKER_RE.search(uses[1]["state"]["output"])
    assert match, uses
    assert texts(events)[-1].strip() == f"tool said: {match.group(0)}", run.describe(gateway)
    *_, third = agent_requests(fake_go, 3, "kimi-k2.6", "chat", run, gateway)
    msgs = third.json["messages"]
    calls = [m for m in msgs if m["role"] == "assistant" and m.get("tool_calls")]
    results = [m for m in msgs if m["role"] == "tool"]
    assert [m.get("reasoning_content") for m in calls] == ["Step one.", "Step two."], msgs
    assert [r["tool_call_id"] for r in results] == [c["tool_calls"][0]["id"] for c in calls]
    assert results[0]["content"].startswith("first-")
    assert results[1]["content"].strip() == match.group(0)


@providers
def test_deepseek_second_prompt_replays_reasoning(opencode_bin: Path, gateway: Gateway,
                                                  fake_go: FakeOpenCode, opencode_home: Path,
                                                  workdir: Path, e2e_case: Case,
                                                  provider: str) -> None:
    """DeepSeek V4 (thinking) wants reasoning_content on every assistant message of the
    history: the second prompt of a session (`run --continue`) replays the first answer."""
    e2e_case.dialect = "chat"
    model = "opencode-go/deepseek-v4-pro"
    fake_go.script(Reply(reasoning="Thinking about the first.", text="First answer.",
                         when_tools=True),
                   Reply(reasoning="Thinking about the second.", text="Second answer.",
                         when_tools=True))
    run, events = opencode(opencode_bin, gateway, provider, model, "First prompt.",
                           opencode_home, workdir, e2e_case)
    assert run.returncode == 0 and texts(events) == ["First answer."], run.describe(gateway)
    run, events = opencode(opencode_bin, gateway, provider, model, "Second prompt.",
                           opencode_home, workdir, e2e_case, "--continue")
    assert run.returncode == 0, run.describe(gateway)
    assert texts(events) == ["Second answer."], run.describe(gateway)
    _, second = agent_requests(fake_go, 2, "deepseek-v4-pro", "chat", run, gateway)
    history = [m for m in second.json["messages"] if m["role"] != "system"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"], history
    assert history[1]["content"] == "First answer."
    assert "reasoning_content" in history[1], history[1]
    assert "Second prompt." in json.dumps(history[2])
