"""SSE framing: every line ending, any chunking, the fast and the general path agree."""

from __future__ import annotations

import pytest

from crossway.dialects.sse import SSEEvent, SSEParser, frame

STREAM = (
    b"event: message_start\ndata: {\"a\":1}\n\n"
    b": a comment\n\n"
    b"data: {\"b\":2}\n\n"
    b"event: ping\ndata: {}\n\n"
    b"data: line one\ndata: line two\n\n"
    b"data:no-space\n\n"
    b"\n\ndata: [DONE]\n\n"
)
EXPECTED = [("message_start", b'{"a":1}'), (None, b'{"b":2}'), ("ping", b"{}"),
            (None, b"line one\nline two"), (None, b"no-space"), (None, b"[DONE]")]


def _parse(stream: bytes, size: int) -> list[tuple[str | None, bytes]]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for i in range(0, len(stream), size):
        events += parser.feed(stream[i:i + size])
    events += parser.flush()
    return [(e.event, e.data) for e in events]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("size", [1, 2, 5, 17, 4096])
def test_any_line_ending_any_chunking(ending: bytes, size: int) -> None:
    stream = STREAM.replace(b"\n", ending)
    assert _parse(stream, size) == EXPECTED


def test_frames_round_trip() -> None:
    data = frame(b'{"x":1}', "content_block_delta") + frame(b'{"y":2}')
    assert _parse(data, 3) == [("content_block_delta", b'{"x":1}'), (None, b'{"y":2}')]


def test_final_frame_without_blank_line_is_kept_at_eof() -> None:
    assert _parse(b"data: a\n\ndata: b", 100) == [(None, b"a"), (None, b"b")]
