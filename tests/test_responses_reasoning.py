"""Reasoning state across dialects, through crossway over real HTTP, against the fake upstreams.

The fake enforces what real upstreams do: Claude and the Anthropic-dialect models on Go
(MiniMax, Qwen) refuse a thinking signature they did not issue (400 "Invalid `signature` in
`thinking` block"); a Responses route refuses encrypted reasoning it did not issue. So every
turn below that replays history fails if crossway forges a token or hands one upstream's token
to another; and it must still succeed when a token cannot be restored (the block is dropped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from crossway import signatures
from tests.conftest import GO_KEY, ZEN_KEY
from tests.fakes.opencode import FakeOpenCode, Recorded, Reply, ToolCallSpec
from tests.gateway import Gateway

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
CHAT_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": SCHEMA}}
ANTHROPIC_TOOL = {"name": "get_weather", "description": "Weather", "input_schema": SCHEMA}
RESPONSES_TOOL = {"type": "function", "name": "get_weather", "parameters": SCHEMA}
THINKING: Any = {"type": "enabled", "budget_tokens": 2048}
stream_modes = pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])


@pytest.fixture(scope="module")
def restarted(fake_go: FakeOpenCode, fake_zen: FakeOpenCode) -> Iterator[Gateway]:
    """A second crossway process on the same upstreams: a restart, or another replica, that
    never saw the conversation's earlier turns."""
    env = {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake_go.base_url,
           "OPENCODE_API_KEY": ZEN_KEY, "OPENCODE_ZEN_BASE_URL": fake_zen.base_url}
    with Gateway(env) as gw:
        yield gw


