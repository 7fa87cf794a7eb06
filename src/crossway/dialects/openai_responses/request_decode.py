"""A client's `/v1/responses` body -> ir.Request (spec B9, C4), validating as it goes.

Input items become ir turns: consecutive assistant-side items (messages, reasoning, function
and custom tool calls) form one assistant turn, consecutive tool outputs one user turn.
Custom tools become function tools with one string property (see ir.Tool.kind).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from typing import Any, Literal

from crossway import ir, signatures
from crossway.dialects.common import bad, is_base64, is_int, is_number
from crossway.dialects.openai_responses.wire import custom_parameters, effort_in, wrap_input
from crossway.errors import InvalidRequest

_TOOL_CHOICE_IN: dict[str, Literal["auto", "none", "any"]] = {
    "auto": "auto",
    "none": "none",
    "required": "any",
}
# Items recording built-in tools that ran (or would have run) at OpenAI. crossway drops the
# built-in tools themselves, so their traces in a history are dropped with them.
_DROPPED_ITEMS = frozenset((
    "web_search_call", "file_search_call", "image_generation_call", "code_interpreter_call",
    "computer_call", "computer_call_output", "local_shell_call", "local_shell_call_output",
    "shell_call", "shell_call_output", "apply_patch_call", "apply_patch_call_output",
    "mcp_list_tools", "mcp_call", "mcp_approval_request", "mcp_approval_response",
    "tool_search_call", "tool_search_output",
))
_ASSISTANT_ITEMS = frozenset(("function_call", "custom_tool_call", "reasoning"))
_OUTPUT_ITEMS = frozenset(("function_call_output", "custom_tool_call_output"))
_TEXT_PARTS = frozenset(("input_text", "output_text", "text"))
_TEXT_MEDIA = frozenset((
    "application/json", "application/xml", "application/x-yaml", "application/yaml",
    "application/javascript", "application/x-sh", "application/toml", "application/sql",
))
# Request fields carried for OpenAI upstreams of either OpenAI dialect.
_OPENAI_EXTRA = ("prompt_cache_key", "service_tier")
# Request fields for Responses upstreams only. `store` and `metadata` stay out of chat
# upstreams: Codex always sends store false, which OSS chat routes need not see, and OpenAI's
# chat route refuses metadata without store.
_RESPONSES_EXTRA = ("include", "truncation", "safety_identifier", "top_logprobs",
                    "max_tool_calls", "store", "metadata")


def decode_request(body: dict[str, Any]) -> ir.Request:
    """Validate a client's /v1/responses body and convert it to ir.Request."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad("model", "a non-empty string is required")
    _reject_unsupported(body)
    system = _instructions(body.get("instructions"))
    raw_input = body.get("input")
    if raw_input is None and body.get("previous_response_id") is not None:
        raw_input = []  # a continuation may bring nothing new but its instructions
    lead, messages = _decode_input(raw_input)
    req = ir.Request(model=model, messages=messages, system=system + lead)
    _decode_options(body, req)
    if not messages and req.previous_response_id is None:
        req.messages.append(ir.Message("user", []))  # Codex probes with an empty input
    tools, builtins = _decode_tools(body.get("tools"))
    req.tools = tools
    _decode_tool_choice(body.get("tool_choice"), req, builtins)
    return req


def _reject_unsupported(body: dict[str, Any]) -> None:
    if body.get("background") is True:
        raise bad("background", "background responses are not supported by crossway")
    if body.get("conversation") is not None:
        raise bad(
            "conversation",
            "conversation objects are not supported by crossway; send the history in `input` "
            "or continue with `previous_response_id`",
        )
    if body.get("prompt") is not None:
        raise bad("prompt", "stored prompt templates are not supported by crossway")


def _instructions(value: object) -> list[ir.Text]:
    if value is None:
        return []
    if isinstance(value, str):
        return [ir.Text(value)] if value.strip() else []
    raise bad("instructions", "must be a string")


# ---------------------------------------------------------------- input items


