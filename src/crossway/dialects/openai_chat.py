"""OpenAI Chat Completions dialect: `/v1/chat/completions` bodies <-> crossway.ir.

Streaming lives in openai_chat_stream and is re-exported here, so the dialect is one name.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Literal

import orjson

from crossway import ir
from crossway.dialects import Capabilities
from crossway.dialects.openai_chat_stream import (
    FAILED_FINISH,
    StreamDecoder,
    StreamEncoder,
    decode_usage,
    encode_usage,
    finish_reason_out,
    reasoning_text,
    stop_reason_in,
)
from crossway.dialects.text_tools import scan_complete
from crossway.dialects.think_tags import split_complete
from crossway.errors import InvalidRequest, UpstreamError

__all__ = [
    "StreamDecoder",
    "StreamEncoder",
    "decode_request",
    "decode_response",
    "decode_usage",
    "encode_request",
    "encode_response",
    "encode_usage",
    "error_body",
]

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
_TOOL_CHOICE_OUT = {"auto": "auto", "any": "required", "none": "none"}


def error_body(
    error_type: str, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


# ---------------------------------------------------------------- request decoding


def _invalid(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {problem}", param=where)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    n = body.get("n")
    if n is not None:
        if not _is_int(n) or n < 1:
            raise _invalid("n", "must be a positive integer")
        if n > 1:
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


# ---------------------------------------------------------------- request encoding


def encode_request(req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
    """The body for an OpenAI-compatible upstream serving `model`."""
    messages: list[dict[str, Any]] = []
    system = "\n\n".join(t.text for t in req.system if t.text)
    if system:
        messages.append({"role": "system", "content": system})
    for m in req.messages:
        if m.role == "user":
            _encode_user(m.content, messages)
        elif m.role == "assistant":
            messages.append(_encode_assistant(m.content, caps.reasoning_replay))
        else:
            text = "\n\n".join(p.text for p in m.content if isinstance(p, ir.Text) and p.text)
            if text:
                messages.append({"role": "system", "content": text})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if req.max_tokens is not None:
        limit = caps.max_output_tokens
        body["max_tokens"] = req.max_tokens if limit is None else min(req.max_tokens, limit)
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = list(req.stop)
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if req.tools:
        # OpenAI rejects tool_choice / parallel_tool_calls without tools.
        body["tools"] = [_encode_tool(t) for t in req.tools]
        if req.tool_choice is not None:
            body["tool_choice"] = _encode_tool_choice(req.tool_choice)
        if req.parallel_tool_calls is not None and caps.parallel_tool_calls:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    thinking = req.thinking
    if thinking is not None:
        if caps.thinking_switch:
            off = thinking.type == "disabled" or thinking.effort == "none"
            body["thinking"] = {"type": "disabled" if off else "enabled"}
        if caps.reasoning_effort and thinking.effort and thinking.effort != "none":
            body["reasoning_effort"] = thinking.effort
    if req.response_format is not None:
        body["response_format"] = req.response_format
    if req.user is not None:
        body["user"] = req.user
    for key, value in req.openai_extra.items():
        body.setdefault(key, value)
    return body


def _image_url(image: ir.Image) -> dict[str, Any]:
    url = f"data:{image.media_type};base64,{image.data}" if image.data is not None else image.url
    return {"type": "image_url", "image_url": {"url": url}}


def _encode_user(content: list[ir.Part], out: list[dict[str, Any]]) -> None:
    """Tool results first, as `tool` messages (spec B1.5), then one user message for the rest."""
    parts: list[dict[str, Any]] = []  # images from tool results, which tool messages cannot hold
    rest: list[ir.Text | ir.Image] = []
    had_results = False
    for p in content:
        if isinstance(p, ir.ToolResult):
            had_results = True
            texts = [c.text for c in p.content if isinstance(c, ir.Text)]
            images = [c for c in p.content if isinstance(c, ir.Image)]
            text = "\n".join(texts)
            if images and not text:
                text = "(the tool returned images; they follow in the next user message)"
            if p.is_error:
                text = "[tool error] " + text if text else "[tool error]"
            out.append({"role": "tool", "tool_call_id": p.tool_call_id, "content": text})
            if images:
                parts.append({"type": "text", "text": f"Images returned by tool {p.tool_call_id}:"})
                parts.extend(_image_url(i) for i in images)
        elif isinstance(p, ir.Image) or (isinstance(p, ir.Text) and p.text):
            rest.append(p)
    if not parts and len(rest) == 1 and isinstance(rest[0], ir.Text):
        out.append({"role": "user", "content": rest[0].text})
        return
    for p in rest:
        parts.append({"type": "text", "text": p.text} if isinstance(p, ir.Text) else _image_url(p))
    if parts:
        out.append({"role": "user", "content": parts})
    elif not had_results:
        out.append({"role": "user", "content": ""})


def _encode_assistant(content: list[ir.Part], reasoning_replay: bool) -> dict[str, Any]:
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for p in content:
        if isinstance(p, ir.Text):
            texts.append(p.text)
        elif isinstance(p, ir.ToolCall):
            fn = {"name": p.name, "arguments": p.arguments or "{}"}
            calls.append({"id": p.id, "type": "function", "function": fn})
        elif isinstance(p, ir.Thinking) and p.text:
            thinking.append(p.text)
    # Never null content: GLM console routes reject it on tool-call turns (spec B1.6).
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if reasoning_replay:
        # DeepSeek wants the key on every assistant turn, Kimi on tool-call turns (spec B1.6).
        msg["reasoning_content"] = "\n\n".join(thinking)
    if calls:
        msg["tool_calls"] = calls
    return msg


def _encode_tool(tool: ir.Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        fn["description"] = tool.description
    fn["parameters"] = tool.parameters
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _encode_tool_choice(choice: ir.ToolChoice) -> str | dict[str, Any]:
    if choice.type == "tool" and choice.name:
        return {"type": "function", "function": {"name": choice.name}}
    return _TOOL_CHOICE_OUT.get(choice.type, "required")


# ---------------------------------------------------------------- responses


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
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for p in resp.content:
        if isinstance(p, ir.Text):
            texts.append(p.text)
        elif isinstance(p, ir.ToolCall):
            fn = {"name": p.name, "arguments": p.arguments or "{}"}
            calls.append({"id": p.id, "type": "function", "function": fn})
        elif isinstance(p, ir.Thinking) and p.text:
            thinking.append(p.text)
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