def _openai(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-client", max_retries=0)


def _anthropic(gw: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="sk-client", max_retries=0)


def _messages(client: anthropic.Anthropic, stream: bool, **kw: Any) -> anthropic.types.Message:
    if not stream:
        return client.messages.create(max_tokens=4096, **kw)
    with client.messages.stream(max_tokens=4096, **kw) as s:
        return s.get_final_message()


def _ok(fake: FakeOpenCode, count: int) -> list[Recorded]:
    sent = fake.completions()
    assert [r.status for r in sent] == [200] * count, [(r.path, r.body[:400]) for r in sent]
    return sent


def _thinking_blocks(req: Recorded) -> list[dict[str, Any]]:
    return [b for m in req.json["messages"] if m["role"] == "assistant"
            and isinstance(m["content"], list) for b in m["content"] if b["type"] == "thinking"]


# ------------------------------------------------------------ OpenAI chat -> /messages


def _chat_tool_loop(gateway: Gateway, stream: bool, history: list[Any],
                    turns: int) -> list[Any]:
    """Run a chat client's tool loop for `turns` answers; returns the extended history."""
    client = _openai(gateway)
    for _ in range(turns):
        kw: dict[str, Any] = {"model": "opencode-go/minimax-m2.7", "messages": history,
                              "tools": [CHAT_TOOL]}
        if stream:
            with client.chat.completions.stream(**kw) as s:
                msg = s.get_final_completion().choices[0].message
        else:
            msg = client.chat.completions.create(**kw).choices[0].message
        if not msg.tool_calls:
            history.append({"role": "assistant", "content": msg.content})
            break
        extra = msg.model_extra or {}
        history.append({"role": "assistant", "content": msg.content or "",
                        "reasoning_content": extra["reasoning_content"],
                        "tool_calls": [c.model_dump() for c in msg.tool_calls]})
        history.append({"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "-5C"})
    return history


@stream_modes
def test_chat_client_on_minimax_multi_turn_with_tools(
        gateway: Gateway, fake_go: FakeOpenCode, restarted: Gateway, stream: bool) -> None:
    """OpenAI chat has no place for a signature: MiniMax's thinking comes back as
    reasoning_content, and crossway keeps the signature for the conversation's next turn, so
    MiniMax gets its own thinking blocks back (the fake refuses any it did not issue). A
    crossway that never saw the turn (a restart, another replica) drops them instead."""
    fake_go.script(
        Reply(reasoning="Look it up.", tool_calls=[ToolCallSpec("get_weather", {"city": "Oslo"})]),
        Reply(reasoning="And Bergen.",
              tool_calls=[ToolCallSpec("get_weather", {"city": "Bergen"})]),
        Reply(text="Cold in both."))
    history = _chat_tool_loop(
        gateway, stream, [{"role": "user", "content": "Weather in Oslo and Bergen?"}], 3)
    assert history[-1] == {"role": "assistant", "content": "Cold in both."}
    assert [m.get("reasoning_content") for m in history if m.get("tool_calls")] == [
        "Look it up.", "And Bergen."]
    sent = _ok(fake_go, 3)
    assert _thinking_blocks(sent[0]) == []
    for request, texts in ((sent[1], ["Look it up."]), (sent[2], ["Look it up.", "And Bergen."])):
        blocks = _thinking_blocks(request)
        assert [b["thinking"] for b in blocks] == texts
        # MiniMax's own signatures, unwrapped: crossway's wrapping never reaches it.
        assert all(not signatures.is_ours(b["signature"]) for b in blocks)
    fake_go.reset()
    fake_go.script(Reply(text="Still cold."))
    history.append({"role": "user", "content": "And now?"})
    _chat_tool_loop(restarted, stream, history, 1)
    (after_restart,) = _ok(fake_go, 1)
    assert _thinking_blocks(after_restart) == []  # nothing to restore: dropped, not forged


def test_chat_client_on_a_responses_upstream_keeps_grok_s_encrypted_reasoning(
        gateway: Gateway, fake_go: FakeOpenCode) -> None:
    """A chat client gets grok's reasoning as text; crossway keeps its encrypted state for the
    next turn, which gives grok its own reasoning item back (the fake refuses any it did not
    issue)."""
    fake_go.script(
        Reply(reasoning="Use the tool.",
              tool_calls=[ToolCallSpec("get_weather", {"city": "Kyiv"})]),
        Reply(text="Snowy."))
    client = _openai(gateway)
    history: list[Any] = [{"role": "user", "content": "Kyiv?"}]
    msg = client.chat.completions.create(model="opencode-go/grok-4.5", messages=history,
                                         tools=[CHAT_TOOL]).choices[0].message
    assert (msg.model_extra or {}).get("reasoning_content") == "Use the tool."
    assert msg.tool_calls
    history += [{"role": "assistant", "content": None, "reasoning_content": "Use the tool.",
                 "tool_calls": [c.model_dump() for c in msg.tool_calls]},
                {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "-2C"}]
    again = client.chat.completions.create(model="opencode-go/grok-4.5", messages=history,
                                           tools=[CHAT_TOOL]).choices[0].message
    assert again.content == "Snowy."
    _, second = _ok(fake_go, 2)
    types = [item.get("type") for item in second.json["input"]]
    assert types[-3:] == ["reasoning", "function_call", "function_call_output"]
    reasoning = next(item for item in second.json["input"] if item.get("type") == "reasoning")
    assert reasoning["encrypted_content"] and not signatures.is_ours(
        reasoning["encrypted_content"])


@stream_modes
def test_anthropic_client_on_a_responses_upstream_keeps_encrypted_reasoning(
        gateway: Gateway, restarted: Gateway, fake_go: FakeOpenCode, stream: bool) -> None:
    """grok-4.5's encrypted reasoning rides in the thinking signature Claude Code keeps, and
    goes back to grok as grok issued it; a second crossway reads it the same way."""
    fake_go.script(
        Reply(reasoning="Need the tool.",
              tool_calls=[ToolCallSpec("get_weather", {"city": "Rome"})]),
        Reply(text="Warm."), Reply(text="Still warm."))
    model = "opencode-go/grok-4.5"
    first = _messages(_anthropic(gateway), stream, model=model, thinking=THINKING,
                      tools=[ANTHROPIC_TOOL], messages=[{"role": "user", "content": "Rome?"}])
    thinking, use = first.content[0], first.content[-1]
    assert thinking.type == "thinking" and use.type == "tool_use"
    assert signatures.kind_of(thinking.signature) == "encrypted"
    assert "gAAAAB-fake-" not in thinking.signature  # carried, never the bare token
    history: list[Any] = [
        {"role": "user", "content": "Rome?"},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "25C"}]}]
    for gw, answer in ((gateway, "Warm."), (restarted, "Still warm.")):
        again = _messages(_anthropic(gw), stream, model=model, thinking=THINKING,
                          tools=[ANTHROPIC_TOOL], messages=history)
        assert again.content[-1].type == "text" and again.content[-1].text == answer
    for req in _ok(fake_go, 3)[1:]:
        reasoning = [i for i in req.json["input"] if i.get("type") == "reasoning"]
        assert len(reasoning) == 1
        assert reasoning[0]["encrypted_content"].startswith("gAAAAB-fake-")