class _History:
    """Turns built from input items, merging the items of one assistant or tool turn."""

    def __init__(self) -> None:
        self.system: list[ir.Text] = []  # leading system/developer messages
        self.messages: list[ir.Message] = []
        self._assistant: ir.Message | None = None
        self._outputs: ir.Message | None = None

    def assistant(self) -> ir.Message:
        if self._assistant is None:
            self._assistant = ir.Message("assistant", [])
            self.messages.append(self._assistant)
            self._outputs = None
        return self._assistant

    def output(self, result: ir.ToolResult) -> None:
        if self._outputs is None:
            self._outputs = ir.Message("user", [])
            self.messages.append(self._outputs)
            self._assistant = None
        self._outputs.content.append(result)

    def turn(self, message: ir.Message) -> None:
        if message.role == "assistant":
            # Codex sends reasoning, the assistant message and its calls as separate items
            # of one turn.
            self.assistant().content.extend(message.content)
            return
        self._assistant = self._outputs = None
        if message.role == "system" and not self.messages:
            self.system.extend(p for p in message.content if isinstance(p, ir.Text))
        elif message.content:
            self.messages.append(message)


def _decode_input(raw: object) -> tuple[list[ir.Text], list[ir.Message]]:
    if isinstance(raw, str):
        return [], [ir.Message("user", [ir.Text(raw)] if raw else [])]
    if not isinstance(raw, list):
        raise bad("input", "a string or an array of input items is required")
    history = _History()
    for i, item in enumerate(raw):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad(where, "must be an object")
        itype = item.get("type", "message" if "role" in item else None)
        if itype == "message":
            history.turn(_decode_message(item, where))
        elif itype in _ASSISTANT_ITEMS:
            part = _decode_assistant_item(item, itype, where)
            if part is not None:
                history.assistant().content.append(part)
        elif itype in _OUTPUT_ITEMS:
            history.output(_decode_output(item, where))
        elif itype in _DROPPED_ITEMS:
            continue
        elif itype == "item_reference":
            raise bad(
                f"{where}.type",
                "item references are not supported by crossway; send the item itself",
            )
        elif not isinstance(itype, str):
            raise bad(f"{where}.type", "a string is required")
        else:
            raise bad(f"{where}.type", f"input items of type {itype!r} are not supported")
    return history.system, history.messages


def _string(item: dict[str, Any], key: str, where: str, *, empty: bool = False) -> str:
    value = item.get(key)
    if not isinstance(value, str) or (not value and not empty):
        raise bad(f"{where}.{key}", "a non-empty string is required" if not empty
                  else "a string is required")
    return value


def _decode_message(item: dict[str, Any], where: str) -> ir.Message:
    role = item.get("role")
    content = item.get("content")
    if role == "user":
        return ir.Message("user", _parts(content, f"{where}.content", user=True))
    if role in ("system", "developer"):
        texts = _parts(content, f"{where}.content", user=False)
        return ir.Message("system", texts)
    if role == "assistant":
        return ir.Message("assistant", _parts(content, f"{where}.content", user=False))
    raise bad(f"{where}.role", "must be one of user, assistant, system, developer")


def _parts(content: object, where: str, *, user: bool) -> list[ir.Part]:
    if isinstance(content, str):
        return [ir.Text(content)] if content else []
    if not isinstance(content, list):
        raise bad(where, "must be a string or an array of content parts")
    parts: list[ir.Part] = []
    for j, raw in enumerate(content):
        part = _content_part(raw, f"{where}[{j}]", user=user)
        if part is not None:
            parts.append(part)
    return parts


def _content_part(raw: object, where: str, *, user: bool) -> ir.Text | ir.Image | None:
    if not isinstance(raw, dict):
        raise bad(where, "must be an object")
    ptype = raw.get("type")
    if ptype in _TEXT_PARTS or ptype == "refusal":
        key = "refusal" if ptype == "refusal" else "text"
        text = _string(raw, key, where, empty=True)
        return ir.Text(text) if text else None
    if user and ptype == "input_image":
        return _decode_image(raw, where)
    if user and ptype == "input_file":
        return _decode_file(raw, where)
    if not isinstance(ptype, str):
        raise bad(f"{where}.type", "a string is required")
    allowed = "input_text, input_image and input_file" if user else "text"
    raise bad(f"{where}.type", f"{ptype!r} parts are not supported here (only {allowed})")


