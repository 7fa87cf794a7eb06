"""Reply model and wire encoders of the fake OpenCode Zen/Go upstream.

Independent of crossway on purpose: these encoders are a second implementation of the
upstream wire formats (spec B0/B3/B9 and A8), so a shared bug cannot hide itself. The
/responses wire lives in opencode_responses.py.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

FAKE_COST = "0.00042"
"""Cost string Zen appends after the terminal event of every successful stream (spec A8)."""

ERROR_FRAME_MESSAGE = "upstream overloaded"

# finish-reason vocabularies, so a script can use either one on any route
_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_TO_OPENAI = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
    "model_context_window_exceeded": "length",
}


@dataclass
class ToolCallSpec:
    """One tool call the fake model makes. `arguments` as str is sent verbatim (may be bad JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass
class FakeUsage:
    """Token usage of a reply.

    `prompt_tokens` is the TOTAL prompt size including cached and cache-creation tokens
    (OpenAI semantics). On /messages the fake reports
    input_tokens = prompt_tokens - cached_tokens - cache_creation_tokens.
    None means "estimate": len(compact request json)//4 (>= 1) fresh tokens + cache tokens,
    completion = len(reply text + reasoning + tool calls)//4 (>= 1).
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    cache_creation_tokens: int = 0


@dataclass
class Reply:
    """One scripted upstream answer (consumed by one valid completion request)."""

    text: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    finish_reason: str | None = None
    usage: FakeUsage = field(default_factory=FakeUsage)
    error: tuple[int, str, str] | None = None
    retry_after: str | None = None
    # None | "error_frame" | "eof" | "disconnect" | "error_first" (error frame, nothing before)
    stream_failure: str | None = None
    chunks: int = 3
    delay: float = 0.0
    gap: float = 0.0  # seconds of silence between stream frames (reasoning models go quiet)
    # None: any request consumes this reply. True / False: only a request that does / does
    # not offer tools (a non-empty `tools` list) does; earlier replies that do not match are
    # skipped over and stay queued (e.g. OpenCode's tool-less title request).
    when_tools: bool | None = None

    def matches(self, body: Any) -> bool:
        if self.when_tools is None:
            return True
        tools = body.get("tools") if isinstance(body, dict) else None
        return self.when_tools == (isinstance(tools, list) and len(tools) > 0)


@dataclass
class ToolOut:
    id: str
    name: str
    arguments: str  # JSON text, as sent on the wire (a custom tool's raw input on /responses)
    custom: bool = False  # /responses: a call of a custom (free-form) tool

    def input_obj(self) -> Any:
        try:
            return json.loads(self.arguments) if self.arguments.strip() else {}
        except ValueError:
            return {}


@dataclass
class Turn:
    """A reply resolved for one route/model: ids minted, defaults and usage computed."""

    route: str  # "chat" | "messages" | "responses"
    model: str
    text: str
    reasoning: str
    tools: list[ToolOut]
    finish: str  # in the route's vocabulary ("stop"/"end_turn"/...)
    prompt_total: int
    cached: int
    creation: int
    completion: int
    chunks: int
    signature: str = ""
    encrypted: str = ""  # /responses: the reasoning's encrypted_content, when asked for
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def fresh_input(self) -> int:
        return max(0, self.prompt_total - self.cached - self.creation)


@dataclass
class StreamPlan:
    """SSE frames of a successful stream; `cut` frames are sent before a stream_failure."""

    frames: list[bytes]
    cut: int
    error_frame: bytes


def hex_id(n: int = 24) -> str:
    return secrets.token_hex(n // 2)


def split_text(text: str, parts: int) -> list[str]:
    """Split into at most `parts` non-empty pieces (empty text -> no pieces)."""
    if not text:
        return []
    parts = max(1, min(parts, len(text)))
    size, extra = divmod(len(text), parts)
    out: list[str] = []
    pos = 0
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        out.append(text[pos : pos + n])
        pos += n
    return out


def split_args(arguments: str, parts: int) -> list[str]:
    """Tool arguments go out in 2+ fragments whenever there are 2+ characters."""
    return split_text(arguments, max(2, parts))


def resolve_turn(
    reply: Reply,
    *,
    route: str,
    model: str,
    default_text: str,
    request_body: Any,
    signature: str,
) -> Turn:
    tools: list[ToolOut] = []
    for idx, spec in enumerate(reply.tool_calls or []):
        if spec.id is not None:
            tid = spec.id
        elif route == "messages":
            tid = "toolu_" + hex_id()
        elif route == "chat" and model.startswith("kimi-"):
            tid = f"functions.{spec.name}:{idx}"  # Kimi's turn-scoped ids (spec A7)
        else:
            tid = "call_" + hex_id()
        tools.append(ToolOut(tid, spec.name, spec.arguments_json()))
    text = reply.text
    if text is None:
        text = "" if tools else default_text
    reasoning = reply.reasoning or ""

    if reply.finish_reason is None:
        finish = "tool_calls" if tools else "stop"
    else:
        finish = reply.finish_reason
    if route == "messages":
        finish = _TO_ANTHROPIC.get(finish, finish)
    else:
        finish = _TO_OPENAI.get(finish, finish)

    usage = reply.usage or FakeUsage()
    if usage.prompt_tokens is not None:
        prompt_total = usage.prompt_tokens
    else:
        size = len(json.dumps(request_body, separators=(",", ":")))
        prompt_total = max(1, size // 4) + usage.cached_tokens + usage.cache_creation_tokens
    if usage.completion_tokens is not None:
        completion = usage.completion_tokens
    else:
        size = len(text) + len(reasoning) + sum(len(t.name) + len(t.arguments) for t in tools)
        completion = max(1, size // 4)
    prefix = {"chat": "chatcmpl-", "messages": "msg_", "responses": "resp_"}[route]
    return Turn(
        route=route,
        model=model,
        text=text,
        reasoning=reasoning,
        tools=tools,
        finish=finish,
        prompt_total=prompt_total,
        cached=usage.cached_tokens,
        creation=usage.cache_creation_tokens,
        completion=completion,
        chunks=max(1, reply.chunks),
        signature=signature if reasoning else "",
        id=prefix + hex_id(),
    )


def _data(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _event(name: str, obj: Any) -> bytes:
    return f"event: {name}\n".encode() + _data(obj)


# --------------------------------------------------------------------- chat/completions


def chat_usage(turn: Turn) -> JSON:
    return {
        "prompt_tokens": turn.prompt_total,
        "completion_tokens": turn.completion,
        "total_tokens": turn.prompt_total + turn.completion,
        "prompt_tokens_details": {"cached_tokens": turn.cached},
        "completion_tokens_details": {"reasoning_tokens": max(0, len(turn.reasoning) // 4)},
    }


def chat_completion(turn: Turn) -> JSON:
    message: JSON = {"role": "assistant", "content": turn.text or None}
    if not turn.text and not turn.tools:
        message["content"] = ""
    if turn.reasoning:
        message["reasoning_content"] = turn.reasoning
    if turn.tools:
        message["tool_calls"] = [
            {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
            for t in turn.tools
        ]
    return {
        "id": turn.id,
        "object": "chat.completion",
        "created": turn.created,
        "model": turn.model,
        "choices": [{"index": 0, "message": message, "finish_reason": turn.finish}],
        "usage": chat_usage(turn),
    }


def chat_stream(turn: Turn, include_usage: bool) -> StreamPlan:
    base: JSON = {
        "id": turn.id,
        "object": "chat.completion.chunk",
        "created": turn.created,
        "model": turn.model,
    }

    def chunk(delta: JSON, finish: str | None = None) -> bytes:
        obj: JSON = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if include_usage:
            obj["usage"] = None
        return _data(obj)

    frames = [chunk({"role": "assistant", "content": ""})]
    for piece in split_text(turn.reasoning, turn.chunks):
        frames.append(chunk({"reasoning_content": piece}))
    for piece in split_text(turn.text, turn.chunks):
        frames.append(chunk({"content": piece}))
    for idx, tool in enumerate(turn.tools):
        head = {"name": tool.name, "arguments": ""}
        call = {"index": idx, "id": tool.id, "type": "function", "function": head}
        frames.append(chunk({"tool_calls": [call]}))
        for frag in split_args(tool.arguments, turn.chunks):
            frames.append(chunk({"tool_calls": [{"index": idx, "function": {"arguments": frag}}]}))
    cut = 2 if len(frames) > 1 else 1
    frames.append(chunk({}, turn.finish))
    if include_usage:
        frames.append(_data({**base, "choices": [], "usage": chat_usage(turn)}))
    frames.append(b"data: [DONE]\n\n")
    frames.append(_data({**base, "choices": [], "cost": FAKE_COST}))  # Zen's cost frame (A8)
    error = _data({"error": {"message": ERROR_FRAME_MESSAGE, "type": "server_error"}})
    return StreamPlan(frames, cut, error)


# ----------------------------------------------------------------------------- messages


def messages_usage(turn: Turn, output_tokens: int) -> JSON:
    return {
        "input_tokens": turn.fresh_input,
        "cache_creation_input_tokens": turn.creation,
        "cache_read_input_tokens": turn.cached,
        "output_tokens": output_tokens,
    }


def messages_content(turn: Turn) -> list[JSON]:
    content: list[JSON] = []
    if turn.reasoning:
        content.append(
            {"type": "thinking", "thinking": turn.reasoning, "signature": turn.signature}
        )
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for t in turn.tools:
        content.append({"type": "tool_use", "id": t.id, "name": t.name, "input": t.input_obj()})
    return content


def messages_message(turn: Turn) -> JSON:
    return {
        "id": turn.id,
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": messages_content(turn),
        "stop_reason": turn.finish,
        "stop_sequence": None,
        "usage": messages_usage(turn, turn.completion),
    }


def messages_stream(turn: Turn) -> StreamPlan:
    start = {**messages_message(turn), "content": [], "stop_reason": None}
    start["usage"] = messages_usage(turn, 1)
    frames = [
        _event("message_start", {"type": "message_start", "message": start}),
        _event("ping", {"type": "ping"}),
    ]
    cut = 0
    index = 0

    def block(first: JSON, deltas: list[JSON]) -> None:
        nonlocal index, cut
        frames.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": first},
            )
        )
        for d in deltas:
            frames.append(
                _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": d},
                )
            )
            cut = cut or len(frames)
        stop = {"type": "content_block_stop", "index": index}
        frames.append(_event("content_block_stop", stop))
        index += 1

    if turn.reasoning:
        deltas = [
            {"type": "thinking_delta", "thinking": p}
            for p in split_text(turn.reasoning, turn.chunks)
        ]
        deltas.append({"type": "signature_delta", "signature": turn.signature})
        block({"type": "thinking", "thinking": "", "signature": ""}, deltas)
    if turn.text:
        deltas = [{"type": "text_delta", "text": p} for p in split_text(turn.text, turn.chunks)]
        block({"type": "text", "text": ""}, deltas)
    for t in turn.tools:
        frags = split_args(t.arguments, turn.chunks)
        deltas = [{"type": "input_json_delta", "partial_json": f} for f in frags]
        block({"type": "tool_use", "id": t.id, "name": t.name, "input": {}}, deltas)
    cut = cut or len(frames)
    frames.append(
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": turn.finish, "stop_sequence": None},
                "usage": {"output_tokens": turn.completion},
            },
        )
    )
    frames.append(_event("message_stop", {"type": "message_stop"}))
    frames.append(_event("ping", {"type": "ping", "cost": FAKE_COST}))  # Zen's cost frame (A8)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return StreamPlan(frames, cut, _event("error", error))
