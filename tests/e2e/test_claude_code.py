"""Claude Code (the real CLI, headless) through crossway to the fake OpenCode Go upstream.

`claude -p ... --output-format json --bare` speaks Anthropic Messages, always streaming;
glm-5.1 / kimi-k2.6 answer over chat/completions upstream, minimax-m2.7 over messages. The tool
turn makes Claude Code really run Bash: the command's output ($RANDOM) is unknown to the fake,
so finding it in the final answer and in the next upstream request proves the round trip.
"""

from __future__ import annotations

import json
import re
import time
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
    run_client,
    strip_cache_control,
    tool_exchange,
)
from tests.fakes.opencode import FakeOpenCode, FakeUsage, Recorded, Reply, ToolCallSpec
from tests.gateway import Gateway

CLIENT = "claude-code"
pytestmark = pytest.mark.timeout(240, func_only=True)

MARKER_RE = re.compile(r"crossway-e2e-(\d+)-marker")
BASH_MARKER = ToolCallSpec(
    "Bash", {"command": "echo crossway-e2e-$RANDOM-marker", "description": "print marker"}
)
dialects = pytest.mark.parametrize("dialect", sorted(MODELS))


def claude(binary: Path, gateway: Gateway, model: str, prompt: str, home: Path,
           cwd: Path, case: Case, session: str = "none") -> tuple[ClientRun, dict[str, Any]]:
    """One headless run. session: "none" (not persisted), "new" (persisted), "continue"."""
    home.mkdir(parents=True, exist_ok=True)
    env = base_env(home) | {
        "ANTHROPIC_BASE_URL": gateway.url,
        "ANTHROPIC_API_KEY": CLIENT_KEY,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_NON_ESSENTIAL_MODEL_CALLS": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",  # a gateway error must surface, not be retried away
        "IS_SANDBOX": "1",  # root in CI
    }
    argv: list[str | Path] = [
        binary, "-p", prompt, "--output-format", "json", "--model", model,
        "--bare", "--allowedTools", "Bash",
        *{"none": ["--no-session-persistence"], "new": [], "continue": ["--continue"]}[session],
    ]
    run = run_client(argv, env, cwd, case=case)
    try:
        result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail(f"Claude Code printed no JSON result\n{run.describe(gateway)}")
    return run, result


def upstream(fake: FakeOpenCode, count: int, bare_model: str, dialect: str,
             run: ClientRun, gateway: Gateway, streams: list[bool] | None = None,
             ) -> list[Recorded]:
    sent = fake.completions()
    summary = [(r.path, r.status) for r in sent]
    assert len(sent) == count, f"{summary}\n{run.describe(gateway)}"
    # Claude Code streams (crossway keeps the mode upstream) unless it falls back
    assert [bool(r.json.get("stream")) for r in sent] == (streams or [True] * count), summary
    for req in sent:
        assert req.status == 200, (summary, req.body[:2000])
        assert req.path.endswith(ROUTES[dialect])
        assert req.json["model"] == bare_model
        assert req.headers["x-opencode-session"]
        assert CLIENT_KEY not in json.dumps(req.headers) + req.body.decode()
    # one conversation, one upstream session (prompt-cache affinity)
    assert len({r.headers["x-opencode-session"] for r in sent}) == 1
    return sent


# ----------------------------------------------------------------------------------- tests


@dialects
def test_text_turn(claude_bin: Path, gateway: Gateway, fake_go: FakeOpenCode,
                   workdir: Path, tmp_path: Path, e2e_case: Case, dialect: str) -> None:
    model = MODELS[dialect]
    answer = f"Hello from the {dialect} upstream, through crossway."
    fake_go.script(Reply(text=answer, usage=FakeUsage(prompt_tokens=1500, completion_tokens=42,
                                                       cached_tokens=1000)))
    run, result = claude(claude_bin, gateway, model, "Say hello.", tmp_path / "home", workdir,
                         e2e_case)
    assert result.get("is_error") is False, run.describe(gateway)
    assert run.returncode == 0, run.describe(gateway)
    assert result["result"] == answer
    assert result["num_turns"] == 1
    assert result["stop_reason"] == "end_turn"
    usage = result["usage"]
    assert usage["output_tokens"] == 42, usage
    assert usage["input_tokens"] + usage["cache_read_input_tokens"] == 1500, usage
    assert usage["cache_read_input_tokens"] == 1000, usage
    (req,) = upstream(fake_go, 1, model.split("/")[1], dialect, run, gateway)
    body = req.json
    assert "Say hello." in json.dumps(body["messages"])
    tools = [t["function"]["name"] if dialect == "chat" else t["name"] for t in body["tools"]]
    assert "Bash" in tools