def _decode_image(raw: dict[str, Any], where: str) -> ir.Image:
    if raw.get("file_id") is not None and raw.get("image_url") is None:
        raise bad(f"{where}.file_id", "files stored at OpenAI cannot be read by crossway; "
                  "send the image as an image_url (a data URL or an http(s) URL)")
    url = raw.get("image_url")
    if isinstance(url, dict):  # the Chat Completions shape, which some clients reuse
        url = url.get("url")
    if not isinstance(url, str) or not url:
        raise bad(f"{where}.image_url", "a non-empty string is required")
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type = header.partition(";")[0]
        if not sep or not media_type or not header.endswith(";base64") or not is_base64(data):
            raise bad(f"{where}.image_url", "a data URL must look like "
                      "data:<media type>;base64,<base64 data>")
        return ir.Image(media_type=media_type, data=data)
    if url.startswith(("https://", "http://")):
        return ir.Image(url=url)
    raise bad(f"{where}.image_url", "must be an http(s) URL or a base64 data URL")


def _decode_file(raw: dict[str, Any], where: str) -> ir.Text | ir.Image:
    """Inline images and text files are what ir (and every upstream) can carry."""
    if raw.get("file_id") is not None:
        raise bad(f"{where}.file_id", "files stored at OpenAI cannot be read by crossway; "
                  "send the file inline as file_data")
    if raw.get("file_url") is not None:
        raise bad(f"{where}.file_url", "crossway cannot fetch files by URL; send the file "
                  "inline as file_data")
    data = raw.get("file_data")
    filename = raw.get("filename")
    name = filename if isinstance(filename, str) and filename else "file"
    if not isinstance(data, str) or not data:
        raise bad(f"{where}.file_data", "a non-empty string is required")
    media_type: str | None = None
    if data.startswith("data:"):
        header, _, data = data[5:].partition(",")
        media_type = header.partition(";")[0] or None
    if media_type is None:
        media_type = mimetypes.guess_type(name)[0]
    if not is_base64(data):
        raise bad(f"{where}.file_data", "must be base64 (optionally as a data URL)")
    if media_type is not None and media_type.startswith("image/"):
        return ir.Image(media_type=media_type, data=data)
    if media_type is None or not (media_type.startswith("text/") or media_type in _TEXT_MEDIA):
        kind = media_type or "of unknown type"
        raise bad(f"{where}.file_data", f"{name} is {kind}; crossway passes on images and "
                  "text files only (send other documents as text or page images)")
    try:
        text = base64.b64decode(data).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise bad(f"{where}.file_data", f"{name} is not UTF-8 text") from exc
    return ir.Text(f'<file name="{name}">\n{text}\n</file>')


def _decode_assistant_item(item: dict[str, Any], itype: str, where: str) -> ir.Part | None:
    if itype == "reasoning":
        return _decode_reasoning(item, where)
    call_id = _string(item, "call_id", where)
    name = _string(item, "name", where)
    if itype == "function_call":
        arguments = item.get("arguments")
        if not isinstance(arguments, str):
            raise bad(f"{where}.arguments", "must be a string (JSON text)")
        return ir.ToolCall(call_id, name, arguments)
    text = _string(item, "input", where, empty=True)
    return ir.ToolCall(call_id, name, wrap_input(text), custom=True)


