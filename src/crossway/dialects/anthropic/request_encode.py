"""Anthropic Messages requests to upstreams: ir -> a /messages body.

For MiniMax/Qwen on OpenCode Go and Zen (Anthropic-compatible, not Claude) and for real
Claude (`Capabilities.anthropic_native`), whose rules differ for thinking, system and sampling.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects.caps import Capabilities
from crossway.dialects.common import bad as _bad
from crossway.toolids import ConversationIds

# Anthropic tool_use ids must match ^[a-zA-Z0-9_-]+$ (spec B2, B12); Kimi sends `functions.Bash:0`.
_DATA_URL = re.compile(r"data:([^;,]+);base64,(.*)", re.DOTALL)

# OpenAI-side effort words -> Claude's output_config.effort.
_CLAUDE_EFFORT = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "max",
    "minimal": "low",
    "xhigh": "max",
}
_BUDGET_FOR_EFFORT = {"low": 2048, "medium": 8192, "high": 16384, "max": 32000}
_MIN_THINKING_BUDGET = 1024


# ---------------------------------------------------------------- request: ir -> upstream


def encode_request(req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
    native = caps.anthropic_native
    max_tokens = caps.clamp_max_tokens(req.max_tokens or caps.default_max_tokens)
    out: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
    system = _encode_system(req)
    if system:
        out["system"] = system
    out["messages"] = _encode_messages(req.messages, native, model)
    if req.tools:
        out["tools"] = [_encode_tool(t) for t in req.tools]
        choice = _encode_tool_choice(req.tool_choice, req.parallel_tool_calls)
        if choice is not None:
            out["tool_choice"] = choice
    thinking_on = (
        native and req.thinking is not None and _encode_thinking(req.thinking, max_tokens, out)
    )
    _encode_sampling(req, out, native, thinking_on)
    if req.stop:
        out["stop_sequences"] = list(req.stop)
    rf = req.response_format
    if native and rf is not None and rf.get("type") == "json_schema":
        schema = (rf.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            config = out.setdefault("output_config", {})
            config["format"] = {"type": "json_schema", "schema": schema}
    if req.user:
        out["metadata"] = {"user_id": req.user}
    if req.stream:
        out["stream"] = True
    return out


def _text_block(text: ir.Text) -> dict[str, Any]:
    if text.cache_control is None:
        return {"type": "text", "text": text.text}
    return {"type": "text", "text": text.text, "cache_control": text.cache_control}


def _encode_system(req: ir.Request) -> list[dict[str, Any]]:
    # Inline system messages are hoisted: non-Claude Anthropic-compatible providers reject
    # role "system" inside messages (spec B5.1).
    blocks = [_text_block(t) for t in req.system if t.text.strip()]
    for msg in req.messages:
        if msg.role == "system":
            blocks.extend(
                _text_block(p) for p in msg.content if isinstance(p, ir.Text) and p.text.strip()
            )
    return blocks


def _encode_messages(messages: list[ir.Message], native: bool,
                     model: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    ids = ConversationIds()
    for i, msg in enumerate(messages):
        if msg.role == "system":
            continue
        if msg.role == "assistant":
            ids.start_assistant_turn()
        blocks = [
            b
            for j, part in enumerate(msg.content)
            if (b := _encode_part(part, native, model, i, j, ids)) is not None
        ]
        if not blocks:
            continue
        if out and out[-1]["role"] == msg.role:  # merge consecutive turns (spec B5.5)
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": msg.role, "content": blocks})
    for wire in out:
        if wire["role"] != "user":
            continue
        # tool_result blocks must come first in their user message (spec B5.4).
        content = wire["content"]
        results = [b for b in content if b["type"] == "tool_result"]
        if results and len(results) != len(content):
            wire["content"] = results + [b for b in content if b["type"] != "tool_result"]
    return out


def _encode_part(
    part: ir.Part, native: bool, model: str, i: int, j: int, ids: ConversationIds
) -> dict[str, Any] | None:
    if isinstance(part, ir.Text):
        return _text_block(part) if part.text.strip() else None
    if isinstance(part, ir.ToolCall):
        return {
            "type": "tool_use",
            "id": ids.tool_use(part.id, i),
            "name": part.name,
            "input": _tool_input(part, i, j),
        }
    if isinstance(part, ir.ToolResult):
        return _encode_tool_result(part, native, ids.tool_result(part.tool_call_id))
    if isinstance(part, ir.Thinking):
        sig = replayable_signature(part.signature, native, model)
        return None if sig is None else {"type": "thinking", "thinking": part.text,
                                         "signature": sig}
    if isinstance(part, ir.RedactedThinking):
        return {"type": "redacted_thinking", "data": part.data} if native else None
    return _image_block(part)


def replayable_signature(sig: str | None, native: bool, model: str) -> str | None:
    """The signature a thinking block may be replayed with to `model`, or None: drop the block.

    Every Anthropic-dialect upstream validates signatures and rejects one it did not issue
    (spec B7), so nothing is forged: a real Claude gets back its own raw signatures only; any
    other model only the signatures it issued, which crossway carried (signatures.py). Models
    accept a tool-use turn without its thinking, so a dropped block costs nothing but context.
    """
    if not sig:
        return None
    if native:
        return None if signatures.is_ours(sig) else sig
    carried = signatures.unwrap(sig)
    return carried.token if carried is not None and carried.valid_for("signature", model) \
        else None


def _tool_input(call: ir.ToolCall, i: int, j: int) -> dict[str, Any]:
    if not call.arguments.strip():
        return {}
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise _bad(
            f"messages.{i}.content.{j}",
            f"the arguments of tool call {call.name!r} are not a JSON object",
        )
    return value


def _image_block(image: ir.Image) -> dict[str, Any]:
    source: dict[str, Any]
    if image.data is not None:
        source = {"type": "base64", "media_type": image.media_type, "data": image.data}
    else:
        url = image.url or ""
        m = _DATA_URL.match(url)
        if m is not None:
            source = {"type": "base64", "media_type": m.group(1), "data": m.group(2)}
        else:
            source = {"type": "url", "url": url}
    if image.cache_control is None:
        return {"type": "image", "source": source}
    return {"type": "image", "source": source, "cache_control": image.cache_control}


def _encode_tool_result(result: ir.ToolResult, native: bool, tool_use_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id}
    items = [
        _text_block(p) if isinstance(p, ir.Text) else _image_block(p)
        for p in result.content
        if not isinstance(p, ir.Text) or p.text.strip()
    ]
    if len(items) == 1 and items[0]["type"] == "text" and "cache_control" not in items[0]:
        out["content"] = items[0]["text"]
    elif items:
        out["content"] = items
    elif not native:
        # Claude accepts a result without content; compatible providers that map it onto
        # an OpenAI-style tool message may not, so give them an empty string.
        out["content"] = ""
    if result.is_error:
        out["is_error"] = True
    if result.cache_control is not None:
        out["cache_control"] = result.cache_control
    return out


def _encode_tool(tool: ir.Tool) -> dict[str, Any]:
    schema = tool.parameters
    props = schema.get("properties")
    if schema.get("type") != "object" or not isinstance(props, dict):
        # MiniMax on Go needs type "object" and a properties object (spec A10).
        schema = {
            **schema,
            "type": "object",
            "properties": props if isinstance(props, dict) else {},
        }
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["input_schema"] = schema
    if tool.cache_control is not None:
        out["cache_control"] = tool.cache_control
    return out


def _encode_tool_choice(
    choice: ir.ToolChoice | None, parallel: bool | None
) -> dict[str, Any] | None:
    if choice is None:
        return {"type": "auto", "disable_parallel_tool_use": True} if parallel is False else None
    if choice.type == "none":
        return {"type": "none"}
    out: dict[str, Any] = {"type": choice.type}
    if choice.type == "tool":
        out["name"] = choice.name
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def _encode_thinking(thinking: ir.ThinkingConfig, max_tokens: int, out: dict[str, Any]) -> bool:
    """Claude's `thinking` (+ output_config.effort); True when thinking ends up on."""
    effort = _CLAUDE_EFFORT.get(thinking.effort or "")
    if effort is not None:
        out["output_config"] = {"effort": effort}
    if thinking.type == "disabled" or thinking.effort == "none":
        out["thinking"] = {"type": "disabled"}
        return False
    if thinking.type == "adaptive":
        out["thinking"] = {"type": "adaptive"}
        return True
    if max_tokens <= _MIN_THINKING_BUDGET:
        return False  # no room for the minimum budget: leave thinking off
    budget = thinking.budget_tokens or _BUDGET_FOR_EFFORT.get(effort or "", 8192)
    budget = min(max(budget, _MIN_THINKING_BUDGET), max_tokens - 1)
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    return True


def _encode_sampling(req: ir.Request, out: dict[str, Any], native: bool, thinking_on: bool) -> None:
    if thinking_on:
        # Claude with thinking rejects temperature/top_k and top_p below 0.95 (spec B5.11).
        if req.top_p is not None and req.top_p >= 0.95:
            out["top_p"] = req.top_p
        return
    if req.temperature is not None:
        out["temperature"] = min(max(req.temperature, 0.0), 1.0)
    # Newer Claude models reject temperature together with top_p (spec B5.7).
    if req.top_p is not None and not (native and req.temperature is not None):
        out["top_p"] = req.top_p
    if req.top_k is not None:
        out["top_k"] = req.top_k
