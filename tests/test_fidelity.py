"""Translation fidelity: one regression test per pitfall of spec B12 that crossway guards
against, each driven through the gateway over HTTP with a real SDK where possible."""

from __future__ import annotations

import re
from typing import Any

import anthropic
import openai

from crossway.toolids import ConversationIds, for_anthropic_client
from tests.fakes.opencode import FakeOpenCode, FakeUsage, Reply, ToolCallSpec
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


def test_deepseek_gets_reasoning_content_on_every_assistant_turn(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """B12: "The reasoning_content in the thinking mode must be passed back to the API"."""
    history: list[Any] = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "first thought", "signature": "sig"},
            {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},  # no thinking known for this turn
        {"role": "user", "content": "e"},
    ]
    fake_go.script(Reply(text="ok"), Reply(text="ok"))
    _claude(gateway).messages.create(model="opencode-go/deepseek-v4-pro", max_tokens=20,
                                     messages=history)
    sent = [m for m in fake_go.completions()[-1].json["messages"] if m["role"] == "assistant"]
    assert [m["reasoning_content"] for m in sent] == ["first thought", ""]
    # An OpenAI client that never sends reasoning (same dialect, fast path) works too.
    oclient = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    oclient.chat.completions.create(model="opencode-go/deepseek-v4-pro", messages=[
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"}])
    assert fake_go.completions()[-1].json["messages"][1]["reasoning_content"] == ""


def test_glm_never_gets_reasoning_content(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    """Per-model flag (B1.6, A6): GLM console routes reject replayed reasoning."""
    fake_go.script(Reply(text="ok"))
    _claude(gateway).messages.create(model="opencode-go/glm-5.1", max_tokens=20, messages=[
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"}])
    sent = fake_go.completions()[-1].json["messages"]
    assert all("reasoning_content" not in m for m in sent)


def test_empty_text_blocks_in_history_are_dropped(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """B12: a client that persisted an empty block must not get 400 forever after."""
    fake_go.script(Reply(text="ok"))
    _claude(gateway).messages.create(model="opencode-go/minimax-m2.7", max_tokens=20, messages=[
        {"role": "user", "content": [{"type": "text", "text": "a"},
                                     {"type": "text", "text": "  "}]},
        {"role": "assistant", "content": [{"type": "text", "text": ""},
                                          {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"}])
    sent = fake_go.completions()[-1].json["messages"]
    assert [b["text"] for m in sent for b in m["content"]] == ["a", "b", "c"]


def test_tool_results_first_then_user_text_for_messages_upstreams(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """B5.4 / B12: tool messages followed by a user message become one user turn whose
    content starts with every tool_result."""
    fake_go.script(Reply(text="ok"))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    client.chat.completions.create(model="opencode-go/minimax-m2.7", tools=[OPENAI_BASH],  # type: ignore[list-item]
                                   messages=[
        {"role": "user", "content": "run two"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "Bash", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
        {"role": "user", "content": "and now?"}])
    last = fake_go.completions()[-1].json["messages"][-1]
    assert last["role"] == "user"
    assert [b["type"] for b in last["content"]] == ["tool_result", "tool_result", "text"]


def test_temperature_and_top_p_not_both_to_claude(gateway: Gateway, fake_zen: FakeOpenCode) -> None:
    """B5.7 / B12: newer Claude models reject both together."""
    fake_zen.script(Reply(text="ok"))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    client.chat.completions.create(model="opencode-zen/claude-sonnet-4-6", temperature=0.7,
                                   top_p=0.9, messages=[{"role": "user", "content": "hi"}])
    sent = fake_zen.completions()[-1].json
    assert sent["temperature"] == 0.7 and "top_p" not in sent


CLAUDE_CODE_BODY: dict[str, Any] = {
    "max_tokens": 32000,
    "stream": True,
    "thinking": {"type": "adaptive", "display": "omitted"},
    "output_config": {"effort": "medium"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "metadata": {"user_id": '{"device_id":"d1","session_id":"7d6b2c1e-0000-4000-8000-1"}'},
    "system": [
        {"type": "text", "text": BILLING},
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
    ],
    "tools": [
        {"name": "Bash", "description": "Run a command", "input_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "additionalProperties": False,
            "properties": {"command": {"type": "string"}}, "required": ["command"]}},
        {"name": "DeferredToolPlaceholder", "description": "", "defer_loading": True,
         "input_schema": {}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
    ],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "list the files"}]},
        {"role": "system", "content": [{"type": "text", "text": "<env>cwd: /tmp</env>",
                                        "cache_control": {"type": "ephemeral"}}],
         "output_config": {"effort": "medium"}},
    ],
}


def test_a_claude_code_shaped_request_works_on_both_upstream_dialects(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """C1: inline system turn with output_config, context_management, defer_loading, $schema,
    a server tool, adaptive thinking, the billing header, metadata.user_id as JSON."""
    import json

    from tests.gateway import request
    for model in ("opencode-go/glm-5.1", "opencode-go/minimax-m2.7"):
        fake_go.script(Reply(text="a.txt b.txt"))
        body = {**CLAUDE_CODE_BODY, "model": model}
        status, _, payload = request(gateway, "POST", "/v1/messages?beta=true",
                                     json.dumps(body).encode(),
                                     {"content-type": "application/json",
                                      "anthropic-version": "2023-06-01",
                                      "anthropic-beta": "claude-code-20250219,effort-2025-11-24",
                                      "x-claude-code-session-id": "7d6b2c1e-0000-4000-8000-1"})
        assert status == 200, payload
        deltas = [json.loads(line[6:]) for line in payload.decode().splitlines()
                  if line.startswith("data: ") and "text_delta" in line]
        assert "".join(d["delta"]["text"] for d in deltas) == "a.txt b.txt"
        assert payload.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
        sent = fake_go.completions()[-1]
        names = [t.get("name") or t["function"]["name"] for t in sent.json["tools"]]
        assert "web_search" not in names  # a server tool cannot run there: stripped
        text = json.dumps(sent.json)
        assert "x-anthropic-billing-header" not in text and "<env>cwd: /tmp</env>" in text
    first, second = fake_go.session_ids
    assert first == second  # header and metadata name the same session


def test_cache_writes_count_in_every_direction(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """B2/B6/B11: the prompt total the upstream billed is what every client sees."""
    usage = FakeUsage(prompt_tokens=1000, completion_tokens=10, cached_tokens=600,
                      cache_creation_tokens=300)
    fake_go.script(Reply(text="ok", usage=usage), Reply(text="ok", usage=usage))
    oclient = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    r = oclient.chat.completions.create(model="opencode-go/minimax-m2.7",
                                        messages=[{"role": "user", "content": "hi"}])
    assert r.usage is not None and r.usage.prompt_tokens == 1000
    assert r.usage.prompt_tokens_details.cached_tokens == 600  # type: ignore[union-attr]
    msg = _claude(gateway).messages.create(model="opencode-go/minimax-m2.7", max_tokens=20,
                                           messages=[{"role": "user", "content": "hi"}])
    u = msg.usage
    assert (u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens) == (
        100, 600, 300)


def test_max_tokens_clamped_to_the_models_output_limit(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """C1: Claude Code asks for up to 128000 output tokens whatever the model; kimi-k2.6
    allows 65536 (models.dev), on both the translated and the fast path."""
    fake_go.script(Reply(text="ok"), Reply(text="ok"), Reply(text="ok"))
    for model in ("opencode-go/kimi-k2.6", "opencode-go/minimax-m2.5"):
        _claude(gateway).messages.create(model=model, max_tokens=128000, timeout=30,
                                         messages=[{"role": "user", "content": "hi"}])
    oclient = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    oclient.chat.completions.create(model="opencode-go/glm-5.1", max_tokens=200000,
                                    messages=[{"role": "user", "content": "hi"}])
    assert [r.json["max_tokens"] for r in fake_go.completions()] == [65536, 65536, 131072]


def test_tool_result_images_move_to_a_user_message_for_chat_upstreams(
    gateway: Gateway, fake_go: FakeOpenCode
) -> None:
    """Chat tool messages take text only: the screenshot a tool returned follows them as a
    user message, and is_error survives as a marker."""
    png = "iVBORw0KGgoAAAANSUhEUg=="
    fake_go.script(Reply(text="I see it"))
    _claude(gateway).messages.create(
        model="opencode-go/glm-5.1", max_tokens=20, tools=[BASH],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        messages=[
            {"role": "user", "content": "screenshot"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": [
                    {"type": "text", "text": "partial capture"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": png}}]}]}])
    sent = fake_go.completions()[-1].json
    tool, follow = sent["messages"][2], sent["messages"][3]
    assert tool["role"] == "tool" and tool["content"].startswith("[tool error]")
    assert "partial capture" in tool["content"]
    assert follow["role"] == "user"
    assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}} in \
        follow["content"]
    assert sent["parallel_tool_calls"] is False


def test_openai_reasoning_effort_turns_on_claude_thinking(
    gateway: Gateway, fake_zen: FakeOpenCode
) -> None:
    fake_zen.script(Reply(text="ok", reasoning="deep"))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    r = client.chat.completions.create(model="opencode-zen/claude-sonnet-4-6", max_tokens=20000,
                                       reasoning_effort="high",
                                       messages=[{"role": "user", "content": "hi"}])
    sent = fake_zen.completions()[-1].json
    assert sent["thinking"]["type"] in ("enabled", "adaptive")
    if sent["thinking"]["type"] == "enabled":
        assert 1024 <= sent["thinking"]["budget_tokens"] < sent["max_tokens"]
    assert r.choices[0].message.content == "ok"
    assert r.choices[0].message.reasoning_content == "deep"  # type: ignore[attr-defined]