def _decode_reasoning(item: dict[str, Any], where: str) -> ir.Thinking | None:
    texts: list[str] = []
    for key, ptype in (("content", "reasoning_text"), ("summary", "summary_text")):
        parts = item.get(key)
        if parts is None:
            continue
        if not isinstance(parts, list):
            raise bad(f"{where}.{key}", "must be an array")
        for j, part in enumerate(parts):
            if not isinstance(part, dict) or part.get("type") != ptype:
                raise bad(f"{where}.{key}[{j}]", f"must be a {ptype} part")
            texts.append(_string(part, "text", f"{where}.{key}[{j}]", empty=True))
        if texts:
            break  # the raw reasoning text, when given, already holds what a summary says
    encrypted = item.get("encrypted_content")
    if encrypted is not None and not isinstance(encrypted, str):
        raise bad(f"{where}.encrypted_content", "must be a string")
    text = "\n\n".join(t for t in texts if t)
    if not text and not encrypted:
        return None  # nothing to carry: an id-only item needs OpenAI's own storage
    if signatures.kind_of(encrypted) == "signature":
        # Another dialect's upstream signature that crossway carried here (signatures.py).
        return ir.Thinking(text, signature=encrypted)
    return ir.Thinking(text, encrypted_content=encrypted or None)


def _decode_output(item: dict[str, Any], where: str) -> ir.ToolResult:
    call_id = _string(item, "call_id", where)
    output = item.get("output")
    content: list[ir.Text | ir.Image] = []
    if isinstance(output, str):
        if output:
            content.append(ir.Text(output))
    elif isinstance(output, list):
        for j, raw in enumerate(output):
            part = _content_part(raw, f"{where}.output[{j}]", user=True)
            if part is not None:
                content.append(part)
    else:
        raise bad(f"{where}.output", "must be a string or an array of content parts")
    return ir.ToolResult(call_id, content)


# ---------------------------------------------------------------- options, tools


def _decode_options(body: dict[str, Any], req: ir.Request) -> None:
    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None:
        if not is_int(max_tokens) or max_tokens < 1:
            raise bad("max_output_tokens", "must be a positive integer")
        req.max_tokens = max_tokens
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None:
            if not is_number(value):
                raise bad(key, "must be a number")
            setattr(req, key, float(value))
    for key in ("stream", "parallel_tool_calls", "store"):
        value = body.get(key)
        if value is not None and not isinstance(value, bool):
            raise bad(key, "must be a boolean")
    req.stream = body.get("stream") is True
    req.parallel_tool_calls = body.get("parallel_tool_calls")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise bad("user", "must be a string")
    req.user = user
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise bad("previous_response_id", "must be a non-empty string")
    req.previous_response_id = previous
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad("metadata", "must be an object")
    include = body.get("include")
    if include is not None and (
        not isinstance(include, list) or not all(isinstance(s, str) for s in include)
    ):
        raise bad("include", "must be an array of strings")
    for key in _OPENAI_EXTRA:
        if body.get(key) is not None:
            req.openai_extra[key] = body[key]
    for key in _RESPONSES_EXTRA:
        if body.get(key) is not None:
            req.responses_extra[key] = body[key]
    req.thinking = _decode_reasoning_config(body.get("reasoning"))
    _decode_text(body.get("text"), req)


def _decode_reasoning_config(raw: object) -> ir.ThinkingConfig | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad("reasoning", "must be an object")
    effort = raw.get("effort")
    if effort is not None and not isinstance(effort, str):
        raise bad("reasoning.effort", "must be a string")
    summary = raw.get("summary", raw.get("generate_summary"))
    if summary is not None and not isinstance(summary, str):
        raise bad("reasoning.summary", "must be a string")
    if effort is None and summary is None:
        return None
    kind: Literal["enabled", "adaptive", "disabled"] = (
        "disabled" if effort == "none" else "enabled" if effort else "adaptive"
    )
    return ir.ThinkingConfig(kind, effort=effort_in(effort) if effort else None,
                             summary=summary)


