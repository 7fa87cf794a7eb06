"""OpenAI Chat Completions upstream stream, sans-I/O: chat.completion.chunk SSE -> ir events."""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir
from crossway.dialects.caps import Capabilities
from crossway.dialects.openai_chat.wire import (
    FAILED_FINISH,
    decode_usage,
    error_event,
    reasoning_text,
    stop_reason_in,
)
from crossway.dialects.sse import SSEEvent
from crossway.dialects.text_tools import Piece, TextToolScanner
from crossway.dialects.think_tags import ThinkSplitter

_PENDING, _ACTIVE, _CLOSED = 0, 1, 2
_NONE, _THINKING, _TEXT, _TOOL = 0, 1, 2, 3


class _ToolCall:
    __slots__ = ("id", "index", "name", "order", "parts", "state")

    def __init__(self, index: int | None, order: int) -> None:
        self.index = index
        self.order = order
        self.id: str | None = None  # as the upstream sent it
        self.name: str | None = None
        self.parts: list[str] = []  # every arguments fragment so far
        self.state = _PENDING

    def arguments_complete(self) -> bool:
        """Arguments so far are one complete, non-empty JSON value."""
        parts = self.parts
        if not parts:
            return False
        tail = parts[-1].rstrip() or "".join(parts).rstrip()
        if not tail or tail[-1] not in "}]":
            return False  # cheap reject before parsing
        try:
            orjson.loads("".join(parts))
        except orjson.JSONDecodeError:
            return False
        return True


# Tool calls found in text get indexes far from any the upstream uses.
_TEXT_CALL_INDEX = 1_000_000


