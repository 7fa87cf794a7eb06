"""OpenAI Chat Completions non-streaming bodies: upstream chat.completion -> ir, ir -> client."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from crossway import ir
from crossway.dialects.caps import Capabilities
from crossway.dialects.common import is_int as _is_int
from crossway.dialects.openai_chat.wire import (
    FAILED_FINISH,
    assistant_parts,
    decode_usage,
    encode_usage,
    finish_reason_out,
    reasoning_text,
    stop_reason_in,
)
from crossway.dialects.text_tools import scan_complete
from crossway.dialects.think_tags import split_complete
from crossway.errors import UpstreamError


def decode_response(body: dict[str, Any], caps: Capabilities | None = None) -> ir.Response:
    """An upstream chat.completion body -> ir.Response (spec B2)."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        err = body.get("error") if isinstance(body, dict) else None
        detail = f": {orjson.dumps(err).decode()[:500]}" if err else ""
        raise UpstreamError(f"upstream response has no choices{detail}")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise UpstreamError("upstream response has no choices[0].message")
    finish = choice.get("finish_reason")
    if finish in FAILED_FINISH:
        raise UpstreamError(f"upstream generation failed (finish_reason {finish!r})")
    content: list[ir.Thinking | ir.RedactedThinking | ir.Text | ir.ToolCall] = []
    reasoning = reasoning_text(message)
    if reasoning:
        content.append(ir.Thinking(reasoning))
    text = message.get("content")
    if isinstance(text, list):  # a few servers answer with content parts
        text = "".join(
            p["text"] for p in text if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    tool_calls = message.get("tool_calls")
    calls = _decode_response_calls(tool_calls) if isinstance(tool_calls, list) else []
    if text and isinstance(text, str):
        tagged, text = split_complete(text)
        if tagged and not reasoning:
            content.append(ir.Thinking(tagged))
        hermes = caps is not None and caps.text_tool_calls
        for n, piece in enumerate(scan_complete(text, hermes=hermes)):
            if isinstance(piece, str):
                if piece.strip():
                    content.append(ir.Text(piece))
            else:
                calls.append(ir.ToolCall(piece.id or f"call_text_{n}", piece.name,
                                         piece.arguments))
    content.extend(calls)
    rid, model = body.get("id"), body.get("model")
    return ir.Response(
        id=rid if isinstance(rid, str) else "",
        model=model if isinstance(model, str) else "",
        content=content,
        stop_reason=stop_reason_in(finish, bool(calls)),
        usage=decode_usage(body.get("usage")),
    )


def _decode_response_calls(raw: list[Any]) -> list[ir.ToolCall]:
    calls: list[ir.ToolCall] = []
    for pos, tc in enumerate(raw):
        if not isinstance(tc, dict):
            continue
        fn = tc.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(name, str) or not name:
            raise UpstreamError(f"upstream tool call {pos} has no function name")
        args = fn.get("arguments") if isinstance(fn, dict) else None
        if args is None:
            args = ""
        elif not isinstance(args, str):
            args = orjson.dumps(args).decode()  # an object where a string belongs
        call_id = tc.get("id")
        if not isinstance(call_id, str) or not call_id:
            index = tc.get("index")
            call_id = f"call_{index if _is_int(index) else pos}"
        calls.append(ir.ToolCall(call_id, name, args))
    return calls


def encode_response(resp: ir.Response, model: str) -> dict[str, Any]:
    """ir.Response -> a client chat.completion body; `model` is what the client asked for."""
    texts, thinking, calls = assistant_parts(resp.content)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if thinking:
        message["reasoning_content"] = "\n\n".join(thinking)
    if calls:
        message["tool_calls"] = calls
    rid = resp.id if resp.id.startswith("chatcmpl-") else "chatcmpl-" + secrets.token_hex(12)
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason_out(resp.stop_reason),
            }
        ],
        "usage": encode_usage(resp.usage),
    }