def _decode_text(raw: object, req: ir.Request) -> None:
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise bad("text", "must be an object")
    verbosity = raw.get("verbosity")
    if verbosity is not None:
        if not isinstance(verbosity, str):
            raise bad("text.verbosity", "must be a string")
        # GPT-only; GLM console routes reject parameters they do not know (spec A6, A10).
        req.responses_extra["verbosity"] = verbosity
    fmt = raw.get("format")
    if fmt is None:
        return
    ftype = fmt.get("type") if isinstance(fmt, dict) else None
    if ftype == "text":
        return
    if ftype == "json_object":
        req.response_format = {"type": "json_object"}
        return
    if ftype != "json_schema":
        raise bad("text.format.type", "must be 'text', 'json_object' or 'json_schema'")
    assert isinstance(fmt, dict)
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise bad("text.format.schema", "must be an object (a JSON Schema)")
    name = fmt.get("name")
    spec: dict[str, Any] = {"name": name if isinstance(name, str) and name else "output",
                            "schema": schema}
    for key in ("strict", "description"):
        if fmt.get(key) is not None:
            spec[key] = fmt[key]
    req.response_format = {"type": "json_schema", "json_schema": spec}


def _decode_tools(raw: object) -> tuple[list[ir.Tool], set[str]]:
    """Function and custom tools, and the types of built-in tools (dropped, spec B9)."""
    if raw is None:
        return [], set()
    if not isinstance(raw, list):
        raise bad("tools", "must be an array")
    tools: list[ir.Tool] = []
    builtins: set[str] = set()
    for k, tool in enumerate(raw):
        where = f"tools[{k}]"
        if not isinstance(tool, dict):
            raise bad(where, "must be an object")
        ttype = tool.get("type")
        if ttype not in ("function", "custom"):
            if not isinstance(ttype, str):
                raise bad(f"{where}.type", "a string is required")
            builtins.add(ttype)  # web_search, local_shell, namespace, image_generation, ...
            continue
        name = _string(tool, "name", where)
        description = tool.get("description")
        if description is not None and not isinstance(description, str):
            raise bad(f"{where}.description", "must be a string")
        if ttype == "custom":
            fmt = tool.get("format")
            if fmt is not None and (
                not isinstance(fmt, dict) or fmt.get("type") not in ("text", "grammar")
            ):
                raise bad(f"{where}.format", "must be {'type': 'text'} or a grammar format")
            tools.append(ir.Tool(name, description, custom_parameters(fmt), kind="custom",
                                 custom_format=fmt))
            continue
        parameters = tool.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        elif not isinstance(parameters, dict):
            raise bad(f"{where}.parameters", "must be a JSON Schema object")
        strict = tool.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise bad(f"{where}.strict", "must be a boolean")
        tools.append(ir.Tool(name, description, parameters, strict))
    return tools, builtins


def _decode_tool_choice(raw: object, req: ir.Request, builtins: set[str]) -> None:
    if raw is None:
        return
    if isinstance(raw, str):
        if raw not in _TOOL_CHOICE_IN:
            raise bad("tool_choice", "must be 'auto', 'none', 'required' or a tool object")
        req.tool_choice = ir.ToolChoice(_TOOL_CHOICE_IN[raw])
        return
    if not isinstance(raw, dict):
        raise bad("tool_choice", "must be a string or an object")
    ctype = raw.get("type")
    if ctype in ("function", "custom"):
        req.tool_choice = ir.ToolChoice("tool", _string(raw, "name", "tool_choice"))
    elif ctype == "allowed_tools":
        _allowed_tools(raw, req)
    elif isinstance(ctype, str) and ctype:
        raise bad("tool_choice.type", f"tool_choice forces the built-in tool {ctype!r}, "
                  "which crossway cannot run")
    else:
        raise bad("tool_choice.type", "a string is required")


def _allowed_tools(raw: dict[str, Any], req: ir.Request) -> None:
    """`allowed_tools` narrows the tools offered; crossway sends only those (spec B9)."""
    mode = raw.get("mode", "auto")
    if mode not in ("auto", "required"):
        raise bad("tool_choice.mode", "must be 'auto' or 'required'")
    listed = raw.get("tools")
    if not isinstance(listed, list):
        raise bad("tool_choice.tools", "must be an array")
    names = {t.get("name") for t in listed if isinstance(t, dict)}
    req.tools = [t for t in req.tools if t.name in names]
    req.tool_choice = ir.ToolChoice("any" if mode == "required" else "auto")
