"""Tool calls written into text (Kimi special tokens, Hermes/Qwen envelopes), any chunking."""

from __future__ import annotations

import orjson
import pytest

from crossway import ir
from crossway.dialects import Capabilities, openai_chat
from crossway.dialects.sse import SSEParser
from crossway.dialects.text_tools import TextToolCall, TextToolScanner, scan_complete

KIMI = ("Let me look.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
        '<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|><|tool_call_begin|>'
        "functions.list_dir:1<|tool_call_argument_begin|><|tool_call_end|>"
        "<|tool_calls_section_end|>")
KIMI_PIECES = ["Let me look.",
               TextToolCall("functions.get_weather:0", "get_weather", '{"city": "Paris"}'),
               TextToolCall("functions.list_dir:1", "list_dir", "{}")]


@pytest.mark.parametrize("size", [1, 3, 7, 16, 1000])
def test_kimi_tokens_any_chunking(size: int) -> None:
    scanner = TextToolScanner()
    pieces: list[object] = []
    for i in range(0, len(KIMI), size):
        pieces += scanner.feed(KIMI[i:i + size])
    pieces += scanner.flush()
    text = "".join(p for p in pieces if isinstance(p, str))
    assert text == "Let me look."
    assert [p for p in pieces if not isinstance(p, str)] == KIMI_PIECES[1:]


def test_hermes_and_qwen_coder_envelopes_only_when_enabled() -> None:
    hermes = 'Sure.<tool_call>{"name": "Bash", "arguments": {"command": "ls"}}</tool_call>'
    assert scan_complete(hermes) == [hermes]  # prose may mention the tag: off by default
    assert scan_complete(hermes, hermes=True) == [
        "Sure.", TextToolCall(None, "Bash", '{"command":"ls"}')]
    coder = ("<tool_call><function=Read><parameter=path>/tmp/a</parameter>"
             "<parameter=limit>10</parameter></function></tool_call>")
    assert scan_complete(coder, hermes=True) == [
        TextToolCall(None, "Read", '{"path":"/tmp/a","limit":10}')]
    assert scan_complete("a <tool_call>not a call</tool_call>", hermes=True) == [
        "a ", "<tool_call>not a call</tool_call>"]
    assert scan_complete("x <|tool_calls", hermes=False) == ["x ", "<|tool_calls"]


def test_stream_decoder_turns_leaked_kimi_tokens_into_tool_calls() -> None:
    frames = b"".join(
        b'data: {"id":"c","model":"kimi-k2.6","choices":[{"index":0,"delta":{"content":'
        + orjson.dumps(KIMI[i:i + 9]) + b'},"finish_reason":null}]}\n\n'
        for i in range(0, len(KIMI), 9)
    ) + (b'data: {"id":"c","model":"kimi-k2.6","choices":[{"index":0,"delta":{},'
         b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    decoder = openai_chat.StreamDecoder(Capabilities())
    events = [e for ev in SSEParser().feed(frames) for e in decoder.feed(ev)]
    text = "".join(e.text for e in events if isinstance(e, ir.TextDelta))
    starts = [(e.id, e.name) for e in events if isinstance(e, ir.ToolCallStart)]
    args = [e.arguments for e in events if isinstance(e, ir.ToolCallDelta)]
    assert text == "Let me look."
    assert starts == [("functions.get_weather:0", "get_weather"),
                      ("functions.list_dir:1", "list_dir")]
    assert args == ['{"city": "Paris"}', "{}"]
    end = events[-1]
    assert isinstance(end, ir.MessageEnd) and end.stop_reason == "tool_use"


def test_non_stream_decode_finds_calls_in_text() -> None:
    body = {"id": "c", "model": "kimi-k2.6", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": KIMI}}]}
    resp = openai_chat.decode_response(body, Capabilities())
    assert resp.content == [
        ir.Text("Let me look."),
        ir.ToolCall("functions.get_weather:0", "get_weather", '{"city": "Paris"}'),
        ir.ToolCall("functions.list_dir:1", "list_dir", "{}")]
    assert resp.stop_reason == "tool_use"
