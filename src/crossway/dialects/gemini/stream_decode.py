"""Gemini `streamGenerateContent?alt=sse` -> ir stream events.

Each SSE event's data is a whole GenerateContentResponse holding the next parts. Function
calls arrive complete (name and args in one part), so each becomes ToolCallStart plus one
ToolCallDelta. The chunk with `finishReason` also carries the final usageMetadata and ends
the stream; a stream that ends without one is an error (crossway.ir stream contract).
"""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir
from crossway.dialects import Capabilities
from crossway.dialects.gemini import wire
from crossway.dialects.gemini.response import decode_call
from crossway.dialects.sse import SSEEvent
from crossway.errors import CrosswayError, UpstreamError


class StreamDecoder:
    """Gemini SSE events in, ir stream events out (see crossway.dialects)."""

    __slots__ = ("_calls", "_content", "_started", "_usage", "done")

    def __init__(self, caps: Capabilities | None = None) -> None:
        self.done = False
        self._started = False
        self._usage = ir.Usage()
        self._calls = 0
        self._content = False  # any text, thought or call seen

    def feed(self, event: SSEEvent) -> list[ir.StreamEvent]:
        if self.done:
            return []
        data = event.data.strip()
        if not data:
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fail([], UpstreamError(
                f"Gemini sent a stream event that is not valid JSON: {data[:200]!r}"))
        if isinstance(chunk, list) and len(chunk) == 1:
            chunk = chunk[0]
        if not isinstance(chunk, dict):
            return self._fail([], UpstreamError("Gemini sent a stream event that is not an object"))
        if isinstance(chunk.get("error"), dict):
            return self._fail([], wire.map_error(wire.parse_error(502, chunk)))
        out: list[ir.StreamEvent] = []
        if "usageMetadata" in chunk:
            self._usage = wire.usage_from_wire(chunk["usageMetadata"])
        if not self._started:
            self._started = True
            # Every chunk carries the prompt's count: Anthropic clients show it from the start.
            known = ir.Usage(self._usage.input_tokens, 0, self._usage.cache_read_tokens)
            out.append(ir.MessageStart(id=wire.str_field(chunk, "responseId"),
                                       model=wire.str_field(chunk, "modelVersion"),
                                       usage=known if "usageMetadata" in chunk else None))
        blocked = wire.prompt_blocked(chunk)
        if blocked is not None:
            return self._fail(out, blocked)
        candidates = chunk.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if not isinstance(candidate, dict):
            return out  # a usage-only chunk
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict):
                failure = self._part(part, out)
                if failure is not None:
                    return self._fail(out, failure)
        finish = candidate.get("finishReason")
        if finish is None:
            return out
        failure = wire.finish_failure(finish, self._content)
        if failure is not None:
            return self._fail(out, failure)
        self.done = True
        out.append(ir.MessageEnd(wire.stop_reason(finish, self._calls > 0), self._usage))
        return out

    def finish(self) -> list[ir.StreamEvent]:
        if self.done:
            return []
        return self._fail([], UpstreamError("Gemini's stream ended before a finishReason"))

    def _fail(self, out: list[ir.StreamEvent], error: CrosswayError) -> list[ir.StreamEvent]:
        self.done = True
        out.append(wire.stream_error(error))
        return out

    def _part(self, part: dict[str, Any], out: list[ir.StreamEvent]) -> CrosswayError | None:
        sig = wire.str_field(part, "thoughtSignature")
        call = part.get("functionCall")
        if isinstance(call, dict):
            try:
                tool = decode_call(call)
            except UpstreamError as exc:
                return exc
            if sig is not None:
                # Closes the open thinking block with this signature, or opens a
                # signature-only one: the same shape decode_response gives.
                out.append(ir.ThinkingSignature(wire.wrap_signature("f", sig)))
            self._calls += 1
            self._content = True
            out.append(ir.ToolCallStart(tool.id, tool.name))
            if tool.arguments != "{}":
                out.append(ir.ToolCallDelta(tool.arguments))
            return None
        text = part.get("text")
        if not isinstance(text, str):
            return None
        if part.get("thought") is True:
            self._content = True
            if text:
                out.append(ir.ThinkingDelta(text))
            if sig is not None:
                out.append(ir.ThinkingSignature(wire.wrap_signature("t", sig)))
        elif text:
            self._content = True
            out.append(ir.TextDelta(text))
        return None
