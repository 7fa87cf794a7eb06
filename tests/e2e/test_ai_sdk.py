"""The Vercel AI SDK (`ai` generateText / streamText) through crossway to the fake OpenCode Go.

Two providers: `@ai-sdk/openai-compatible` (Chat Completions) and `@ai-sdk/anthropic`
(Messages), both with baseURL = crossway + /v1, on both upstream dialects. The tool case is
a real two-step loop: the SDK executes `read_marker` itself and sends its output back; the
fake answers the tool-result turn with "tool said: <output>". Driven by aisdk_driver.mjs.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import (
    CLIENT_KEY,
    MODELS,
    ROUTES,
    Case,
    ClientRun,
    Clients,
    base_env,
    run_client,
)
from tests.fakes.opencode import FakeOpenCode, FakeUsage, Recorded, Reply, ToolCallSpec
from tests.gateway import Gateway

CLIENT = "ai-sdk"
pytestmark = pytest.mark.timeout(120, func_only=True)

DRIVER = Path(__file__).with_name("aisdk_driver.mjs")
PROVIDERS = ("openai-compatible", "anthropic")
MODES = ("generate", "stream")

matrix = pytest.mark.parametrize(
    ("provider", "dialect", "mode"),
    [(p, d, m) for p in PROVIDERS for d in sorted(MODELS) for m in MODES],
    ids=[f"{p}-{d}-{m}" for p in PROVIDERS for d in sorted(MODELS) for m in MODES],
)


def drive(modules: Path, node: str, gateway: Gateway, case: Case, cwd: Path, home: Path,
          **spec: Any) -> tuple[ClientRun, dict[str, Any]]:
    home.mkdir(parents=True, exist_ok=True)
    spec = {"modulesDir": str(modules), "baseURL": gateway.url + "/v1",
            "apiKey": CLIENT_KEY, **spec}
    run = run_client([node, DRIVER, json.dumps(spec)], base_env(home), cwd, case=case)
    try:
        out: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail(f"the AI SDK driver printed no JSON\n{run.describe(gateway)}")
    assert out["ok"] is True, f"{json.dumps(out, indent=1)[:4000]}\n{run.describe(gateway)}"
    return run, out


def upstream(fake: FakeOpenCode, count: int, dialect: str, run: ClientRun,
             gateway: Gateway) -> list[Recorded]:
    sent = fake.completions()
    summary = [(r.path, r.status) for r in sent]
    assert len(sent) == count, f"{summary}\n{run.describe(gateway)}"
    for req in sent:
        assert req.status == 200, (summary, req.body[:2000])
        assert req.path.endswith(ROUTES[dialect])
        assert req.json["model"] == MODELS[dialect].split("/")[1]
        assert req.headers["x-opencode-session"]
        assert CLIENT_KEY not in json.dumps(req.headers) + req.body.decode()
    return sent


@matrix
def test_text(aisdk_dir: Path, e2e_clients: Clients, gateway: Gateway, fake_go: FakeOpenCode,
              workdir: Path, tmp_path: Path, e2e_case: Case, provider: str, dialect: str,
              mode: str) -> None:
    e2e_case.client = f"ai-sdk ({provider})"
    answer = f"Plain answer from {dialect} for {provider}."
    fake_go.script(Reply(text=answer, usage=FakeUsage(prompt_tokens=321, completion_tokens=12)))
    run, out = drive(aisdk_dir, e2e_clients.node, gateway, e2e_case, workdir, tmp_path / "home",
                     provider=provider, model=MODELS[dialect], mode=mode, tools=False,
                     prompt="Say something plain.", marker="")
    assert out["text"] == answer
    assert out["finishReason"] == "stop"
    assert out["usage"]["inputTokens"] == 321, out["usage"]
    assert out["usage"]["outputTokens"] == 12, out["usage"]
    if mode == "stream":
        assert out["streamedText"] == answer
        assert out["parts"].get("text-delta", 0) >= 2, out["parts"]  # really streamed
    (req,) = upstream(fake_go, 1, dialect, run, gateway)
    assert bool(req.json.get("stream")) is (mode == "stream")
    assert "Say something plain." in json.dumps(req.json["messages"])


@matrix
def test_tool_loop(aisdk_dir: Path, e2e_clients: Clients, gateway: Gateway, fake_go: FakeOpenCode,
                   workdir: Path, tmp_path: Path, e2e_case: Case, provider: str, dialect: str,
                   mode: str) -> None:
    e2e_case.client = f"ai-sdk ({provider})"
    marker = "mk-" + secrets.token_hex(4)
    fake_go.script(Reply(text="Let me look.", tool_calls=[ToolCallSpec("read_marker",
                                                                       {"name": "alpha"})]))
    run, out = drive(aisdk_dir, e2e_clients.node, gateway, e2e_case, workdir, tmp_path / "home",
                     provider=provider, model=MODELS[dialect], mode=mode, tools=True,
                     prompt="Read the marker called alpha.", marker=marker)
    output = f"{marker}:alpha"
    assert out["executed"] == [{"name": "alpha", "out": output}]
    assert out["text"] == f"tool said: {output}"
    assert out["finishReason"] == "stop"
    first_step, second_step = out["steps"]
    assert first_step["finishReason"] == "tool-calls"
    assert first_step["text"] == "Let me look."
    (call,) = first_step["toolCalls"]
    assert call["name"] == "read_marker" and call["input"] == {"name": "alpha"}
    assert first_step["toolResults"] == [{"id": call["id"], "output": output}]
    assert second_step["toolCalls"] == [] and second_step["text"] == out["text"]
    if mode == "stream":
        assert out["parts"].get("tool-input-delta", 0) >= 1, out["parts"]
        assert out["parts"]["finish-step"] == 2, out["parts"]
    first, second = upstream(fake_go, 2, dialect, run, gateway)
    for req in (first, second):
        assert bool(req.json.get("stream")) is (mode == "stream")
    msgs = second.json["messages"]
    if dialect == "chat":
        tools = [t["function"]["name"] for t in first.json["tools"]]
        assistant, tool = msgs[-2], msgs[-1]
        (upstream_call,) = assistant["tool_calls"]
        assert upstream_call["function"]["name"] == "read_marker"
        assert json.loads(upstream_call["function"]["arguments"]) == {"name": "alpha"}
        assert tool["role"] == "tool" and tool["tool_call_id"] == upstream_call["id"]
        assert tool["content"] in (output, json.dumps(output)), tool
    else:
        tools = [t["name"] for t in first.json["tools"]]
        assistant, user = msgs[-2], msgs[-1]
        (tool_use,) = [b for b in assistant["content"] if b["type"] == "tool_use"]
        assert tool_use["name"] == "read_marker" and tool_use["input"] == {"name": "alpha"}
        result = user["content"][0]
        assert result["type"] == "tool_result" and result["tool_use_id"] == tool_use["id"]
        content = result["content"]
        if isinstance(content, list):
            content = "".join(b["text"] for b in content if b["type"] == "text")
        assert content in (output, json.dumps(output)), result
    assert tools == ["read_marker"]
