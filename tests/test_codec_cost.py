"""Regression guard for the codecs' per-event cost, counted, not timed.

A fixed corpus of upstream SSE bytes (text, reasoning and a tool call, in both upstream
dialects) goes through the stream path the relay uses for translated requests: SSE framing,
the upstream dialect's StreamDecoder, the client dialect's StreamEncoder. The Python bytecode
instructions executed (sys.settrace with f_trace_opcodes) and the C functions called
(sys.setprofile) are counted per upstream event. Both counts are deterministic for a given
codebase and Python version, so the test does not flake on a busy machine.

The bounds are generous (about 2.5x what the codecs cost when this test was written, see
BASELINE) so ordinary changes pass and only a real regression (a second JSON parse per event,
a scan over the whole text so far per delta, a per-event regex compile) fails. When a change
makes the codecs legitimately more expensive, measure with `python tests/test_codec_cost.py`
and raise BASELINE in the same commit, saying why. bench/ measures the wall-clock side
(docs/benchmarks.md).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import orjson
import pytest

from crossway.dialects import Capabilities, registry
from crossway.dialects.sse import SSEParser

# (opcodes, C calls) per upstream event, measured when the guard was written (Python 3.11).
BASELINE: dict[str, tuple[float, float]] = {
    "anthropic client <- openai_chat upstream": (540.0, 36.0),
    "openai_chat client <- anthropic upstream": (425.0, 25.0),
    # Responses directions, measured when that dialect joined (2026-12-01).
    "openai_responses client <- openai_chat upstream": (516.0, 31.0),
    "openai_responses client <- anthropic upstream": (380.0, 22.0),
    "anthropic client <- openai_responses upstream": (361.0, 19.0),
    "openai_chat client <- openai_responses upstream": (368.0, 19.0),
}
SLACK = 2.5
ROUNDS = 3  # the corpus goes through this many fresh decoder/encoder pairs

TEXT = [f"word{i} " for i in range(40)]
REASONING = [f"step {i}, " for i in range(10)]
ARGS = ['{"pa', 'th": "src/', "crossway/", "dialects/", 'sse.py"', ', "lines": ', "[1, 80]", "}"]


def _sse(obj: Any, event: str | None = None) -> bytes:
    data = obj if isinstance(obj, bytes) else orjson.dumps(obj)
    return (b"event: " + event.encode() + b"\n" if event else b"") + b"data: " + data + b"\n\n"


def openai_corpus(repeat_text: int = 1) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                     "model": "glm-5.1",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"reasoning_content": r}) for r in REASONING]
    frames += [chunk({"content": t}) for t in TEXT * repeat_text]
    frames.append(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                         "function": {"name": "read_file", "arguments": ""}}]}))
    frames += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]})
               for a in ARGS]
    frames.append(chunk({}, "tool_calls"))
    frames.append(_sse({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                        "model": "glm-5.1", "choices": [],
                        "usage": {"prompt_tokens": 120, "completion_tokens": 80,
                                  "total_tokens": 200,
                                  "prompt_tokens_details": {"cached_tokens": 20}}}))
    frames.append(_sse(b"[DONE]"))
    return frames


def anthropic_corpus(repeat_text: int = 1) -> list[bytes]:
    def delta(index: int, d: dict[str, Any]) -> bytes:
        return _sse({"type": "content_block_delta", "index": index, "delta": d},
                    "content_block_delta")

    def block(index: int, b: dict[str, Any]) -> list[bytes]:
        return [_sse({"type": "content_block_start", "index": index, "content_block": b},
                     "content_block_start")]

    def stop(index: int) -> bytes:
        return _sse({"type": "content_block_stop", "index": index}, "content_block_stop")

    frames = [_sse({"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "minimax-m2.7",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 1, "cache_read_input_tokens": 20}}},
        "message_start")]
    frames += block(0, {"type": "thinking", "thinking": "", "signature": ""})
    frames.append(_sse({"type": "ping"}, "ping"))
    frames += [delta(0, {"type": "thinking_delta", "thinking": r}) for r in REASONING]
    frames += [delta(0, {"type": "signature_delta", "signature": "c2lnbmF0dXJl"}), stop(0)]
    frames += block(1, {"type": "text", "text": ""})
    frames += [delta(1, {"type": "text_delta", "text": t}) for t in TEXT * repeat_text]
    frames.append(stop(1))
    frames += block(2, {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}})
    frames += [delta(2, {"type": "input_json_delta", "partial_json": a}) for a in ARGS]
    frames.append(stop(2))
    frames.append(_sse({"type": "message_delta",
                        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                        "usage": {"output_tokens": 80}}, "message_delta"))
    frames.append(_sse({"type": "message_stop"}, "message_stop"))
    return frames


def responses_corpus(repeat_text: int = 1) -> list[bytes]:
    """A Responses upstream stream (grok-4.5 on Go): reasoning with encrypted state, text, a
    function call, then response.completed and Zen's trailing cost frame."""
    seq = iter(range(10_000))

    def ev(typ: str, **fields: Any) -> bytes:
        return _sse({"type": typ, **fields, "sequence_number": next(seq)}, typ)

    snapshot = {"id": "resp_1", "object": "response", "created_at": 1, "model": "grok-4.5",
                "status": "in_progress", "output": []}
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress",
               "content": []}
    call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "read_file",
            "arguments": "", "status": "in_progress"}
    text = "".join(TEXT * repeat_text)
    frames = [ev("response.created", response=snapshot),
              ev("response.in_progress", response=snapshot),
              ev("response.output_item.added", output_index=0, item=reasoning),
              ev("response.reasoning_summary_part.added", item_id="rs_1", output_index=0,
                 summary_index=0, part={"type": "summary_text", "text": ""})]
    frames += [ev("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0,
                  summary_index=0, delta=r) for r in REASONING]
    frames.append(ev("response.output_item.done", output_index=0, item={
        **reasoning, "summary": [{"type": "summary_text", "text": "".join(REASONING)}],
        "encrypted_content": "gAAAAB" + "x" * 200}))
    frames += [ev("response.output_item.added", output_index=1, item=message),
               ev("response.content_part.added", item_id="msg_1", output_index=1,
                  content_index=0, part={"type": "output_text", "text": "", "annotations": []})]
    frames += [ev("response.output_text.delta", item_id="msg_1", output_index=1,
                  content_index=0, delta=t) for t in TEXT * repeat_text]
    frames += [ev("response.output_text.done", item_id="msg_1", output_index=1,
                  content_index=0, text=text),
               ev("response.output_item.done", output_index=1, item={
                   **message, "status": "completed",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}),
               ev("response.output_item.added", output_index=2, item=call)]
    frames += [ev("response.function_call_arguments.delta", item_id="fc_1", output_index=2,
                  delta=a) for a in ARGS]
    frames.append(ev("response.output_item.done", output_index=2,
                     item={**call, "arguments": "".join(ARGS), "status": "completed"}))
    frames.append(ev("response.completed", response={
        **snapshot, "status": "completed",
        "usage": {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 20},
                  "output_tokens": 80, "output_tokens_details": {"reasoning_tokens": 10},
                  "total_tokens": 200}}))
    frames.append(_sse({"type": "ping", "cost": "0.0042"}, "ping"))
    return frames


