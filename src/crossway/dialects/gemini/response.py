"""A Gemini GenerateContentResponse body -> ir.Response.

Thought parts become ir.Thinking; a thoughtSignature on a functionCall is carried by the
thinking block just before the call (see wire.py); calls get ids minted here. Prompts
blocked by `promptFeedback` and answers withheld by a filter are errors, not empty answers.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir
from crossway.dialects import Capabilities
from crossway.dialects.gemini import wire
from crossway.errors import UpstreamError

Content = list[ir.Thinking | ir.RedactedThinking | ir.Text | ir.ToolCall]


def decode_response(body: dict[str, Any], caps: Capabilities | None = None) -> ir.Response:
    if isinstance(body, list) and len(body) == 1:
        body = body[0]  # streamGenerateContent without alt=sse answers a JSON array
    if not isinstance(body, dict):
        raise UpstreamError("Gemini's response is not a JSON object")
    if isinstance(body.get("error"), dict):
        raise wire.map_error(wire.parse_error(502, body))
    blocked = wire.prompt_blocked(body)
    if blocked is not None:
        raise blocked
    candidates = body.get("candidates")
    if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
        raise UpstreamError("Gemini's response has no candidates")
    candidate = candidates[0]
    content: Content = []
    parts = candidate.get("content", {}).get("parts") if isinstance(
        candidate.get("content"), dict) else None
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict):
            decode_part(part, content)
    finish = candidate.get("finishReason")
    failure = wire.finish_failure(finish, bool(content))
    if failure is not None:
        raise failure
    has_calls = any(isinstance(p, ir.ToolCall) for p in content)
    return ir.Response(
        id=wire.str_field(body, "responseId") or "",
        model=wire.str_field(body, "modelVersion") or "",
        content=content,
        stop_reason=wire.stop_reason(finish, has_calls),
        usage=wire.usage_from_wire(body.get("usageMetadata")),
    )


def decode_part(part: dict[str, Any], out: Content) -> None:
    """One response part appended to `out` (consecutive thought text merges)."""
    sig = wire.str_field(part, "thoughtSignature")
    call = part.get("functionCall")
    if isinstance(call, dict):
        if sig is not None:
            _attach(out, wire.wrap_signature("f", sig))
        out.append(decode_call(call))
        return
    text = part.get("text")
    if not isinstance(text, str):
        return  # executableCode, inlineData and other parts crossway does not carry
    if part.get("thought") is True:
        last = out[-1] if out else None
        if isinstance(last, ir.Thinking) and last.signature is None:
            last.text += text
        else:
            last = ir.Thinking(text)
            out.append(last)
        if sig is not None:
            last.signature = wire.wrap_signature("t", sig)
        return
    # A signature on a plain text part is optional for Gemini to get back; dropped.
    if not text:
        return
    last = out[-1] if out else None
    if isinstance(last, ir.Text):
        last.text += text
    else:
        out.append(ir.Text(text))


def _attach(out: Content, signature: str) -> None:
    """Put a functionCall's signature on the thinking block right before it, or a new one."""
    last = out[-1] if out else None
    if isinstance(last, ir.Thinking) and last.signature is None:
        last.signature = signature
    else:
        out.append(ir.Thinking("", signature))


def decode_call(call: dict[str, Any]) -> ir.ToolCall:
    name = wire.str_field(call, "name")
    if name is None:
        raise UpstreamError("Gemini sent a function call without a name")
    args = call.get("args")
    return ir.ToolCall(
        wire.str_field(call, "id") or wire.new_call_id(),
        name,
        orjson.dumps(args if isinstance(args, dict) else {}).decode(),
    )
