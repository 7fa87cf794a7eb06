"""A Bedrock Converse answer -> ir.Response."""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir
from crossway.dialects.bedrock_converse.wire import message_id, stop_reason, usage_from_wire
from crossway.dialects.caps import Capabilities
from crossway.errors import UpstreamError


def decode_response(body: dict[str, Any], caps: Capabilities) -> ir.Response:
    output = body.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    blocks = message.get("content") if isinstance(message, dict) else None
    if not isinstance(blocks, list):
        raise UpstreamError("Bedrock answered without output.message.content")
    content: list[ir.Thinking | ir.RedactedThinking | ir.Text | ir.ToolCall] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            content.append(ir.Text(block["text"]))
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            content.append(ir.ToolCall(str(use.get("toolUseId") or message_id()),
                                       str(use.get("name") or ""),
                                       orjson.dumps(use.get("input") or {}).decode()))
        elif isinstance(block.get("reasoningContent"), dict):
            content.append(_reasoning(block["reasoningContent"]))
    return ir.Response(message_id(), "", content, stop_reason(body.get("stopReason")),
                       usage_from_wire(body.get("usage")))


def _reasoning(block: dict[str, Any]) -> ir.Thinking | ir.RedactedThinking:
    text = block.get("reasoningText")
    if isinstance(text, dict):
        return ir.Thinking(str(text.get("text") or ""), text.get("signature") or None)
    return ir.RedactedThinking(str(block.get("redactedContent") or ""))