DIRECTIONS: dict[str, tuple[str, str, Callable[[int], list[bytes]], Capabilities]] = {
    # name: (upstream dialect, client dialect, corpus, upstream capabilities)
    "anthropic client <- openai_chat upstream": (
        "openai_chat", "anthropic", openai_corpus, Capabilities()),
    "openai_chat client <- anthropic upstream": (
        "anthropic", "openai_chat", anthropic_corpus, Capabilities(reasoning_replay=True)),
    "openai_responses client <- openai_chat upstream": (
        "openai_chat", "openai_responses", openai_corpus, Capabilities()),
    "openai_responses client <- anthropic upstream": (
        "anthropic", "openai_responses", anthropic_corpus, Capabilities()),
    "anthropic client <- openai_responses upstream": (
        "openai_responses", "anthropic", responses_corpus, Capabilities()),
    "openai_chat client <- openai_responses upstream": (
        "openai_responses", "openai_chat", responses_corpus, Capabilities()),
}


def translate(upstream: str, client: str, corpus: list[bytes], caps: Capabilities) -> bytes:
    """What relay_stream does per upstream read, without the I/O: frame, decode, encode."""
    parser = SSEParser()
    decoder = registry.get(upstream).stream_decoder(caps)
    encoder = registry.get(client).stream_encoder("opencode-go/model", include_usage=True)
    out: list[bytes] = []
    for raw in corpus:
        for event in parser.feed(raw):
            for item in decoder.feed(event):
                out.append(encoder.encode(item))
    for item in decoder.finish():
        out.append(encoder.encode(item))
    return b"".join(out)