class StreamDecoder:
    """Upstream chat.completion.chunk SSE -> ir stream events (contract in crossway.ir, spec B3).

    Tool-call fragments are keyed by `index` (fallback: `id`, then the most recent call).
    Fragments that arrive before a call's name are buffered; when calls interleave, only one
    is forwarded live and the others are held and emitted whole, so content stays
    block-structured. Whitespace-only text or reasoning is held until real text of the same
    kind follows, so no whitespace-only block is ever opened (spec B12).
    """

    __slots__ = (
        "_active",
        "_by_id",
        "_by_index",
        "_finish",
        "_finish_seen",
        "_kind",
        "_last",
        "_started",
        "_text_calls",
        "_text_tools",
        "_think",
        "_tools",
        "_tools_emitted",
        "_usage",
        "_ws",
        "_ws_kind",
        "done",
    )

    def __init__(self, caps: Capabilities | None = None) -> None:
        self.done = False
        self._started = False
        self._finish: object = None
        self._finish_seen = False
        self._usage: ir.Usage | None = None
        self._tools: list[_ToolCall] = []
        self._by_index: dict[int, _ToolCall] = {}
        self._by_id: dict[str, _ToolCall] = {}
        self._active: _ToolCall | None = None
        self._last: _ToolCall | None = None
        self._tools_emitted = 0
        self._kind = _NONE  # kind of the block the last emitted event belongs to
        self._ws = ""  # held whitespace-only text of kind _ws_kind
        self._ws_kind = _NONE
        self._think = ThinkSplitter()
        self._text_tools = TextToolScanner(hermes=caps is not None and caps.text_tool_calls)
        self._text_calls = 0

    def feed(self, event: SSEEvent) -> list[ir.StreamEvent]:
        if self.done:
            return []  # Zen appends a cost chunk after [DONE]
        data = event.data
        if len(data) < 16:
            data = data.strip()
            if not data:
                return []
            if data == b"[DONE]":
                return self._end([])
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fail(
                [], ir.StreamError(f"upstream sent an invalid stream chunk: {data[:200]!r}")
            )
        if not isinstance(chunk, dict):
            return self._fail(
                [], ir.StreamError("upstream sent a stream chunk that is not an object")
            )
        err = chunk.get("error")
        if err or event.event == "error":
            return self._fail([], error_event(err or chunk))
        out: list[ir.StreamEvent] = []
        if not self._started:
            self._started = True
            cid, model = chunk.get("id"), chunk.get("model")
            out.append(
                ir.MessageStart(
                    id=cid if isinstance(cid, str) else None,
                    model=model if isinstance(model, str) else None,
                )
            )
        choices = chunk.get("choices")
        if choices and isinstance(choices, list) and isinstance(choices[0], dict):
            failure = self._choice(choices[0], out)
            if failure is not None:
                return self._fail(out, failure)
        usage = chunk.get("usage")
        if usage and isinstance(usage, dict):
            self._usage = decode_usage(usage)
        return out

    def finish(self) -> list[ir.StreamEvent]:
        if self.done:
            return []
        if self._finish_seen:
            return self._end([])  # some servers never send [DONE]
        return self._fail([], ir.StreamError("upstream stream ended before finish_reason"))

    # -- internals

    def _fail(self, out: list[ir.StreamEvent], error: ir.StreamError) -> list[ir.StreamEvent]:
        self.done = True
        out.append(error)
        return out

    def _end(self, out: list[ir.StreamEvent]) -> list[ir.StreamEvent]:
        if not self._finish_seen:
            return self._fail(out, ir.StreamError("upstream stream ended without a finish_reason"))
        failure = self._flush_tools(out)
        if failure is not None:
            return self._fail(out, failure)
        self.done = True
        stop = stop_reason_in(self._finish, self._tools_emitted > 0)
        out.append(ir.MessageEnd(stop, self._usage or ir.Usage()))
        return out

    def _choice(self, choice: dict[str, Any], out: list[ir.StreamEvent]) -> ir.StreamError | None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = reasoning_text(delta)
            if reasoning:
                self._emit_text(_THINKING, reasoning, out)
            content = delta.get("content")
            if content and isinstance(content, str):
                self._content(self._think.feed(content), out)
            tool_calls = delta.get("tool_calls")
            if tool_calls and isinstance(tool_calls, list):
                for tc in tool_calls:
                    if isinstance(tc, dict):
                        self._tool_fragment(tc, out)
        finish = choice.get("finish_reason")
        if finish is None:
            return None
        self._content(self._think.flush(), out)
        self._text_pieces(self._text_tools.flush(), out)
        if finish in FAILED_FINISH:
            return ir.StreamError(f"upstream generation failed (finish_reason {finish!r})")
        self._finish = finish
        self._finish_seen = True
        return self._flush_tools(out)

    def _content(self, pieces: list[tuple[bool, str]], out: list[ir.StreamEvent]) -> None:
        for is_reasoning, piece in pieces:
            if is_reasoning:
                self._emit_text(_THINKING, piece, out)
            else:
                self._text_pieces(self._text_tools.feed(piece), out)

    def _text_pieces(self, pieces: list[Piece], out: list[ir.StreamEvent]) -> None:
        for piece in pieces:
            if isinstance(piece, str):
                self._emit_text(_TEXT, piece, out)
            else:  # a tool call written into the text: through the normal tool machinery
                self._text_calls += 1
                self._tool_fragment({
                    "index": _TEXT_CALL_INDEX + self._text_calls,
                    "id": piece.id or f"call_text_{self._text_calls}",
                    "function": {"name": piece.name, "arguments": piece.arguments},
                }, out)

    def _emit_text(self, kind: int, text: str, out: list[ir.StreamEvent]) -> None:
        if kind != self._kind:
            if text.isspace():
                self._ws = self._ws + text if self._ws_kind == kind else text
                self._ws_kind = kind
                return
            if self._ws_kind == kind:
                text = self._ws + text
            self._ws, self._ws_kind = "", _NONE
            self._close_active()
            self._kind = kind
        out.append(ir.TextDelta(text) if kind == _TEXT else ir.ThinkingDelta(text))

    def _lookup(self, tc: dict[str, Any], tc_id: str | None) -> _ToolCall:
        index = tc.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            tool = self._by_index.get(index)
            # A new id on a known index is a new call (some servers reuse index 0).
            if tool is None or (tc_id is not None and tool.id is not None and tool.id != tc_id):
                tool = self._new_tool(index)
                self._by_index[index] = tool
            return tool
        if tc_id is not None:
            return self._by_id.get(tc_id) or self._new_tool(None)
        return self._last or self._new_tool(None)

    def _new_tool(self, index: int | None) -> _ToolCall:
        tool = _ToolCall(index, len(self._tools))
        self._tools.append(tool)
        return tool

    def _tool_fragment(self, tc: dict[str, Any], out: list[ir.StreamEvent]) -> None:
        tc_id = tc.get("id")
        if not tc_id or not isinstance(tc_id, str):
            tc_id = None
        tool = self._lookup(tc, tc_id)
        self._last = tool
        if tc_id is not None and tool.id is None:
            tool.id = tc_id
            self._by_id[tc_id] = tool
        args = ""
        fn = tc.get("function")
        if isinstance(fn, dict):
            name = fn.get("name")
            if tool.name is None and name and isinstance(name, str):
                tool.name = name
            raw = fn.get("arguments")
            if isinstance(raw, str):
                args = raw
            elif raw is not None:
                args = orjson.dumps(raw).decode()  # an object where a string belongs
        if tool.state == _ACTIVE:
            if args:
                self._ws, self._ws_kind = "", _NONE
                tool.parts.append(args)
                out.append(ir.ToolCallDelta(args))
                if len(self._tools) > self._tools_emitted and tool.arguments_complete():
                    self._promote(out)
            return
        if tool.state == _CLOSED:
            return  # a closed call cannot be reopened; its JSON was already complete
        if args:
            tool.parts.append(args)
        if tool.name is None:
            return
        active = self._active
        if active is not None and active is not tool:
            if not active.arguments_complete():
                return  # interleaved: hold this call until the active one is done
            self._close_active()
        self._activate(tool, out)

    def _activate(self, tool: _ToolCall, out: list[ir.StreamEvent]) -> None:
        assert tool.name is not None
        self._close_active()
        tool.state = _ACTIVE
        self._active = tool
        self._kind = _TOOL
        self._ws, self._ws_kind = "", _NONE
        self._tools_emitted += 1
        call_id = tool.id or f"call_{tool.index if tool.index is not None else tool.order}"
        out.append(ir.ToolCallStart(call_id, tool.name))
        if tool.parts:
            joined = "".join(tool.parts)
            tool.parts = [joined]
            out.append(ir.ToolCallDelta(joined))

    def _promote(self, out: list[ir.StreamEvent]) -> None:
        """The active call is complete: start the first held call that has a name."""
        for tool in self._pending():
            if tool.name is not None:
                self._activate(tool, out)
                return

    def _pending(self) -> list[_ToolCall]:
        pending = [t for t in self._tools if t.state == _PENDING]
        pending.sort(key=lambda t: (t.index is None, t.index or 0, t.order))
        return pending

    def _close_active(self) -> None:
        if self._active is not None:
            self._active.state = _CLOSED
            self._active = None

    def _flush_tools(self, out: list[ir.StreamEvent]) -> ir.StreamError | None:
        """At finish: emit every held call whole, in index order."""
        if len(self._tools) == self._tools_emitted:
            self._close_active()
            return None
        for tool in self._pending():
            if tool.name is not None:
                self._activate(tool, out)
            elif tool.id is not None or "".join(tool.parts).strip():
                return ir.StreamError("upstream sent a tool call without a function name")
            else:
                tool.state = _CLOSED  # an empty fragment with nothing in it
        self._close_active()
        return None
