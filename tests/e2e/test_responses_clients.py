"""Claude Code and OpenCode (the real CLIs, headless) on a model served only over Responses.

OpenCode Go serves grok-4.5 on `/responses` only: Claude Code speaks Anthropic Messages and
OpenCode (openai-compatible) Chat Completions to crossway, which translates to and from the
Responses dialect upstream (tools, reasoning and its encrypted state included). The Bash turn
makes the client really run a command whose output the fake cannot know, and Claude Code
replay grok's reasoning state on the next request.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.clients import CLIENT_KEY, Case
from tests.e2e.test_claude_code import BASH_MARKER, MARKER_RE, claude
from tests.e2e.test_opencode import BASH_MARKER as OPENCODE_BASH
from tests.e2e.test_opencode import opencode, opencode_home, texts, tool_uses
from tests.fakes.opencode import FakeOpenCode, FakeUsage, Recorded, Reply
from tests.gateway import Gateway

CLIENT = "claude-code"
pytestmark = pytest.mark.timeout(240, func_only=True)
MODEL = "opencode-go/grok-4.5"
responses = pytest.mark.parametrize("dialect", ["responses"])


__all__ = ["opencode_home"]  # a module-scoped fixture shared with test_opencode


def upstream(fake: FakeOpenCode, count: int) -> list[Recorded]:
    sent = fake.completions()
    summary = [(r.path, r.status) for r in sent]
    assert len(sent) == count, summary
    for req in sent:
        assert req.status == 200, (summary, req.body[:2000])
        assert req.path.endswith("/responses")
        assert req.json["model"] == "grok-4.5" and req.json["stream"] is True
        assert req.json["store"] is False
        assert req.headers["authorization"].startswith("Bearer sk-test-go")
        assert CLIENT_KEY not in json.dumps(req.headers) + req.body.decode()
    assert len({r.headers["x-opencode-session"] for r in sent}) == 1
    return sent


@responses
def test_text_turn(claude_bin: Path, gateway: Gateway, fake_go: FakeOpenCode, workdir: Path,
                   tmp_path: Path, e2e_case: Case, dialect: str) -> None:
    answer = "Hello from grok, over the Responses API, through crossway."
    fake_go.script(Reply(text=answer, usage=FakeUsage(prompt_tokens=1500, completion_tokens=42,
                                                       cached_tokens=1000)))
    run, result = claude(claude_bin, gateway, MODEL, "Say hello.", tmp_path / "home", workdir,
                         e2e_case)
    assert result.get("is_error") is False, run.describe(gateway)
    assert result["result"] == answer and result["num_turns"] == 1
    usage = result["usage"]
    assert usage["output_tokens"] == 42, usage
    assert usage["input_tokens"] + usage["cache_read_input_tokens"] == 1500, usage
    (req,) = upstream(fake_go, 1)
    assert "Say hello." in json.dumps(req.json["input"])
    assert "Bash" in [t["name"] for t in req.json["tools"]]


@responses
def test_bash_round_trip(claude_bin: Path, gateway: Gateway, fake_go: FakeOpenCode,
                         workdir: Path, tmp_path: Path, e2e_case: Case, dialect: str) -> None:
    fake_go.script(Reply(reasoning="I will print the marker.", tool_calls=[BASH_MARKER]))
    run, result = claude(claude_bin, gateway, MODEL, "Print the marker with Bash.",
                         tmp_path / "home", workdir, e2e_case)
    assert result.get("is_error") is False, run.describe(gateway)
    match = MARKER_RE.search(result["result"])
    assert match, run.describe(gateway)
    assert result["num_turns"] == 2
    _, second = upstream(fake_go, 2)
    items = second.json["input"]
    output = items[-1]
    assert output["type"] == "function_call_output", items[-3:]
    assert match.group(0) in json.dumps(output["output"])  # what Bash printed
    call = next(i for i in items if i.get("type") == "function_call")
    assert call["name"] == "Bash" and json.loads(call["arguments"]) == BASH_MARKER.arguments
    assert call["call_id"] == output["call_id"]
    # grok's encrypted reasoning came back to grok, as grok issued it (the fake refuses any
    # other), carried by Claude Code in the thinking signature
    reasoning = [i for i in items if i.get("type") == "reasoning"]
    assert len(reasoning) == 1 and reasoning[0]["encrypted_content"].startswith("gAAAAB-fake-")


@responses
def test_opencode_bash_round_trip(opencode_bin: Path, gateway: Gateway, fake_go: FakeOpenCode,
                                  opencode_home: Path, workdir: Path, e2e_case: Case,
                                  dialect: str) -> None:
    """OpenCode's openai-compatible provider (Chat Completions) on grok-4.5."""
    fake_go.script(Reply(text="Running it.", tool_calls=[OPENCODE_BASH], when_tools=True))
    run, events = opencode(opencode_bin, gateway, "openai-compatible", MODEL,
                           "Print the marker with bash.", opencode_home, workdir, e2e_case)
    assert run.returncode == 0, run.describe(gateway)
    (use,) = tool_uses(events)
    assert use["tool"] == "bash" and use["state"]["status"] == "completed", use
    match = MARKER_RE.search(use["state"]["output"])
    assert match, use
    assert texts(events)[-1].strip() == f"tool said: {match.group(0)}", run.describe(gateway)
    agent = [r for r in fake_go.completions() if r.json.get("tools")]
    assert len(agent) == 2, [(r.path, r.status) for r in fake_go.completions()]
    for req in agent:
        assert req.status == 200 and req.path.endswith("/responses"), req.body[:1000]
    output = agent[1].json["input"][-1]
    assert output["type"] == "function_call_output" and match.group(0) in output["output"]
