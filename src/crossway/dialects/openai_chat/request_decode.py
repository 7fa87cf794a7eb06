"""OpenAI Chat Completions requests from clients: validate a /v1/chat/completions body, -> ir."""

from __future__ import annotations

from typing import Any, Literal

from crossway import ir
from crossway.dialects.common import is_base64
from crossway.dialects.common import is_int as _is_int
from crossway.dialects.openai_chat.preflight import check_fields
from crossway.errors import InvalidRequest

# OpenAI-only request fields carried in ir.Request.openai_extra for OpenAI-style upstreams.
_OPENAI_EXTRA = (
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "verbosity",
    "prompt_cache_key",
    "service_tier",
    "metadata",
    "store",
)
_TOOL_CHOICE_IN: dict[str, Literal["auto", "none", "any"]] = {
    "auto": "auto",
    "none": "none",
    "required": "any",
}


def _invalid(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {problem}", param=where)


def _nonempty_str(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where}.{key}" if where else key, "a non-empty string is required")
    return value


def _optional(body: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _invalid(key, f"must be {what}")
    return value


def decode_request(body: dict[str, Any]) -> ir.Request:
    """Validate a client's /v1/chat/completions body and convert it to ir.Request."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = _nonempty_str(body, "model", "")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _invalid("messages", "a non-empty array is required")
    check_fields(body)
    n = body.get("n")
    if n is not None and n > 1:
        raise InvalidRequest("n > 1 is not supported", param="n")
    system, messages = _decode_messages(raw_messages)
    req = ir.Request(model=model, messages=messages, system=system)
    _decode_options(body, req)
    req.tools = _decode_tools(body.get("tools"))
    req.tool_choice = _decode_tool_choice(body.get("tool_choice"))
    for key in _OPENAI_EXTRA:
        value = body.get(key)
        if value is not None:
            req.openai_extra[key] = value
    return req


def _decode_options(body: dict[str, Any], req: ir.Request) -> None:
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = body.get(key)
    if max_tokens is not None:
        if not _is_int(max_tokens) or max_tokens < 1:
            raise _invalid(key, "must be a positive integer")
        req.max_tokens = max_tokens
    for key in ("temperature", "top_p"):
        value = _optional(body, key, (int, float), "a number")
        if value is not None:
            setattr(req, key, float(value))
    stop = body.get("stop")
    if isinstance(stop, str):
        req.stop = [stop] if stop else []
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        req.stop = [s for s in stop if s]
    elif stop is not None:
        raise _invalid("stop", "must be a string or an array of strings")
    req.stream = bool(_optional(body, "stream", bool, "a boolean"))
    req.parallel_tool_calls = _optional(body, "parallel_tool_calls", bool, "a boolean")
    effort = _optional(body, "reasoning_effort", str, "a string")
    if effort is not None:
        req.thinking = ir.ThinkingConfig(
            type="disabled" if effort == "none" else "enabled", effort=effort
        )
    req.response_format = _optional(body, "response_format", dict, "an object")
    req.user = _optional(body, "user", str, "a string")


def _decode_messages(raw: list[Any]) -> tuple[list[ir.Text], list[ir.Message]]:
    system: list[ir.Text] = []
    out: list[ir.Message] = []
    tool_turn: ir.Message | None = None  # the user turn collecting consecutive tool messages
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _invalid(where, "must be an object")
        role = m.get("role")
        if role == "tool":
            if tool_turn is None:
                tool_turn = ir.Message("user", [])
                out.append(tool_turn)
            tool_turn.content.append(_decode_tool_message(m, where))
            continue
        tool_turn = None
        if role == "user":
            out.append(ir.Message("user", _user_parts(m.get("content"), f"{where}.content")))
        elif role == "assistant":
            out.append(_decode_assistant(m, where))
        elif role in ("system", "developer"):
            texts = _text_parts(m.get("content"), f"{where}.content", nullable=False)
            if not out:
                system.extend(texts)
            elif texts:
                out.append(ir.Message("system", [*texts]))
        elif role == "function":
            raise _invalid(f"{where}.role", "'function' messages are deprecated; use 'tool'")
        else:
            raise _invalid(
                f"{where}.role", "must be one of system, developer, user, assistant, tool"
            )
    return system, out


def _text_parts(
    content: Any, where: str, *, nullable: bool, assistant: bool = False
) -> list[ir.Text]:
    if isinstance(content, str):
        return [ir.Text(content)] if content else []
    if content is None and nullable:
        return []
    if not isinstance(content, list):
        raise _invalid(where, "must be a string or an array of content parts")
    texts: list[ir.Text] = []
    for j, part in enumerate(content):
        pwhere = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise _invalid(pwhere, "must be an object")
        ptype = part.get("type")
        key = "refusal" if assistant and ptype == "refusal" else "text"
        if ptype != key:
            raise _unsupported_part(ptype, pwhere, "only text parts are allowed here")
        text = part.get(key)
        if not isinstance(text, str):
            raise _invalid(f"{pwhere}.{key}", "must be a string")
        if text:
            texts.append(ir.Text(text))
    return texts


def _unsupported_part(ptype: object, where: str, detail: str) -> InvalidRequest:
    if not isinstance(ptype, str):
        return _invalid(f"{where}.type", "must be a string")
    return _invalid(f"{where}.type", f"'{ptype}' content parts are not supported: {detail}")


def _user_parts(content: Any, where: str) -> list[ir.Part]:
    if isinstance(content, str):
        return [ir.Text(content)] if content else []
    if not isinstance(content, list):
        raise _invalid(where, "must be a string or an array of content parts")
    parts: list[ir.Part] = []
    for j, part in enumerate(content):
        pwhere = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise _invalid(pwhere, "must be an object")
        ptype = part.get("type")
        if ptype == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise _invalid(f"{pwhere}.text", "must be a string")
            if text:
                parts.append(ir.Text(text))
        elif ptype == "image_url":
            parts.append(_decode_image(part.get("image_url"), f"{pwhere}.image_url"))
        else:
            raise _unsupported_part(ptype, pwhere, "crossway does not support that part type yet")
    return parts


def _decode_image(spec: Any, where: str) -> ir.Image:
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str) or not url:
        raise _invalid(f"{where}.url", "a non-empty string is required")
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type = header.partition(";")[0]
        if not sep or not data or not media_type or not header.endswith(";base64"):
            raise _invalid(f"{where}.url", "a data URL must look like data:<media type>;base64,...")
        if not is_base64(data):
            raise _invalid(f"{where}.url", "the data URL's payload is not valid base64")
        return ir.Image(media_type=media_type, data=data)
    if url.startswith(("https://", "http://")):
        return ir.Image(url=url)
    raise _invalid(f"{where}.url", "must be an http(s) URL or a base64 data URL")


def _decode_assistant(m: dict[str, Any], where: str) -> ir.Message:
    parts: list[ir.Part] = []
    reasoning = m.get("reasoning_content")
    if reasoning is not None and not isinstance(reasoning, str):
        raise _invalid(f"{where}.reasoning_content", "must be a string")
    if not reasoning:
        other = m.get("reasoning")  # OpenRouter-style; ignored unless a string
        reasoning = other if isinstance(other, str) else None
    if reasoning:
        parts.append(ir.Thinking(reasoning))
    parts.extend(_text_parts(m.get("content"), f"{where}.content", nullable=True, assistant=True))
    refusal = m.get("refusal")
    if refusal is not None:
        if not isinstance(refusal, str):
            raise _invalid(f"{where}.refusal", "must be a string")
        if refusal:
            parts.append(ir.Text(refusal))
    tool_calls = m.get("tool_calls")
    if tool_calls is not None:
        if not isinstance(tool_calls, list):
            raise _invalid(f"{where}.tool_calls", "must be an array")
        for k, tc in enumerate(tool_calls):
            parts.append(_decode_tool_call(tc, f"{where}.tool_calls[{k}]"))
    return ir.Message("assistant", parts)


def _decode_tool_call(tc: Any, where: str) -> ir.ToolCall:
    if not isinstance(tc, dict):
        raise _invalid(where, "must be an object")
    call_id = _nonempty_str(tc, "id", where)
    ttype = tc.get("type")
    if ttype is not None and ttype != "function":
        raise _invalid(f"{where}.type", "only 'function' tool calls are supported")
    fn = tc.get("function")
    if not isinstance(fn, dict):
        raise _invalid(f"{where}.function", "must be an object")
    name = _nonempty_str(fn, "name", f"{where}.function")
    arguments = fn.get("arguments")
    if arguments is None:
        arguments = ""
    elif not isinstance(arguments, str):
        raise _invalid(f"{where}.function.arguments", "must be a string (JSON text)")
    return ir.ToolCall(call_id, name, arguments)


def _decode_tool_message(m: dict[str, Any], where: str) -> ir.ToolResult:
    call_id = _nonempty_str(m, "tool_call_id", where)
    content: list[ir.Text | ir.Image] = [
        *_text_parts(m.get("content"), f"{where}.content", nullable=False)
    ]
    return ir.ToolResult(call_id, content)


def _decode_tools(raw: Any) -> list[ir.Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid("tools", "must be an array")
    tools: list[ir.Tool] = []
    for i, t in enumerate(raw):
        where = f"tools[{i}]"
        if not isinstance(t, dict):
            raise _invalid(where, "must be an object")
        ttype = t.get("type")
        if ttype != "function":
            raise _invalid(
                f"{where}.type", f"crossway supports only 'function' tools, not {ttype!r}"
            )
        fn = t.get("function")
        if not isinstance(fn, dict):
            raise _invalid(f"{where}.function", "must be an object")
        name = _nonempty_str(fn, "name", f"{where}.function")
        description = fn.get("description")
        if description is not None and not isinstance(description, str):
            raise _invalid(f"{where}.function.description", "must be a string")
        parameters = fn.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        elif not isinstance(parameters, dict):
            raise _invalid(f"{where}.function.parameters", "must be a JSON Schema object")
        strict = fn.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _invalid(f"{where}.function.strict", "must be a boolean")
        tools.append(ir.Tool(name, description, parameters, strict))
    return tools


def _decode_tool_choice(raw: Any) -> ir.ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw in _TOOL_CHOICE_IN:
        return ir.ToolChoice(_TOOL_CHOICE_IN[raw])
    if isinstance(raw, dict) and raw.get("type") == "function":
        fn = raw.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if isinstance(name, str) and name:
            return ir.ToolChoice("tool", name)
    raise _invalid(
        "tool_choice",
        'must be \'auto\', \'none\', \'required\' or {"type": "function", "function": {"name"}}',
    )
