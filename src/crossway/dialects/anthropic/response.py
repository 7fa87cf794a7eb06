"""Anthropic Messages non-streaming bodies: upstream message -> ir, ir -> client message."""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir, signatures, toolids
from crossway.dialects.anthropic.wire import (
    new_message_id,
    new_tool_use_id,
    stop_reason_from_wire,
    usage_from_wire,
    usage_to_wire,
)
from crossway.dialects.caps import Capabilities
from crossway.errors import UpstreamError


def decode_response(body: dict[str, Any], caps: Capabilities | None = None) -> ir.Response:
    if not isinstance(body, dict):
        raise UpstreamError("upstream response is not a JSON object")
    if body.get("type") == "error":
        err = body.get("error")
        message = err.get("message") if isinstance(err, dict) else None
        raise UpstreamError(f"upstream error: {message or 'unknown'}")
    content = body.get("content")
    if not isinstance(content, list):
        raise UpstreamError("upstream response has no content list")
    parts: list[ir.Thinking | ir.RedactedThinking | ir.Text | ir.ToolCall] = []
    model = body.get("model")
    # A signature from an Anthropic-dialect upstream other than Claude (MiniMax, Qwen) is valid
    # for that model only: it travels wrapped with its issuer (crossway.signatures).
    issuer = (model if isinstance(model, str) else "") if (
        caps is not None and not caps.anthropic_native) else None
    for block in content:
        if not isinstance(block, dict):
            raise UpstreamError("upstream response has a content block that is not an object")
        part = _decode_response_block(block)
        if isinstance(part, ir.Thinking) and part.signature and issuer is not None:
            part.signature = signatures.carry("signature", part.signature, issuer)
        if part is not None:
            parts.append(part)
    msg_id = body.get("id")
    stop_sequence = body.get("stop_sequence")
    return ir.Response(
        id=msg_id if isinstance(msg_id, str) else "",
        model=model if isinstance(model, str) else "",
        content=parts,
        stop_reason=stop_reason_from_wire(body.get("stop_reason")),
        usage=usage_from_wire(body.get("usage")),
        stop_sequence=stop_sequence if isinstance(stop_sequence, str) else None,
    )


def _decode_response_block(
    block: dict[str, Any],
) -> ir.Thinking | ir.RedactedThinking | ir.Text | ir.ToolCall | None:
    btype = block.get("type")
    if btype == "text":
        text = block.get("text")
        return ir.Text(text) if isinstance(text, str) and text.strip() else None
    if btype == "tool_use":
        tool_id = block.get("id")
        name = block.get("name")
        given = block.get("input")
        return ir.ToolCall(
            tool_id if isinstance(tool_id, str) and tool_id else new_tool_use_id(),
            name if isinstance(name, str) else "",
            _arguments(given),
        )
    if btype == "thinking":
        text = block.get("thinking")
        sig = block.get("signature")
        return ir.Thinking(
            text if isinstance(text, str) else "", sig if isinstance(sig, str) and sig else None
        )
    if btype == "redacted_thinking":
        data = block.get("data")
        return ir.RedactedThinking(data) if isinstance(data, str) else None
    return None  # server tool blocks and future types


# ---------------------------------------------------------------- response: ir -> client


def encode_response(resp: ir.Response, model: str) -> dict[str, Any]:
    msg_id = resp.id if resp.id.startswith("msg_") else new_message_id()
    content: list[dict[str, Any]] = []
    for part in resp.content:
        if isinstance(part, ir.Text):
            # Never an empty text block: clients persist and replay it (spec B2, B12).
            if part.text.strip():
                content.append({"type": "text", "text": part.text})
        elif isinstance(part, ir.ToolCall):
            block = _response_tool_use(part, resp.stop_reason, msg_id)
            if block is not None:
                content.append(block)
        elif isinstance(part, ir.Thinking):
            # A Responses upstream's state rides in the signature (crossway.signatures).
            sig = part.signature or part.encrypted_content or signatures.mint(part.text)
            content.append({"type": "thinking", "thinking": part.text, "signature": sig})
        else:
            content.append({"type": "redacted_thinking", "data": part.data})
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": resp.stop_reason or "end_turn",
        "stop_sequence": resp.stop_sequence,
        "usage": usage_to_wire(resp.usage),
    }


def _response_tool_use(
    call: ir.ToolCall, stop: ir.StopReason | None, msg_id: str
) -> dict[str, Any] | None:
    given: object = {}
    if call.arguments.strip():
        try:
            given = orjson.loads(call.arguments)
        except orjson.JSONDecodeError:
            given = None
    if not isinstance(given, dict):
        if stop == "max_tokens":
            # Cut off mid-call: dropping it beats handing the client a "repaired", truncated
            # call (spec B3.8); stop_reason max_tokens tells it what happened.
            return None
        raise UpstreamError(f"upstream tool call {call.name!r} has arguments that are not JSON")
    return {
        "type": "tool_use",
        "id": toolids.for_anthropic_client(call.id, msg_id) if call.id else new_tool_use_id(),
        "name": call.name,
        "input": given,
    }


def _arguments(given: object) -> str:
    """A tool_use input as JSON text. Anything but an object is passed on as it came (a
    string as is), never replaced by `{}`: a client must not run a tool with arguments the
    model did not send. Encoders that need an object reject it clearly."""
    if given is None:
        return "{}"
    if isinstance(given, str):
        return given
    return orjson.dumps(given).decode()
