"""OpenAI Chat Completions streaming, sans-I/O: upstream chunks -> ir events -> client chunks.

Also holds the wire helpers (finish reasons, usage) that openai_chat.py shares, because
openai_chat.py re-exports this module and the import must go one way only.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from crossway import ir
from crossway.dialects import Capabilities
from crossway.dialects.sse import SSEEvent, frame
from crossway.dialects.text_tools import Piece, TextToolScanner
from crossway.dialects.think_tags import ThinkSplitter

_FINISH_IN: dict[str, ir.StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_FINISH_OUT: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# finish_reason values that mean the generation failed, not that it ended: OpenRouter sends
# "error"; DeepSeek sends "insufficient_system_resource" on a cut-off answer.
FAILED_FINISH = frozenset(("error", "insufficient_system_resource"))
# Anthropic error type (ir.StreamError.type) -> OpenAI error type, as in crossway.errors.
_ERROR_TYPE_OUT: dict[str, str] = {
    "api_error": "server_error",
    "overloaded_error": "service_unavailable",
    "billing_error": "insufficient_quota",
    "request_too_large": "invalid_request_error",
}


def stop_reason_in(finish_reason: object, has_tool_calls: bool) -> ir.StopReason:
    """An upstream finish_reason in ir words (spec B2); unknown values become end_turn."""
    reason = _FINISH_IN.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else None
    if has_tool_calls and reason in (None, "end_turn"):
        return "tool_use"  # some upstreams say "stop" (or nothing) after tool calls
    return reason or "end_turn"


def finish_reason_out(stop_reason: ir.StopReason | None) -> str:
    return _FINISH_OUT.get(stop_reason, "stop") if stop_reason is not None else "stop"


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        return int(value)
    return None


def decode_usage(wire: object) -> ir.Usage:
    """OpenAI-style usage -> ir.Usage, with input_tokens excluding cache reads/writes (B2)."""
    if not isinstance(wire, dict):
        return ir.Usage()
    details = wire.get("prompt_tokens_details")
    cached: int | None = None
    creation = 0
    if isinstance(details, dict):
        cached = _count(details.get("cached_tokens"))
        creation = _count(details.get("cache_creation_tokens")) or 0
    if cached is None:
        cached = _count(wire.get("cached_tokens"))  # Moonshot
    if cached is None:
        cached = _count(wire.get("prompt_cache_hit_tokens"))  # DeepSeek
    cached = cached or 0
    prompt = _count(wire.get("prompt_tokens")) or 0
    reasoning: int | None = None
    out_details = wire.get("completion_tokens_details")
    if isinstance(out_details, dict):
        reasoning = _count(out_details.get("reasoning_tokens"))
    return ir.Usage(
        input_tokens=max(0, prompt - cached - creation),
        output_tokens=_count(wire.get("completion_tokens")) or 0,
        cache_read_tokens=cached,
        cache_creation_tokens=creation,
        reasoning_tokens=reasoning,
    )


def encode_usage(usage: ir.Usage) -> dict[str, Any]:
    prompt = usage.prompt_tokens
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
    }
    if usage.reasoning_tokens is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def reasoning_text(obj: dict[str, Any]) -> str:
    """Reasoning from a message or delta: reasoning_content | reasoning | reasoning_details[].text.

    The first non-empty source wins: OpenRouter sends `reasoning` and `reasoning_details`
    with the same text, so concatenating them would double it.
    """
    text = obj.get("reasoning_content")
    if text and isinstance(text, str):
        return text
    text = obj.get("reasoning")
    if text and isinstance(text, str):
        return text
    details = obj.get("reasoning_details")
    if details and isinstance(details, list):
        return "".join(
            d["text"] for d in details if isinstance(d, dict) and isinstance(d.get("text"), str)
        )
    return ""


def error_event(err: object) -> ir.StreamError:
    """An upstream `{"error": ...}` payload as an ir.StreamError (spec B3.8)."""
    etype: object = None
    code: object = None
    if isinstance(err, dict):
        msg = err.get("message")
        etype, code = err.get("type"), err.get("code")
        message = msg if isinstance(msg, str) and msg else orjson.dumps(err).decode()
    else:
        message = str(err) if err else "upstream stream error"
    if "overload" in f"{message} {etype} {code}".lower():
        return ir.StreamError(message, "overloaded_error", 529)
    status = code if isinstance(code, int) and 500 <= code < 600 else 502
    return ir.StreamError(message, "api_error", status)


# ---------------------------------------------------------------- decoder

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


# ---------------------------------------------------------------- encoder


class StreamEncoder:
    """ir stream events -> client chat.completion.chunk SSE frames (`data:` only, spec B6)."""

    __slots__ = (
        "_args_sent",
        "_created",
        "_id",
        "_include_usage",
        "_model",
        "_prefix",
        "_started",
        "_tool_index",
        "done",
    )

    def __init__(self, model: str, *, include_usage: bool = True) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id = "chatcmpl-" + secrets.token_hex(12)
        self._created = int(time.time())
        self._prefix = b""
        self._started = False
        self._tool_index = -1
        self._args_sent = True
        self.done = False

    @property
    def response_id(self) -> str:
        return self._id

    def encode(self, event: ir.StreamEvent) -> bytes:
        if self.done:
            return b""
        if isinstance(event, ir.MessageStart):
            if self._started:
                return b""
            if event.id and event.id.startswith("chatcmpl-"):
                self._id = event.id
            return self._start()
        if isinstance(event, ir.StreamError):
            self.done = True
            etype = _ERROR_TYPE_OUT.get(event.type, event.type)
            error = {"message": event.message, "type": etype, "code": None}
            return frame(orjson.dumps({"error": error}))
        head = b"" if self._started else self._start()
        return head + self._content(event)

    def _content(self, event: ir.StreamEvent) -> bytes:
        if isinstance(event, ir.TextDelta):
            if not event.text:
                return b""
            return self._end_tool() + self._chunk(b'{"content":' + orjson.dumps(event.text) + b"}")
        if isinstance(event, ir.ThinkingDelta):
            if not event.text:
                return b""
            delta = b'{"reasoning_content":' + orjson.dumps(event.text) + b"}"
            return self._end_tool() + self._chunk(delta)
        if isinstance(event, ir.ToolCallStart):
            head = self._end_tool()
            self._tool_index += 1
            self._args_sent = False
            call = {
                "index": self._tool_index,
                "id": event.id,
                "type": "function",
                "function": {"name": event.name, "arguments": ""},
            }
            return head + self._chunk(orjson.dumps({"tool_calls": [call]}))
        if isinstance(event, ir.ToolCallDelta):
            if not event.arguments or self._tool_index < 0:
                return b""
            self._args_sent = True
            return self._arguments(event.arguments)
        if isinstance(event, ir.MessageEnd):
            return self._finish(event)
        return b""  # ThinkingSignature has no Chat Completions form

    def _start(self) -> bytes:
        self._started = True
        self._prefix = (
            b'{"id":'
            + orjson.dumps(self._id)
            + b',"object":"chat.completion.chunk","created":'
            + str(self._created).encode()
            + b',"model":'
            + orjson.dumps(self._model)
            + b',"choices":'
        )
        return self._chunk(b'{"role":"assistant","content":""}')

    def _chunk(self, delta: bytes, finish_reason: bytes = b"null") -> bytes:
        return frame(
            self._prefix
            + b'[{"index":0,"delta":'
            + delta
            + b',"finish_reason":'
            + finish_reason
            + b"}]}"
        )

    def _arguments(self, fragment: str) -> bytes:
        index = str(self._tool_index).encode()
        delta = (
            b'{"tool_calls":[{"index":'
            + index
            + b',"function":{"arguments":'
            + orjson.dumps(fragment)
            + b"}}]}"
        )
        return self._chunk(delta)

    def _end_tool(self) -> bytes:
        """A call that got no arguments gets "{}": clients parse the arguments as JSON."""
        if self._args_sent:
            return b""
        self._args_sent = True
        return self._arguments("{}")

    def _finish(self, event: ir.MessageEnd) -> bytes:
        self.done = True
        reason = orjson.dumps(finish_reason_out(event.stop_reason))
        out = self._end_tool() + self._chunk(b"{}", reason)
        if self._include_usage:
            usage = orjson.dumps(encode_usage(event.usage))
            out += frame(self._prefix + b'[],"usage":' + usage + b"}")
        return out + b"data: [DONE]\n\n"