@contextmanager
def counting() -> Iterator[list[int]]:
    """Count bytecode instructions in Python frames and calls into C functions."""
    counts = [0, 0]  # opcodes, C calls

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
        elif event == "opcode":
            counts[0] += 1
        return trace

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            counts[1] += 1

    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    sys.settrace(trace)
    sys.setprofile(profile)
    try:
        yield counts
    finally:
        sys.setprofile(old_profile)
        sys.settrace(old_trace)


def measure(name: str, repeat_text: int = 1) -> tuple[float, float, bytes]:
    upstream, client, make, caps = DIRECTIONS[name]
    corpus = make(repeat_text)
    translate(upstream, client, corpus, caps)  # warm: imports, caches, compiled regexes
    with counting() as counts:
        for _ in range(ROUNDS):
            out = translate(upstream, client, corpus, caps)
    events = len(corpus) * ROUNDS
    return counts[0] / events, counts[1] / events, out


@pytest.mark.skipif(sys.gettrace() is not None, reason="another tracer (coverage, debugger)")
@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_per_event_cost_is_bounded(name: str) -> None:
    opcodes, c_calls, out = measure(name)
    # The corpus really went through: every text piece and the tool arguments came out.
    text = out.decode()
    assert all(t.strip() in text for t in TEXT)
    assert "read_file" in text
    base_ops, base_c = BASELINE[name]
    assert opcodes <= base_ops * SLACK, (
        f"{name}: {opcodes:.0f} bytecode instructions per upstream event, bound "
        f"{base_ops * SLACK:.0f} ({SLACK}x the baseline {base_ops:.0f}); see this file's "
        "docstring")
    assert c_calls <= base_c * SLACK, (
        f"{name}: {c_calls:.1f} C calls per upstream event, bound {base_c * SLACK:.0f} "
        f"({SLACK}x the baseline {base_c:.0f})")


@pytest.mark.skipif(sys.gettrace() is not None, reason="another tracer (coverage, debugger)")
@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_cost_per_event_does_not_grow_with_the_stream(name: str) -> None:
    """A stream four times longer costs about the same per event: nothing rescans or
    re-joins what was already sent on every delta (quadratic in the stream's length)."""
    short, _, _ = measure(name)
    long_ops, _, _ = measure(name, repeat_text=4)
    assert long_ops <= short * 1.25, f"{name}: {short:.0f} -> {long_ops:.0f} opcodes/event"


def test_counts_are_deterministic() -> None:
    name = sorted(DIRECTIONS)[0]
    assert measure(name)[:2] == measure(name)[:2]


if __name__ == "__main__":
    for direction in sorted(DIRECTIONS):
        ops, calls, _ = measure(direction)
        print(f"{direction}: {ops:.1f} opcodes, {calls:.1f} C calls per upstream event")