def test_encrypted_reasoning_never_reaches_another_model(
        gateway: Gateway, fake_go: FakeOpenCode) -> None:
    """grok-4.5's state replayed after a switch to gpt-5.6-luna (both /responses) and to
    minimax-m2.7 (/messages): each gets none of it, and each turn succeeds."""
    fake_go.script(Reply(reasoning="Hmm.", text="One."), Reply(text="Two."), Reply(text="Three."))
    client = _anthropic(gateway)
    first = _messages(client, False, model="opencode-go/grok-4.5", thinking=THINKING,
                      messages=[{"role": "user", "content": "Count."}])
    history: list[Any] = [{"role": "user", "content": "Count."},
                          {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                          {"role": "user", "content": "More."}]
    for model in ("opencode-go/gpt-5.6-luna", "opencode-go/minimax-m2.7"):
        _messages(client, False, model=model, thinking=THINKING, messages=history)
    _, luna, minimax = _ok(fake_go, 3)
    assert [i for i in luna.json["input"] if i.get("type") == "reasoning"] == []
    assert _thinking_blocks(minimax) == []


# ------------------------------------------------------ Responses client -> /messages


@stream_modes
def test_responses_client_on_minimax_with_tools(
        gateway: Gateway, restarted: Gateway, fake_go: FakeOpenCode, stream: bool) -> None:
    """Codex-style (store false, full history): MiniMax's signature rides in the reasoning
    item's encrypted_content and comes back to MiniMax as issued, on any crossway."""
    fake_go.script(
        Reply(reasoning="Call it.", tool_calls=[ToolCallSpec("get_weather", {"city": "Lima"})]),
        Reply(text="Mild."), Reply(text="Mild still."))
    kw: dict[str, Any] = {"model": "opencode-go/minimax-m2.7", "tools": [RESPONSES_TOOL],
                          "store": False, "include": ["reasoning.encrypted_content"]}

    def run(gw: Gateway, items: list[Any]) -> Any:
        client = _openai(gw)
        if not stream:
            return client.responses.create(input=items, **kw)
        with client.responses.stream(input=items, **kw) as s:
            return s.get_final_response()

    first = run(gateway, [{"role": "user", "content": "Lima?"}])
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and call.type == "function_call"
    assert signatures.kind_of(reasoning.encrypted_content) == "signature"
    history = [{"role": "user", "content": "Lima?"},
               *[item.model_dump(exclude_none=True) for item in first.output],
               {"type": "function_call_output", "call_id": call.call_id, "output": "18C"}]
    assert run(gateway, history).output_text == "Mild."
    assert run(restarted, history).output_text == "Mild still."
    for req in _ok(fake_go, 3)[1:]:
        (block,) = _thinking_blocks(req)
        assert block["thinking"] == "Call it." and block["signature"].startswith("fake-sig-")


# ------------------------------------------------------------------ model switches


def test_codex_switching_between_responses_models(gateway: Gateway, fake_go: FakeOpenCode
                                                  ) -> None:
    """Codex-style, on the same-dialect fast path: grok's state never reaches gpt-5.6-luna,
    and reaches grok again as grok issued it."""
    fake_go.script(Reply(reasoning="Grok thinks.", text="One."), Reply(text="Two."),
                   Reply(text="Three."))
    client = _openai(gateway)
    kw: dict[str, Any] = {"store": False, "include": ["reasoning.encrypted_content"],
                          "stream": False}
    first = client.responses.create(model="opencode-go/grok-4.5", input="Count.", **kw)
    history = [{"role": "user", "content": "Count."},
               *[item.model_dump(exclude_none=True) for item in first.output],
               {"role": "user", "content": "More."}]
    client.responses.create(model="opencode-go/gpt-5.6-luna", input=history, **kw)
    client.responses.create(model="opencode-go/grok-4.5", input=history, **kw)
    _, luna, grok = _ok(fake_go, 3)
    assert [i for i in luna.json["input"] if i.get("type") == "reasoning"] == []
    (item,) = [i for i in grok.json["input"] if i.get("type") == "reasoning"]
    assert item["encrypted_content"].startswith("gAAAAB-fake-")


def test_switch_to_claude_drops_every_foreign_thinking_block(
        gateway: Gateway, fake_go: FakeOpenCode, fake_zen: FakeOpenCode) -> None:
    """Claude Code-style: thinking minted by crossway (glm-5.1 has no signature) and MiniMax's
    carried signature; a switch to MiniMax drops the minted one, a switch to a real Claude
    drops both (the fake's Claude accepts only signatures it issued itself)."""
    fake_go.script(Reply(reasoning="GLM thinks.", text="A."),
                   Reply(reasoning="MiniMax thinks.", text="B."))
    fake_zen.script(Reply(reasoning="Claude thinks.", text="C."), Reply(text="D."))
    client = _anthropic(gateway)
    history: list[Any] = [{"role": "user", "content": "Go."}]
    for model in ("opencode-go/glm-5.1", "opencode-go/minimax-m2.7",
                  "opencode-zen/claude-sonnet-4-6", "opencode-zen/claude-sonnet-4-6"):
        msg = _messages(client, True, model=model, thinking=THINKING, messages=history)
        history += [{"role": "assistant", "content": [b.model_dump() for b in msg.content]},
                    {"role": "user", "content": "Next."}]
    glm_sig = history[1]["content"][0]["signature"]
    assert glm_sig.startswith(signatures.MINTED)
    _, minimax = _ok(fake_go, 2)
    assert _thinking_blocks(minimax) == []  # crossway's own minted signature stays home
    claude_first, claude_second = _ok(fake_zen, 2)
    assert _thinking_blocks(claude_first) == []
    # Claude's own thinking (a raw signature it issued) is replayed to Claude untouched
    (own,) = _thinking_blocks(claude_second)
    assert own["thinking"] == "Claude thinks." and own["signature"].startswith("fake-sig-")
    assert json.dumps(claude_second.json).count('"thinking"') >= 1