@dialects
def test_tool_turn(claude_bin: Path, gateway: Gateway, fake_go: FakeOpenCode,
                   workdir: Path, tmp_path: Path, e2e_case: Case, dialect: str) -> None:
    model = MODELS[dialect]
    # reasoning + a call without text, as GLM and MiniMax answer (GLM rejects a replayed
    # tool-call message whose content is null); then the default "tool said: ..." echo
    fake_go.script(Reply(reasoning="I will print the marker.", tool_calls=[BASH_MARKER]))
    run, result = claude(claude_bin, gateway, model, "Print the marker with Bash.",
                         tmp_path / "home", workdir, e2e_case)
    assert result.get("is_error") is False, run.describe(gateway)
    match = MARKER_RE.search(result["result"])
    assert match, run.describe(gateway)
    marker = match.group(0)
    assert result["result"].strip() == f"tool said: {marker}"
    assert result["num_turns"] == 2
    first, second = upstream(fake_go, 2, model.split("/")[1], dialect, run, gateway)
    name, args, output = tool_exchange(second, dialect)
    assert name == "Bash"
    assert args == BASH_MARKER.arguments
    assert output.strip() == marker  # what Bash printed, in the upstream's own dialect
    # history replayed intact: the first request is a prefix of the second (Claude Code moves
    # its cache_control breakpoint to the newest message, so compare without it)
    before = strip_cache_control(first.json["messages"])
    assert strip_cache_control(second.json["messages"])[: len(before)] == before
    assistant = second.json["messages"][-2]
    if dialect == "messages":  # the thinking block goes back with the upstream's signature
        thinking = assistant["content"][0]
        assert thinking["type"] == "thinking", assistant
        assert thinking["thinking"] == "I will print the marker."
        assert thinking["signature"].startswith("fake-sig-")
    else:
        assert assistant["content"] == "", assistant


@dialects
def test_upstream_error_reaches_claude_code(claude_bin: Path, gateway: Gateway,
                                            fake_go: FakeOpenCode, workdir: Path,
                                            tmp_path: Path, e2e_case: Case,
                                            dialect: str) -> None:
    model = MODELS[dialect]
    message = "Rate limit exceeded for this key, slow down."
    # The key rests for the retry-after (crossway's key pool): one second, waited out below
    # so the next test finds the key usable again.
    fake_go.script(Reply(error=(429, "RateLimitError", message), retry_after="1"))
    run, result = claude(claude_bin, gateway, model, "Say hello.", tmp_path / "home", workdir,
                         e2e_case)
    assert result.get("is_error") is True, run.describe(gateway)
    assert run.returncode == 1
    assert result["api_error_status"] == 429, result
    assert result["api_error_type"] == "rate_limit_error", result
    assert message in result["result"], result["result"]
    sent = fake_go.completions()
    assert [r.status for r in sent] == [429]  # CLAUDE_CODE_MAX_RETRIES=0: no retry
    time.sleep(1.1)


@dialects
def test_broken_stream_falls_back_to_non_streaming(claude_bin: Path, gateway: Gateway,
                                                   fake_go: FakeOpenCode, workdir: Path,
                                                   tmp_path: Path, e2e_case: Case,
                                                   dialect: str) -> None:
    """The upstream stream dies with an error frame after a few characters: crossway must
    signal an error (not end the message cleanly with the partial text), and Claude Code then
    retries without streaming, which crossway must serve too."""
    model = MODELS[dialect]
    fake_go.script(Reply(text="partial answer that breaks", stream_failure="error_frame"),
                   Reply(text="Recovered answer."))
    run, result = claude(claude_bin, gateway, model, "Say hello.", tmp_path / "home", workdir,
                         e2e_case)
    assert result.get("is_error") is False, run.describe(gateway)
    assert result["result"] == "Recovered answer.", run.describe(gateway)
    upstream(fake_go, 2, model.split("/")[1], dialect, run, gateway, streams=[True, False])


