"""The Bedrock Converse codec as data: requests in Converse's rules, answers and streams out."""

from __future__ import annotations

import json

import pytest

from crossway import ir
from crossway.dialects import Capabilities
from crossway.dialects.bedrock_converse import StreamDecoder, decode_response, encode_request
from crossway.dialects.sse import SSEEvent
from crossway.errors import InvalidRequest


def _req(*messages: ir.Message, **kw: object) -> ir.Request:
    return ir.Request(model="m", messages=list(messages), **kw)  # type: ignore[arg-type]


def test_roles_merge_and_system_is_hoisted() -> None:
    body = encode_request(_req(
        ir.Message("user", [ir.Text("a")]),
        ir.Message("system", [ir.Text("mid-conversation rule")]),
        ir.Message("user", [ir.Text("b")]),
        ir.Message("assistant", [ir.Text("  ")]),  # blank: dropped, Converse refuses it
        system=[ir.Text("top")]), "m", Capabilities())
    assert body["system"] == [{"text": "top"}, {"text": "mid-conversation rule"}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}]


def test_tool_history_without_tools_still_has_a_tool_config() -> None:
    body = encode_request(_req(
        ir.Message("user", [ir.Text("go")]),
        ir.Message("assistant", [ir.ToolCall("t1", "bash", '{"cmd": "ls"}')]),
        ir.Message("user", [ir.ToolResult("t1", [], is_error=True)])), "m", Capabilities())
    assert body["toolConfig"] == {"tools": [
        {"toolSpec": {"name": "bash", "inputSchema": {"json": {"type": "object"}}}}]}
    assert body["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": "t1", "name": "bash", "input": {"cmd": "ls"}}}]
    assert body["messages"][2]["content"] == [{"toolResult": {
        "toolUseId": "t1", "content": [{"text": "(empty)"}], "status": "error"}}]


def test_tool_choice_and_limits() -> None:
    tool = ir.Tool("bash", "run", {"type": "object"})
    caps = Capabilities(max_output_tokens=100)
    body = encode_request(_req(ir.Message("user", [ir.Text("x")]), tools=[tool],
                               tool_choice=ir.ToolChoice("tool", "bash"), max_tokens=5000,
                               stop=["END"]), "m", caps)
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "bash"}}
    assert body["inferenceConfig"] == {"maxTokens": 100, "stopSequences": ["END"]}
    none = encode_request(_req(ir.Message("user", [ir.Text("x")]), tools=[tool],
                               tool_choice=ir.ToolChoice("none")), "m", caps)
    assert "toolChoice" not in none["toolConfig"]


def test_images_inline_only() -> None:
    inline = ir.Image(media_type="image/png", data="aGk=")
    body = encode_request(_req(ir.Message("user", [inline])), "m", Capabilities())
    assert body["messages"][0]["content"] == [
        {"image": {"format": "png", "source": {"bytes": "aGk="}}}]
    with pytest.raises(InvalidRequest, match="inline"):
        encode_request(_req(ir.Message("user", [ir.Image(url="https://x/y.png")])), "m",
                       Capabilities())


def test_decode_response() -> None:
    resp = decode_response({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
            {"text": "hi"},
            {"toolUse": {"toolUseId": "t", "name": "f", "input": {"a": 1}}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 5, "outputTokens": 3, "cacheReadInputTokens": 2}},
        Capabilities())
    assert resp.content == [ir.Thinking("hmm", "s"), ir.Text("hi"),
                            ir.ToolCall("t", "f", '{"a":1}')]
    assert resp.stop_reason == "tool_use"
    assert (resp.usage.input_tokens, resp.usage.output_tokens,
            resp.usage.cache_read_tokens) == (5, 3, 2)


def _ev(kind: str, data: dict[str, object]) -> SSEEvent:
    raw = json.dumps(data).encode()
    return SSEEvent(kind, raw, raw)


def test_stream_decoder() -> None:
    d = StreamDecoder()
    out: list[ir.StreamEvent] = []
    for kind, data in [
        ("messageStart", {"role": "assistant", "p": "ab"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "he"}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("contentBlockStart", {"contentBlockIndex": 1,
                               "start": {"toolUse": {"toolUseId": "t", "name": "f"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 4, "outputTokens": 2}}),
    ]:
        out += d.feed(_ev(kind, data))
    assert isinstance(out[0], ir.MessageStart)
    assert out[1:4] == [ir.TextDelta("he"), ir.ToolCallStart("t", "f"), ir.ToolCallDelta("{}")]
    assert out[4] == ir.MessageEnd("tool_use", ir.Usage(4, 2))
    assert d.done and d.finish() == []


def test_stream_ending_early() -> None:
    d = StreamDecoder()
    d.feed(_ev("messageStart", {"role": "assistant"}))
    d.feed(_ev("messageStop", {"stopReason": "end_turn"}))
    assert d.finish() == [ir.MessageEnd("end_turn", ir.Usage())]  # metadata is optional
    cut = StreamDecoder()
    cut.feed(_ev("messageStart", {"role": "assistant"}))
    (err,) = cut.finish()
    assert isinstance(err, ir.StreamError) and "before messageStop" in err.message
