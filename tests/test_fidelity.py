"""Translation fidelity: one regression test per pitfall of spec B12 that crossway guards
against, each driven through the gateway over HTTP with a real SDK where possible."""

from __future__ import annotations

import re
from typing import Any

import anthropic
import openai

from crossway.toolids import ConversationIds, for_anthropic_client
from tests.fakes.opencode import FakeOpenCode, Reply, ToolCallSpec
from tests.gateway import Gateway

ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
BASH = {"name": "Bash", "description": "Run a shell command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}
OPENAI_BASH = {"type": "function", "function": {
    "name": "Bash", "description": "Run a shell command",
    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}


def _claude(gw: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key="x", max_retries=0)


def test_conversation_ids_are_valid_unique_and_stable() -> None:
    ids = ConversationIds()
    ids.start_assistant_turn()
    first = ids.tool_use("functions.Bash:0", 1)
    assert first == "functions_Bash_0" and ids.tool_result("functions.Bash:0") == first
    ids.start_assistant_turn()
    second = ids.tool_use("functions.Bash:0", 3)  # Kimi reuses turn-scoped ids
    assert second != first and ANTHROPIC_ID.match(second)
    assert ids.tool_result("functions.Bash:0") == second
    assert ids.tool_use("functions.Bash:0", 3) == second  # same turn, same id
    minted = for_anthropic_client("functions.Bash:0", "msg_a")
    assert minted.startswith("toolu_") and minted == for_anthropic_client("functions.Bash:0",
                                                                          "msg_a")
    assert minted != for_anthropic_client("functions.Bash:0", "msg_b")
    assert for_anthropic_client("toolu_01Abc", "msg_a") == "toolu_01Abc"


def test_kimi_tool_ids_reach_claude_clients_valid_and_unique(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """B12: `tool_use.id: String should match pattern` and "`tool_use` ids must be unique":
    Kimi's `functions.Bash:0` repeats every turn. A two-turn tool loop via the Anthropic SDK
    against kimi-k2.6 (which also demands reasoning_content on replayed tool-call turns)."""
    client = _claude(gateway)
    history: list[dict[str, Any]] = [{"role": "user", "content": "list files twice"}]
    seen: list[str] = []
    for turn in range(2):
        fake_go.script(Reply(reasoning=f"thinking {turn}",
                             tool_calls=[ToolCallSpec("Bash", {"command": "ls"})]))
        msg = client.messages.create(model="opencode-go/kimi-k2.6", max_tokens=200,
                                     tools=[BASH], messages=history)  # type: ignore[arg-type]
        assert msg.stop_reason == "tool_use"
        tool = msg.content[-1]
        assert tool.type == "tool_use" and ANTHROPIC_ID.match(tool.id)
        seen.append(tool.id)
        history.append({"role": "assistant", "content": [b.model_dump() for b in msg.content]})
        history.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": tool.id, "content": "a.txt"}]})
    assert seen[0] != seen[1]
    # Both upstream turns carried Kimi's own ids; the replayed history carries ours.
    fake_go.script(Reply(text="done"))
    final = client.messages.create(model="opencode-go/kimi-k2.6", max_tokens=200,
                                   tools=[BASH], messages=history)  # type: ignore[arg-type]
    assert final.content[-1].text == "done"  # type: ignore[union-attr]
    sent = fake_go.completions()[-1].json["messages"]
    calls = [m for m in sent if m["role"] == "assistant"]
    assert [c["tool_calls"][0]["id"] for c in calls] == seen
    assert all("reasoning_content" in c for c in calls)  # Kimi's replay rule (spec B1.6)
    assert [c["reasoning_content"] for c in calls] == ["thinking 0", "thinking 1"]


def test_turn_scoped_ids_made_unique_for_anthropic_upstreams(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """An OpenCode-style history with Kimi ids repeated across turns, continued on a
    Messages upstream (MiniMax), which rejects invalid and duplicate ids."""
    fake_go.script(Reply(text="summary"))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    messages: list[Any] = [{"role": "user", "content": "go"}]
    for _ in range(2):
        messages += [
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "functions.Bash:0", "type": "function",
                 "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}]},
            {"role": "tool", "tool_call_id": "functions.Bash:0", "content": "a.txt"},
        ]
    r = client.chat.completions.create(model="opencode-go/minimax-m2.7", messages=messages,
                                       tools=[OPENAI_BASH])  # type: ignore[list-item]
    assert r.choices[0].message.content == "summary"
    sent = fake_go.completions()[-1].json["messages"]
    uses = [b["id"] for m in sent for b in m["content"] if b["type"] == "tool_use"]
    results = [b["tool_use_id"] for m in sent for b in m["content"] if b["type"] == "tool_result"]
    assert len(set(uses)) == 2 and uses == results
    assert all(ANTHROPIC_ID.match(i) for i in uses)


BILLING = "x-anthropic-billing-header: cc_version=2.1.329.a1b; cc_entrypoint=sdk-cli; cch=9f3e;"


def test_claude_code_billing_header_not_sent_to_other_upstreams(
    gateway: Gateway, fake_go: FakeOpenCode, fake_zen: FakeOpenCode
) -> None:
    """B1.3/B11: the attribution line varies per conversation and breaks prefix caching."""
    system = [{"type": "text", "text": BILLING},
              {"type": "text", "text": "You are Claude Code.",
               "cache_control": {"type": "ephemeral"}}]
    fake_go.script(Reply(text="a"), Reply(text="b"))
    client = _claude(gateway)
    for model in ("opencode-go/glm-5.1", "opencode-go/minimax-m2.7"):
        client.messages.create(model=model, max_tokens=10, system=system,  # type: ignore[arg-type]
                               messages=[{"role": "user", "content": "hi"}])
    chat, messages = (r.json for r in fake_go.completions())
    assert chat["messages"][0] == {"role": "system", "content": "You are Claude Code."}
    assert [b["text"] for b in messages["system"]] == ["You are Claude Code."]
    # Real Anthropic keeps it (it is Anthropic's own header).
    fake_zen.script(Reply(text="c"))
    client.messages.create(model="opencode-zen/claude-sonnet-4-6", max_tokens=10,
                           system=system,  # type: ignore[arg-type]
                           messages=[{"role": "user", "content": "hi"}])
    assert fake_zen.completions()[-1].json["system"][0]["text"] == BILLING


LONG = "mcp__" + "very_long_server_name_" * 3 + "__fetch_everything_tool"


def test_long_tool_names_shortened_and_restored(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    assert len(LONG) > 64
    client = _claude(gateway)
    tool = {"name": LONG, "input_schema": {"type": "object", "properties": {}}}
    for stream in (False, True):
        fake_go.reset()
        sent_name: list[str] = []

        def short_name() -> str:
            tools = fake_go.completions()[-1].json["tools"]
            return str(tools[0]["function"]["name"])

        # First turn: learn the short name crossway uses upstream, then script a call to it.
        fake_go.script(Reply(text="ok"))
        client.messages.create(model="opencode-go/glm-5.1", max_tokens=10, tools=[tool],  # type: ignore[list-item]
                               messages=[{"role": "user", "content": "hi"}])
        sent_name.append(short_name())
        assert len(sent_name[0]) <= 64
        fake_go.script(Reply(tool_calls=[ToolCallSpec(sent_name[0], {})]))
        kw: dict[str, Any] = {"model": "opencode-go/glm-5.1", "max_tokens": 10,
                              "tools": [tool], "tool_choice": {"type": "tool", "name": LONG},
                              "messages": [{"role": "user", "content": "call it"}]}
        if stream:
            with client.messages.stream(**kw) as s:
                msg = s.get_final_message()
        else:
            msg = client.messages.create(**kw)
        assert msg.content[-1].type == "tool_use" and msg.content[-1].name == LONG
        upstream = fake_go.completions()[-1].json
        assert upstream["tool_choice"] == {"type": "function", "function": {"name": sent_name[0]}}
        # Replaying the history: the long name goes upstream shortened the same way.
        fake_go.script(Reply(text="done"))
        client.messages.create(model="opencode-go/glm-5.1", max_tokens=10, tools=[tool],  # type: ignore[list-item]
                               messages=[*kw["messages"],
                                         {"role": "assistant", "content": [
                                             b.model_dump() for b in msg.content]},
                                         {"role": "user", "content": [
                                             {"type": "tool_result",
                                              "tool_use_id": msg.content[-1].id,  # type: ignore[union-attr]
                                              "content": "x"}]}])
        replay = fake_go.completions()[-1].json["messages"][1]
        assert replay["tool_calls"][0]["function"]["name"] == sent_name[0]


def test_context_overflow_worded_the_anthropic_way(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """B8: Claude Code auto-compacts on Anthropic's wording; OpenAI clients get the code."""
    too_long = ("Error from provider (Console Go): This model's maximum context length is "
                "131072 tokens. However, you requested 140000 tokens (139000 in the messages, "
                "1000 in the completion).")
    fake_go.script(Reply(error=(400, "invalid_request_error", too_long)),
                   Reply(error=(400, "invalid_request_error", too_long)))
    client = _claude(gateway)
    try:
        client.messages.create(model="opencode-go/glm-5.1", max_tokens=1000,
                               messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("expected a 400")
    except anthropic.BadRequestError as exc:
        body: Any = exc.body
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["message"].startswith(
            "prompt is too long: 140000 tokens > 131072 maximum")
    oclient = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    try:
        oclient.chat.completions.create(model="opencode-go/glm-5.1",
                                        messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("expected a 400")
    except openai.BadRequestError as exc:
        assert exc.code == "context_length_exceeded"


def test_silent_streams_are_kept_alive(fake_go: FakeOpenCode) -> None:
    """A reasoning model can go quiet for minutes; clients and proxies drop idle streams, so
    crossway pings while a committed stream is silent (Anthropic `ping` events, SSE comments
    for OpenAI clients), and never after the terminal event."""
    import json

    from tests.gateway import request
    env = {"OPENCODE_GO_API_KEY": "sk-test-go-0123456789", "OPENCODE_GO_BASE_URL":
           fake_go.base_url, "CROSSWAY_PING_INTERVAL": "0.05"}
    with Gateway(env) as gw:
        for model in ("opencode-go/glm-5.1", "opencode-go/minimax-m2.7"):
            fake_go.script(Reply(text="slow but steady", chunks=1, gap=0.15))
            body = {"model": model, "max_tokens": 50, "stream": True,
                    "messages": [{"role": "user", "content": "hi"}]}
            status, _, payload = request(gw, "POST", "/v1/messages", json.dumps(body).encode(),
                                         {"content-type": "application/json"})
            events = [line[7:] for line in payload.decode().splitlines()
                      if line.startswith("event: ")]
            assert status == 200
            assert events.count("ping") >= 3  # one after message_start, more in the gaps
            assert events[-1] == "message_stop"
            fake_go.script(Reply(text="slow but steady", chunks=1, gap=0.15))
            status, _, payload = request(gw, "POST", "/v1/chat/completions",
                                         json.dumps(body).encode(),
                                         {"content-type": "application/json"})
            text = payload.decode()
            assert status == 200 and text.count(": keep-alive\n\n") >= 2
            assert text.rstrip().endswith("data: [DONE]")


def test_tagged_reasoning_in_content_becomes_thinking(
    gateway: Gateway, fake_zen: FakeOpenCode
) -> None:
    """B3.4/A10: MiniMax on Zen's chat route writes `<think>...</think>` into content."""
    from crossway import signatures

    client = _claude(gateway)
    for stream in (False, True):
        fake_zen.script(Reply(text="<think>Count the letters.</think>\n\nThree.", chunks=4))
        kw: dict[str, Any] = {"model": "opencode-zen/minimax-m2.7", "max_tokens": 50,
                              "messages": [{"role": "user", "content": "r's in strawberry?"}]}
        if stream:
            with client.messages.stream(**kw) as s:
                msg = s.get_final_message()
        else:
            msg = client.messages.create(**kw)
        assert [b.type for b in msg.content] == ["thinking", "text"]
        assert msg.content[0].thinking == "Count the letters."  # type: ignore[union-attr]
        assert signatures.is_ours(msg.content[0].signature)  # type: ignore[union-attr]
        assert msg.content[1].text == "Three."  # type: ignore[union-attr]
    fake_zen.script(Reply(text="<think>Count the letters.</think>\n\nThree."))
    oclient = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    r = oclient.chat.completions.create(model="opencode-zen/minimax-m2.7", messages=[
        {"role": "user", "content": "r's in strawberry?"}], extra_body={})
    # Same dialect both sides: the fast path leaves the upstream's content as it is.
    assert r.choices[0].message.content == "<think>Count the letters.</think>\n\nThree."


def test_claude_code_thinking_reaches_each_family_its_own_way(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """Claude Code's adaptive thinking + effort: DeepSeek gets its switch and
    reasoning_effort, GLM only its switch (its console routes reject reasoning_effort)."""
    client = _claude(gateway)
    for model in ("opencode-go/glm-5.1", "opencode-go/deepseek-v4-pro"):
        fake_go.script(Reply(text="ok"))
        client.messages.create(model=model, max_tokens=64,
                               messages=[{"role": "user", "content": "hi"}],
                               extra_body={"thinking": {"type": "adaptive", "display": "omitted"},
                                           "output_config": {"effort": "high"}})
    glm, deepseek = (r.json for r in fake_go.completions())
    assert glm["thinking"] == {"type": "enabled"} and "reasoning_effort" not in glm
    assert deepseek["thinking"] == {"type": "enabled"} and deepseek["reasoning_effort"] == "high"


KIMI_LEAK = ("Checking.<|tool_calls_section_begin|><|tool_call_begin|>functions.Bash:0"
             '<|tool_call_argument_begin|>{"command": "ls"}<|tool_call_end|>'
             "<|tool_calls_section_end|>")


def test_kimi_raw_tool_tokens_become_tool_calls(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    """B12: Kimi sometimes leaks `<|tool_calls_section_begin|>` tokens into content; both
    client dialects get a real tool call instead of the raw tokens."""
    for stream in (False, True):
        fake_go.script(Reply(text=KIMI_LEAK, chunks=5))
        kw: dict[str, Any] = {"model": "opencode-go/kimi-k2.6", "max_tokens": 100,
                              "tools": [BASH],
                              "messages": [{"role": "user", "content": "list"}]}
        client = _claude(gateway)
        if stream:
            with client.messages.stream(**kw) as s:
                msg = s.get_final_message()
        else:
            msg = client.messages.create(**kw)
        assert [b.type for b in msg.content] == ["text", "tool_use"]
        assert msg.content[0].text == "Checking."  # type: ignore[union-attr]
        assert msg.content[1].input == {"command": "ls"}  # type: ignore[union-attr]
        assert ANTHROPIC_ID.match(msg.content[1].id)  # type: ignore[union-attr]
        assert msg.stop_reason == "tool_use"
        fake_go.script(Reply(text=KIMI_LEAK, chunks=5))
        oclient = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
        if stream:
            with oclient.chat.completions.stream(
                    model="opencode-go/kimi-k2.6", tools=[OPENAI_BASH],  # type: ignore[list-item]
                    messages=[{"role": "user", "content": "list"}]) as os_:
                final = os_.get_final_completion()
        else:
            final = oclient.chat.completions.create(
                model="opencode-go/kimi-k2.6", tools=[OPENAI_BASH],  # type: ignore[list-item]
                messages=[{"role": "user", "content": "list"}])
        choice = final.choices[0]
        assert choice.message.content == "Checking."
        assert choice.finish_reason == "tool_calls"
        call = choice.message.tool_calls[0]  # type: ignore[index]
        assert call.function.name == "Bash"  # type: ignore[union-attr]
        assert call.function.arguments == '{"command": "ls"}'  # type: ignore[union-attr]