def test_kimi_tool_turn_with_reasoning(claude_bin: Path, gateway: Gateway,
                                       fake_go: FakeOpenCode, workdir: Path, tmp_path: Path,
                                       e2e_case: Case) -> None:
    """Kimi habits: reasoning_content on every reply, turn-scoped ids `functions.Bash:0`, and
    the upstream rejecting a replayed tool call without its reasoning_content."""
    e2e_case.dialect = "chat"
    fake_go.script(Reply(reasoning="The user wants the marker; I will run echo.",
                         tool_calls=[BASH_MARKER]),
                   Reply(reasoning="Bash printed it; report back."))
    run, result = claude(claude_bin, gateway, "opencode-go/kimi-k2.6",
                         "Print the marker with Bash.", tmp_path / "home", workdir, e2e_case)
    assert result.get("is_error") is False, run.describe(gateway)
    match = MARKER_RE.search(result["result"])
    assert match, run.describe(gateway)
    assert result["result"].strip() == f"tool said: {match.group(0)}"
    _, second = upstream(fake_go, 2, "kimi-k2.6", "chat", run, gateway)
    assistant = second.json["messages"][-2]
    assert assistant["reasoning_content"] == "The user wants the marker; I will run echo."
    # Kimi's id `functions.Bash:0` is not a valid Anthropic tool_use id: whatever crossway made
    # of it, the replayed call and its tool message must pair up (checked by tool_exchange)
    assert assistant["tool_calls"][0]["function"]["name"] == "Bash"
    assert tool_exchange(second, "chat")[2].strip() == match.group(0)


def test_kimi_two_tool_turns_reuse_turn_scoped_ids(claude_bin: Path, gateway: Gateway,
                                                   fake_go: FakeOpenCode, workdir: Path,
                                                   tmp_path: Path, e2e_case: Case) -> None:
    """Kimi numbers tool calls per turn, so two consecutive turns both call `functions.Bash:0`.
    Claude Code needs conversation-unique tool_use ids to pair results with calls."""
    e2e_case.dialect = "chat"
    first_cmd = ToolCallSpec("Bash", {"command": "echo first-$RANDOM-one", "description": "a"})
    fake_go.script(Reply(reasoning="Step one.", tool_calls=[first_cmd]),
                   Reply(reasoning="Step two.", tool_calls=[BASH_MARKER]))
    run, result = claude(claude_bin, gateway, "opencode-go/kimi-k2.6",
                         "Run two commands with Bash.", tmp_path / "home", workdir, e2e_case)
    assert result.get("is_error") is False, run.describe(gateway)
    match = MARKER_RE.search(result["result"])
    assert match, f"final answer lost the second tool result: {result['result']!r}\n" + (
        run.describe(gateway))
    assert result["num_turns"] == 3
    *_, third = upstream(fake_go, 3, "kimi-k2.6", "chat", run, gateway)
    msgs = third.json["messages"]
    calls = [m for m in msgs if m["role"] == "assistant" and m.get("tool_calls")]
    results = [m for m in msgs if m["role"] == "tool"]
    assert len(calls) == 2 and len(results) == 2, msgs[1:]
    assert results[0]["content"].startswith("first-") and results[1]["content"].strip() == (
        match.group(0))
    assert [m.get("reasoning_content") for m in calls] == ["Step one.", "Step two."]


def test_deepseek_second_prompt_replays_reasoning(claude_bin: Path, gateway: Gateway,
                                                  fake_go: FakeOpenCode, workdir: Path,
                                                  tmp_path: Path, e2e_case: Case) -> None:
    """DeepSeek V4 (thinking) wants reasoning_content on every assistant message of the
    history: a second prompt in the same Claude Code session (--continue) replays the first
    answer, whose reasoning came back to Claude Code as a thinking block."""
    e2e_case.dialect = "chat"
    model = "opencode-go/deepseek-v4-pro"
    fake_go.script(Reply(reasoning="Thinking about the first.", text="First answer."),
                   Reply(reasoning="Thinking about the second.", text="Second answer."))
    home = tmp_path / "home"
    run, result = claude(claude_bin, gateway, model, "First prompt.", home, workdir, e2e_case,
                         session="new")
    assert result.get("is_error") is False and result["result"] == "First answer.", (
        run.describe(gateway))
    run, result = claude(claude_bin, gateway, model, "Second prompt.", home, workdir, e2e_case,
                         session="continue")
    assert result.get("is_error") is False, run.describe(gateway)
    assert result["result"] == "Second answer."
    sent = fake_go.completions()
    assert [r.status for r in sent] == [200, 200], run.describe(gateway)
    history = [m for m in sent[1].json["messages"] if m["role"] != "system"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"], history
    assert history[1]["content"] == "First answer."
    assert "reasoning_content" in history[1], history[1]
    assert "Second prompt." in json.dumps(history[2])
