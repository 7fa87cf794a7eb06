"""Anthropic Messages requests from clients: validate a /v1/messages body, -> ir."""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects.common import bad as _bad
from crossway.dialects.common import is_base64
from crossway.dialects.common import is_number as _is_number
from crossway.errors import InvalidRequest

# Block types each role may carry, as Anthropic accepts them.
_ROLE_BLOCKS: dict[str, frozenset[str]] = {
    "user": frozenset(("text", "image", "tool_result")),
    "assistant": frozenset(("text", "tool_use", "thinking", "redacted_thinking")),
    "system": frozenset(("text",)),
}
_KNOWN_BLOCKS = frozenset(_ROLE_BLOCKS["user"] | _ROLE_BLOCKS["assistant"])


def _unsupported(path: str, btype: object) -> InvalidRequest:
    return _bad(f"{path}.type", f"crossway does not support content block type {btype!r} yet")


def _cache_control(block: dict[str, Any]) -> dict[str, Any] | None:
    cc = block.get("cache_control")
    return cc if isinstance(cc, dict) else None


# ---------------------------------------------------------------- request: client -> ir


def decode_request(body: dict[str, Any]) -> ir.Request:
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if model is None:
        raise _bad("model", "field required")
    if not isinstance(model, str) or not model:
        raise _bad("model", "must be a non-empty string")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise _bad("max_tokens", "field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _bad("max_tokens", "must be an integer >= 1")
    messages = body.get("messages")
    if messages is None:
        raise _bad("messages", "field required")
    if not isinstance(messages, list) or not messages:
        raise _bad("messages", "must be a non-empty list")
    tools, server_tools = _decode_tools(body.get("tools"))
    req = ir.Request(
        model=model,
        messages=[_decode_message(m, i) for i, m in enumerate(messages)],
        system=_decode_system(body.get("system")),
        max_tokens=max_tokens,
        tools=tools,
    )
    _decode_sampling(body, req)
    _decode_tool_choice(body.get("tool_choice"), req, server_tools)
    _decode_output(body, req)
    return req


def _decode_system(value: object) -> list[ir.Text]:
    if value is None:
        return []
    if isinstance(value, str):
        return [ir.Text(value)] if value.strip() else []
    if not isinstance(value, list):
        raise _bad("system", "must be a string or a list of text blocks")
    out: list[ir.Text] = []
    for k, block in enumerate(value):
        path = f"system.{k}"
        if not isinstance(block, dict):
            raise _bad(path, "must be an object")
        if block.get("type") != "text":
            raise _bad(f"{path}.type", "system blocks must be of type 'text'")
        text = _decode_text(block, path)
        if text is not None:
            out.append(text)
    return out


def _decode_message(msg: object, i: int) -> ir.Message:
    path = f"messages.{i}"
    if not isinstance(msg, dict):
        raise _bad(path, "must be an object")
    role = msg.get("role")
    if role != "user" and role != "assistant" and role != "system":
        raise _bad(f"{path}.role", "must be 'user', 'assistant' or 'system'")
    content = msg.get("content")
    if isinstance(content, str):
        # Empty and whitespace-only text is dropped: Anthropic rejects it on replay (spec B12).
        return ir.Message(role, [ir.Text(content)] if content.strip() else [])
    if not isinstance(content, list):
        raise _bad(f"{path}.content", "must be a string or a list of content blocks")
    allowed = _ROLE_BLOCKS[role]
    parts: list[ir.Part] = []
    for j, block in enumerate(content):
        part = _decode_block(block, role, allowed, f"{path}.content.{j}")
        if part is not None:
            parts.append(part)
    return ir.Message(role, parts)


def _decode_block(block: object, role: str, allowed: frozenset[str], path: str) -> ir.Part | None:
    if not isinstance(block, dict):
        raise _bad(path, "must be an object")
    btype = block.get("type")
    if btype not in allowed:
        if btype in _KNOWN_BLOCKS:
            raise _bad(f"{path}.type", f"a {btype!r} block is not allowed in a {role} message")
        if not isinstance(btype, str):
            raise _bad(f"{path}.type", "field required, a string")
        raise _unsupported(path, btype)
    if btype == "text":
        return _decode_text(block, path)
    if btype == "tool_use":
        return _decode_tool_use(block, path)
    if btype == "tool_result":
        return _decode_tool_result(block, path)
    if btype == "image":
        return _decode_image(block, path)
    if btype == "thinking":
        text = block.get("thinking")
        if not isinstance(text, str):
            raise _bad(f"{path}.thinking", "must be a string")
        sig = block.get("signature")
        if signatures.kind_of(sig if isinstance(sig, str) else None) == "encrypted":
            # A Responses upstream's reasoning state that crossway carried in the signature.
            return ir.Thinking(text, encrypted_content=sig)
        return ir.Thinking(text, sig if isinstance(sig, str) else None)
    data = block.get("data")  # redacted_thinking
    if not isinstance(data, str):
        raise _bad(f"{path}.data", "must be a string")
    return ir.RedactedThinking(data)


def _decode_text(block: dict[str, Any], path: str) -> ir.Text | None:
    text = block.get("text")
    if not isinstance(text, str):
        raise _bad(f"{path}.text", "must be a string")
    if not text.strip():
        return None
    return ir.Text(text, _cache_control(block))


def _decode_image(block: dict[str, Any], path: str) -> ir.Image:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _bad(f"{path}.source", "must be an object")
    stype = source.get("type")
    if stype == "base64":
        media_type = source.get("media_type")
        data = source.get("data")
        if not isinstance(media_type, str) or not media_type:
            raise _bad(f"{path}.source.media_type", "must be a non-empty string")
        if not isinstance(data, str) or not data:
            raise _bad(f"{path}.source.data", "must be a non-empty string")
        if not is_base64(data):
            raise _bad(f"{path}.source.data", "is not valid base64")
        return ir.Image(media_type=media_type, data=data, cache_control=_cache_control(block))
    if stype == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise _bad(f"{path}.source.url", "must be a non-empty string")
        return ir.Image(url=url, cache_control=_cache_control(block))
    raise _bad(f"{path}.source.type", f"crossway does not support image source type {stype!r} yet")


def _decode_tool_use(block: dict[str, Any], path: str) -> ir.ToolCall:
    tool_id = block.get("id")
    name = block.get("name")
    if not isinstance(tool_id, str) or not tool_id:
        raise _bad(f"{path}.id", "must be a non-empty string")
    if not isinstance(name, str) or not name:
        raise _bad(f"{path}.name", "must be a non-empty string")
    given = block.get("input")
    if given is None:
        given = {}
    elif not isinstance(given, dict):
        raise _bad(f"{path}.input", "must be an object")
    return ir.ToolCall(tool_id, name, orjson.dumps(given).decode())


def _decode_tool_result(block: dict[str, Any], path: str) -> ir.ToolResult:
    tool_use_id = block.get("tool_use_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise _bad(f"{path}.tool_use_id", "must be a non-empty string")
    content = block.get("content")
    parts: list[ir.Text | ir.Image] = []
    if isinstance(content, str):
        if content.strip():
            parts.append(ir.Text(content))
    elif isinstance(content, list):
        for k, item in enumerate(content):
            item_path = f"{path}.content.{k}"
            if not isinstance(item, dict):
                raise _bad(item_path, "must be an object")
            itype = item.get("type")
            if itype == "text":
                text = _decode_text(item, item_path)
                if text is not None:
                    parts.append(text)
            elif itype == "image":
                parts.append(_decode_image(item, item_path))
            else:
                raise _unsupported(item_path, itype)
    elif content is not None:
        raise _bad(f"{path}.content", "must be a string or a list of text and image blocks")
    return ir.ToolResult(tool_use_id, parts, block.get("is_error") is True, _cache_control(block))


def _decode_tools(value: object) -> tuple[list[ir.Tool], set[str]]:
    """Custom tools, and the names of Anthropic server tools (dropped: only Claude runs them)."""
    if value is None:
        return [], set()
    if not isinstance(value, list):
        raise _bad("tools", "must be a list")
    tools: list[ir.Tool] = []
    server: set[str] = set()
    for k, tool in enumerate(value):
        path = f"tools.{k}"
        if not isinstance(tool, dict):
            raise _bad(path, "must be an object")
        ttype = tool.get("type")
        name = tool.get("name")
        if ttype is not None and ttype != "custom":
            # web_search_20250305, web_fetch_*, code_execution_*, bash_*, ... (spec B1.7)
            if isinstance(name, str):
                server.add(name)
            continue
        if not isinstance(name, str) or not name:
            raise _bad(f"{path}.name", "must be a non-empty string")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _bad(f"{path}.input_schema", "must be an object (a JSON Schema)")
        description = tool.get("description")
        if description is not None and not isinstance(description, str):
            raise _bad(f"{path}.description", "must be a string")
        strict = tool.get("strict")
        tools.append(
            ir.Tool(
                name,
                description,
                schema,
                strict if isinstance(strict, bool) else None,
                _cache_control(tool),
            )
        )
    return tools, server


def _decode_tool_choice(value: object, req: ir.Request, server_tools: set[str]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _bad("tool_choice", "must be an object")
    ctype = value.get("type")
    if ctype == "tool":
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise _bad("tool_choice.name", "must be a non-empty string")
        if name in server_tools and all(t.name != name for t in req.tools):
            raise _bad(
                "tool_choice.name",
                f"tool_choice forces the Anthropic server tool {name!r}, which crossway "
                "cannot run on this upstream",
            )
        req.tool_choice = ir.ToolChoice("tool", name)
    elif ctype == "auto" or ctype == "any" or ctype == "none":
        if ctype == "any" and not req.tools and server_tools:
            raise _bad(
                "tool_choice.type",
                "tool_choice 'any' needs a tool, but the only tools given are Anthropic "
                "server tools, which crossway cannot run on this upstream",
            )
        req.tool_choice = ir.ToolChoice(ctype)
    else:
        raise _bad("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none'")
    if value.get("disable_parallel_tool_use") is True:
        req.parallel_tool_calls = False


def _decode_sampling(body: dict[str, Any], req: ir.Request) -> None:
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None and not _is_number(value):
            raise _bad(key, "must be a number")
    req.temperature = body.get("temperature")
    req.top_p = body.get("top_p")
    top_k = body.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool)):
        raise _bad("top_k", "must be an integer")
    req.top_k = top_k
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise _bad("stop_sequences", "must be a list of strings")
        req.stop = stop
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", "must be a boolean")
    req.stream = stream is True
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise _bad("metadata", "must be an object")
        user_id = metadata.get("user_id")
        if isinstance(user_id, str) and user_id:
            req.user = user_id


def _decode_output(body: dict[str, Any], req: ir.Request) -> None:
    """`thinking`, `output_config.effort` and `output_config.format` (or beta `output_format`)."""
    config = body.get("output_config")
    if config is not None and not isinstance(config, dict):
        raise _bad("output_config", "must be an object")
    config = config or {}
    effort = config.get("effort")
    if effort is not None and not isinstance(effort, str):
        raise _bad("output_config.effort", "must be a string")
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict):
            raise _bad("thinking", "must be an object")
        ttype = thinking.get("type")
        if ttype == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
                raise _bad("thinking.budget_tokens", "must be an integer >= 1")
            req.thinking = ir.ThinkingConfig("enabled", budget, effort)
        elif ttype == "adaptive" or ttype == "disabled":
            req.thinking = ir.ThinkingConfig(ttype, None, effort)
        else:
            raise _bad("thinking.type", "must be 'enabled', 'adaptive' or 'disabled'")
    elif effort:
        # Effort without a thinking object: carried as adaptive so other dialects can map it
        # to a reasoning effort.
        req.thinking = ir.ThinkingConfig("adaptive", None, effort)
    fmt = config.get("format", body.get("output_format"))
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise _bad("output_config.format", "must be {'type': 'json_schema', 'schema': {...}}")
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise _bad("output_config.format.schema", "must be an object (a JSON Schema)")
    req.response_format = {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }
