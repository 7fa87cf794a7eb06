"""ir.Request -> a Bedrock Converse body (`POST /model/{modelId}/converse[-stream]`).

Converse's rules that shape this module: one `system` list, `messages` alternating between
`user` and `assistant` (consecutive same-role turns are merged, mid-conversation system text
is hoisted into `system`); images inline only (`bytes`, base64 in JSON); tool calls and
results carry the model's own ids; a conversation holding toolUse or toolResult blocks needs
a `toolConfig` even when the client sends no tools; Converse has no "none" tool choice (the
choice is left out) and rejects blank text blocks. Reasoning of earlier turns is not sent
back: only Anthropic's models (which crossway reaches through InvokeModel) validate it.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir
from crossway.dialects.caps import Capabilities
from crossway.dialects.common import bad

_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
_EMPTY = "(empty)"  # Converse rejects blank text blocks


def encode_request(req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
    system = [{"text": t.text} for t in req.system if t.text]
    messages: list[dict[str, Any]] = []
    for i, m in enumerate(req.messages):
        if m.role == "system":
            system += [{"text": p.text} for p in m.content if isinstance(p, ir.Text) and p.text]
            continue
        blocks = _user_blocks(m.content, i) if m.role == "user" else _assistant_blocks(m, i)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == m.role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": m.role, "content": blocks})
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    config = _inference_config(req, caps)
    if config:
        body["inferenceConfig"] = config
    tool_config = _tool_config(req, messages)
    if tool_config:
        body["toolConfig"] = tool_config
    return body


def _user_blocks(content: list[ir.Part], i: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for j, p in enumerate(content):
        where = f"messages[{i}].content[{j}]"
        if isinstance(p, ir.Text):
            if p.text:
                out.append({"text": p.text})
        elif isinstance(p, ir.Image):
            out.append(_image(p, where))
        elif isinstance(p, ir.ToolResult):
            result: dict[str, Any] = {"toolUseId": p.tool_call_id,
                                      "content": _result_content(p, where)}
            if p.is_error:
                result["status"] = "error"
            out.append({"toolResult": result})
    return out


def _result_content(result: ir.ToolResult, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in result.content:
        if isinstance(c, ir.Text):
            if c.text:
                out.append({"text": c.text})
        else:
            out.append(_image(c, where))
    return out or [{"text": _EMPTY}]


def _assistant_blocks(m: ir.Message, i: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for j, p in enumerate(m.content):
        if isinstance(p, ir.Text):
            if p.text.strip():
                out.append({"text": p.text})
        elif isinstance(p, ir.ToolCall):
            try:
                args = orjson.loads(p.arguments or "{}")
            except orjson.JSONDecodeError:
                raise bad(f"messages[{i}].content[{j}]", "tool call arguments are not valid "
                          "JSON") from None
            out.append({"toolUse": {"toolUseId": p.id, "name": p.name,
                                    "input": args if isinstance(args, dict) else {}}})
    return out


def _image(image: ir.Image, where: str) -> dict[str, Any]:
    fmt = _FORMATS.get(image.media_type or "")
    if image.data is None or fmt is None:
        raise bad(where, "Bedrock takes images inline as PNG, JPEG, GIF or WebP (no URLs)")
    return {"image": {"format": fmt, "source": {"bytes": image.data}}}


def _inference_config(req: ir.Request, caps: Capabilities) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if req.max_tokens is not None:
        config["maxTokens"] = caps.clamp_max_tokens(req.max_tokens)
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.stop:
        config["stopSequences"] = list(req.stop)
    return config


def _tool_config(req: ir.Request, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    specs = [{"toolSpec": {"name": t.name, "inputSchema": {"json": t.parameters},
                           **({"description": t.description} if t.description else {})}}
             for t in req.tools]
    declared = {t.name for t in req.tools}
    used = [b["toolUse"]["name"] for m in messages for b in m["content"] if "toolUse" in b]
    has_results = any("toolResult" in b for m in messages for b in m["content"])
    # A history with tool blocks needs a toolConfig naming its tools, even without tools now.
    for name in dict.fromkeys(used):
        if name not in declared:
            specs.append({"toolSpec": {"name": name, "inputSchema": {"json": {
                "type": "object"}}}})
    if not specs:
        if has_results:
            raise bad("tools", "Bedrock needs the tools of a conversation with tool results")
        return None
    config: dict[str, Any] = {"tools": specs}
    choice = req.tool_choice
    if choice is not None and req.tools:
        if choice.type == "any":
            config["toolChoice"] = {"any": {}}
        elif choice.type == "tool" and choice.name:
            config["toolChoice"] = {"tool": {"name": choice.name}}
        elif choice.type == "auto":
            config["toolChoice"] = {"auto": {}}
    return config
