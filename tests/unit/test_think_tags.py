"""Leading <think> sections in content become reasoning, split anywhere across chunks."""

from __future__ import annotations

import pytest

from crossway import ir
from crossway.dialects import openai_chat
from crossway.dialects.sse import SSEParser
from crossway.dialects.think_tags import ThinkSplitter, split_complete

WHOLE = "<think>\nweigh options</think>\n\nThe answer is 42."


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 100])
def test_any_chunking_gives_the_same_split(size: int) -> None:
    splitter = ThinkSplitter()
    pieces = []
    for i in range(0, len(WHOLE), size):
        pieces += splitter.feed(WHOLE[i:i + size])
    pieces += splitter.flush()
    reasoning = "".join(t for r, t in pieces if r)
    text = "".join(t for r, t in pieces if not r)
    assert (reasoning, text) == ("\nweigh options", "The answer is 42.")


def test_only_a_leading_section_counts() -> None:
    assert split_complete("Use <think> tags like <think>this</think>.") == (
        "", "Use <think> tags like <think>this</think>.")
    assert split_complete("  <think>x</think>y") == ("x", "y")
    assert split_complete("<think>never closed") == ("never closed", "")
    assert split_complete("<thi") == ("", "<thi")  # not a tag after all: kept as text


def _stream(*contents: str) -> list[ir.StreamEvent]:
    frames = b"".join(
        b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":'
        + ('"' + c.replace("\n", "\\n") + '"').encode() + b'},"finish_reason":null}]}\n\n'
        for c in contents
    ) + (b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{},'
         b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    decoder = openai_chat.StreamDecoder()
    return [e for ev in SSEParser().feed(frames) for e in decoder.feed(ev)]


def test_stream_decoder_emits_thinking_then_text() -> None:
    events = _stream("<th", "ink>plan", " it</th", "ink>Answer")
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["MessageStart", "ThinkingDelta", "ThinkingDelta", "TextDelta",
                     "MessageEnd"]
    assert "".join(e.text for e in events if isinstance(e, ir.ThinkingDelta)) == "plan it"
    assert [e.text for e in events if isinstance(e, ir.TextDelta)] == ["Answer"]


def test_non_stream_decode_splits_tagged_reasoning() -> None:
    resp = openai_chat.decode_response({
        "id": "c", "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": WHOLE}}]})
    assert resp.content == [ir.Thinking("\nweigh options"), ir.Text("The answer is 42.")]
