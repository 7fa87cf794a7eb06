"""The official SDKs as clients of crossway, in front of the fake OpenCode Go upstream.

Client dialect (openai, anthropic SDK) x upstream dialect (glm-5.1 on chat/completions,
minimax-m2.7 on messages) x stream / non-stream x text / tool call / tool-result turn.
Each test asserts on what the SDK parsed and on what the upstream received.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.opencode import FakeOpenCode, FakeUsage, Reply, ToolCallSpec
from tests.gateway import Gateway

UPSTREAMS = {
    "chat": ("opencode-go/glm-5.1", "glm-5.1", "/chat/completions"),
    "messages": ("opencode-go/minimax-m2.7", "minimax-m2.7", "/messages"),
}
CLIENT_KEY = "sk-client-secret-must-not-leak"

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
OPENAI_TOOL = {"type": "function",
               "function": {"name": "get_weather", "description": "Weather for a city",
                            "parameters": SCHEMA}}
ANTHROPIC_TOOL = {"name": "get_weather", "description": "Weather for a city",
                  "input_schema": SCHEMA}

params = pytest.mark.parametrize(
    ("upstream", "stream"),
    [(u, s) for u in UPSTREAMS for s in (False, True)],
    ids=[f"{u}-{'stream' if s else 'unary'}" for u in UPSTREAMS for s in (False, True)],
)


def _upstream_request(fake: FakeOpenCode, upstream: str) -> Any:
    sent = fake.completions()
    assert len(sent) == 1, [r.path for r in sent]
    req = sent[0]
    _, bare, route = UPSTREAMS[upstream]
    assert req.path.endswith(route)
    assert req.json["model"] == bare
    assert req.headers["x-opencode-session"].startswith("ses_")
    assert CLIENT_KEY not in json.dumps(req.headers)
    assert req.status == 200
    return req


# ---------------------------------------------------------------- OpenAI SDK


def _openai(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0)


def _chat(client: openai.OpenAI, model: str, stream: bool, **kw: Any) -> dict[str, Any]:
    """Run one completion; return what the SDK parsed, normalised for both modes."""
    if not stream:
        r = client.chat.completions.create(model=model, **kw)
        choice = r.choices[0]
        return {"text": choice.message.content, "finish": choice.finish_reason,
                "tool_calls": choice.message.tool_calls, "usage": r.usage, "model": r.model}
    with client.chat.completions.stream(model=model, stream_options={"include_usage": True},
                                        **kw) as s:
        for _ in s:
            pass
        final = s.get_final_completion()
    choice = final.choices[0]
    return {"text": choice.message.content, "finish": choice.finish_reason,
            "tool_calls": choice.message.tool_calls, "usage": final.usage, "model": final.model}


@params
def test_openai_text(gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text="Hello there, friend.",
                         usage=FakeUsage(prompt_tokens=120, completion_tokens=7, cached_tokens=40)))
    got = _chat(_openai(gateway), model, stream, messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Say hello"},
                                     {"type": "text", "text": "politely"}]},
    ])
    assert got["text"] == "Hello there, friend."
    assert got["finish"] == "stop"
    assert got["model"] == model
    assert got["usage"].prompt_tokens == 120
    assert got["usage"].completion_tokens == 7
    assert got["usage"].prompt_tokens_details.cached_tokens == 40
    req = _upstream_request(fake_go, upstream)
    if upstream == "messages":
        assert req.json["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
        assert req.headers["x-api-key"] and "authorization" not in req.headers
    else:
        assert req.json["messages"][0] == {"role": "system", "content": "Be brief."}
        assert req.headers["authorization"].startswith("Bearer sk-test-go")


@params
def test_openai_tool_call(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool
) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text="Let me check.",
                         tool_calls=[ToolCallSpec("get_weather", {"city": "Paris"})]))
    got = _chat(_openai(gateway), model, stream, tools=[OPENAI_TOOL], tool_choice="auto",
                messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert got["finish"] == "tool_calls"
    assert got["text"] == "Let me check."
    (call,) = got["tool_calls"]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert call.id
    req = _upstream_request(fake_go, upstream)
    if upstream == "messages":
        assert req.json["tools"][0]["name"] == "get_weather"
        assert req.json["tools"][0]["input_schema"]["properties"] == SCHEMA["properties"]
        assert req.json["tool_choice"] == {"type": "auto"}
    else:
        assert req.json["tools"][0]["function"]["name"] == "get_weather"
        assert req.json["tool_choice"] == "auto"


@params
def test_openai_tool_result_turn(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool
) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text="It is sunny in Paris."))
    got = _chat(_openai(gateway), model, stream, tools=[OPENAI_TOOL], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc123", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_abc123", "content": "sunny, 24C"},
    ])
    assert got["text"] == "It is sunny in Paris."
    assert got["finish"] == "stop"
    req = _upstream_request(fake_go, upstream)
    if upstream == "messages":
        assistant, user = req.json["messages"][1], req.json["messages"][2]
        assert assistant["content"][-1]["type"] == "tool_use"
        assert assistant["content"][-1]["id"] == "call_abc123"
        assert assistant["content"][-1]["input"] == {"city": "Paris"}
        first = user["content"][0]
        assert first["type"] == "tool_result" and first["tool_use_id"] == "call_abc123"
    else:
        tool_msg = req.json["messages"][-1]
        assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_abc123"
        assert tool_msg["content"] == "sunny, 24C"


# ---------------------------------------------------------------- Anthropic SDK


def _anthropic(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=CLIENT_KEY, max_retries=0)


def _message(client: anthropic.Anthropic, model: str, stream: bool, **kw: Any) -> Any:
    if not stream:
        return client.messages.create(model=model, max_tokens=1024, **kw)
    with client.messages.stream(model=model, max_tokens=1024, **kw) as s:
        for _ in s:
            pass
        return s.get_final_message()


@params
def test_anthropic_text(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool
) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text="Hello there, friend.",
                         usage=FakeUsage(prompt_tokens=120, completion_tokens=7, cached_tokens=40)))
    msg = _message(_anthropic(gateway), model, stream,
                   system=[{"type": "text", "text": "Be brief.",
                            "cache_control": {"type": "ephemeral"}}],
                   messages=[{"role": "user", "content": "Say hello"}])
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "Hello there, friend."
    assert msg.stop_reason == "end_turn"
    assert msg.model == model
    assert msg.usage.input_tokens == 80  # excludes the cache read (Anthropic semantics)
    assert msg.usage.cache_read_input_tokens == 40
    assert msg.usage.output_tokens == 7
    req = _upstream_request(fake_go, upstream)
    if upstream == "chat":
        assert req.json["messages"][0] == {"role": "system", "content": "Be brief."}
        assert req.headers["authorization"].startswith("Bearer sk-test-go")
        assert "x-api-key" not in req.headers
    else:
        assert req.headers["x-api-key"].startswith("sk-test-go")


@params
def test_anthropic_tool_use(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool
) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text="Let me check.",
                         tool_calls=[ToolCallSpec("get_weather", {"city": "Paris"})]))
    msg = _message(_anthropic(gateway), model, stream, tools=[ANTHROPIC_TOOL],
                   tool_choice={"type": "any"},
                   messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    tool = msg.content[1]
    assert tool.name == "get_weather"
    assert tool.input == {"city": "Paris"}
    assert tool.id
    assert msg.stop_reason == "tool_use"
    req = _upstream_request(fake_go, upstream)
    if upstream == "chat":
        assert req.json["tool_choice"] == "required"
        assert req.json["tools"][0]["function"]["parameters"] == SCHEMA
    else:
        assert req.json["tool_choice"] == {"type": "any"}


@params
def test_anthropic_tool_result_turn(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool
) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text="It is sunny in Paris."))
    msg = _message(_anthropic(gateway), model, stream, tools=[ANTHROPIC_TOOL], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01abc", "name": "get_weather",
             "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01abc",
             "content": [{"type": "text", "text": "sunny, 24C"}]},
            {"type": "text", "text": "Answer in one sentence."}]},
    ])
    assert msg.content[0].text == "It is sunny in Paris."
    assert msg.stop_reason == "end_turn"
    req = _upstream_request(fake_go, upstream)
    if upstream == "chat":
        roles = [m["role"] for m in req.json["messages"]]
        assert roles == ["user", "assistant", "tool", "user"]  # tool results before user text
        assert req.json["messages"][1]["tool_calls"][0]["id"] == "toolu_01abc"
        assert req.json["messages"][2] == {"role": "tool", "tool_call_id": "toolu_01abc",
                                           "content": "sunny, 24C"}
    else:
        last = req.json["messages"][-1]["content"]
        assert last[0]["type"] == "tool_result" and last[0]["tool_use_id"] == "toolu_01abc"


@params
def test_anthropic_never_gets_an_empty_text_block(
    gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool
) -> None:
    """Upstreams sometimes say only whitespace before a tool call; Claude Code would persist
    that block and every later request would fail with "text content blocks must contain
    non-whitespace text" (spec B2, B12)."""
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text=" \n ", tool_calls=[ToolCallSpec("get_weather", {"city": "Oslo"})]))
    msg = _message(_anthropic(gateway), model, stream, tools=[ANTHROPIC_TOOL],
                   messages=[{"role": "user", "content": "Weather in Oslo?"}])
    assert [b.type for b in msg.content] == ["tool_use"]
    assert msg.content[0].input == {"city": "Oslo"}
