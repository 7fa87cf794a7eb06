"""Request validation rules of the fake OpenCode Zen/Go upstream (spec A1/A2/A6/A10, B0/B1/B5).

Every rule raises `Reject` with the status / Zen error class / message the real service answers.
Body rules are provider errors: their message carries Zen's "Error from provider (...): " prefix.
The /responses rules live in opencode_responses.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

JSON = dict[str, Any]

TOOL_ID_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
ANTHROPIC_TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")

CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
CHAT_PART_TYPES = ("text", "image_url", "input_audio", "file", "refusal")
USER_BLOCKS = ("text", "image", "document", "tool_result", "search_result")
ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking", "server_tool_use")
CHAT_TOOL_CHOICES = ("none", "auto", "required")
ANTHROPIC_TOOL_CHOICES = ("auto", "any", "tool", "none")


class Reject(Exception):
    """An error answer: HTTP status, Zen error class (error.type) and message."""

    def __init__(self, status: int, etype: str, message: str) -> None:
        super().__init__(f"{status} {etype}: {message}")
        self.status = status
        self.etype = etype
        self.message = message


class Bad:
    """Raises provider-style 400 invalid_request_error with Zen's provider prefix."""

    def __init__(self, provider: str) -> None:
        self.prefix = f"Error from provider ({provider}): "

    def __call__(self, message: str) -> Reject:
        return Reject(400, "invalid_request_error", self.prefix + message)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


# ----------------------------------------------------------------------- chat/completions


def check_chat(body: JSON, model: str, bad: Bad) -> None:
    if "messages" not in body:
        raise bad("Missing required parameter: 'messages'.")
    msgs = body["messages"]
    if not isinstance(msgs, list):
        raise bad("Invalid type for 'messages': expected an array, but got a different type.")
    if not msgs:
        raise bad(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead."
        )
    open_ids: list[str] = []  # tool_call ids still waiting for their tool message
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise bad(f"Invalid type for 'messages[{i}]': expected an object.")
        role = m.get("role")
        if role not in CHAT_ROLES:
            raise bad(
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', "
                "'user', 'function', 'tool', and 'developer'."
            )
        _check_chat_content(m, i, bad)
        if role == "tool":
            tcid = m.get("tool_call_id")
            if not isinstance(tcid, str):
                raise bad(f"Missing required parameter: 'messages[{i}].tool_call_id'.")
            if tcid not in open_ids:
                raise bad(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'."
                )
            open_ids.remove(tcid)
            continue
        if open_ids:
            raise _missing_tool_responses(open_ids, bad)
        if role == "assistant":
            _check_deepseek_replay(body, m, i, model, bad)
            open_ids = _check_assistant_tool_calls(m, i, model, bad)
    if open_ids:
        raise _missing_tool_responses(open_ids, bad)
    _check_chat_tools(body, bad)


def _check_deepseek_replay(body: JSON, m: JSON, i: int, model: str, bad: Bad) -> None:
    """DeepSeek V4 in thinking mode (the default) wants reasoning_content on every assistant
    message of the history (spec A10, B1.6)."""
    thinking = body.get("thinking")
    off = isinstance(thinking, dict) and thinking.get("type") == "disabled"
    if model.startswith("deepseek-") and not off and "reasoning_content" not in m:
        raise bad(
            "Missing `reasoning_content` field in the assistant message at message index "
            f"{i}. The reasoning_content in the thinking mode must be passed back to the API."
        )


def _missing_tool_responses(ids: list[str], bad: Bad) -> Reject:
    return bad(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(ids)
    )


def _check_chat_content(m: JSON, i: int, bad: Bad) -> None:
    role = m["role"]
    content = m.get("content")
    if role in ("user", "system", "developer", "tool") and "content" not in m:
        raise bad(f"Missing required parameter: 'messages[{i}].content'.")
    if content is None:
        if role != "assistant":
            raise bad(f"Invalid type for 'messages[{i}].content': expected a string or array.")
        return
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise bad(f"Invalid type for 'messages[{i}].content': expected a string or array.")
    allowed = CHAT_PART_TYPES if role == "user" else ("text", "refusal")
    for j, part in enumerate(content):
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype not in allowed:
            raise bad(
                f"Invalid value: '{ptype}'. Supported values are: "
                + ", ".join(f"'{a}'" for a in allowed)
                + f". (param: messages[{i}].content[{j}].type)"
            )
        if ptype == "text" and not isinstance(part.get("text"), str):
            raise bad(f"Missing required parameter: 'messages[{i}].content[{j}].text'.")
        if ptype == "image_url":
            img = part.get("image_url")
            if not isinstance(img, dict) or not isinstance(img.get("url"), str):
                raise bad(
                    f"Missing required parameter: 'messages[{i}].content[{j}].image_url.url'."
                )


def _check_assistant_tool_calls(m: JSON, i: int, model: str, bad: Bad) -> list[str]:
    if model.startswith("glm-") and m.get("content") is None:
        raise bad("[1214] The messages parameter is illegal")
    if "tool_calls" not in m or m["tool_calls"] is None:
        return []
    calls = m["tool_calls"]
    if not isinstance(calls, list):
        raise bad(f"Invalid type for 'messages[{i}].tool_calls': expected an array.")
    if not calls:
        raise bad(
            f"Invalid 'messages[{i}].tool_calls': empty array. Expected an array with minimum "
            "length 1, but got an empty array instead."
        )
    if model.startswith("kimi-") and "reasoning_content" not in m:
        raise bad(
            "thinking is enabled but reasoning_content is missing in assistant tool call "
            f"message at index {i}"
        )
    ids: list[str] = []
    for k, call in enumerate(calls):
        where = f"messages[{i}].tool_calls[{k}]"
        if not isinstance(call, dict):
            raise bad(f"Invalid type for '{where}': expected an object.")
        if not isinstance(call.get("id"), str) or not call["id"]:
            raise bad(f"Missing required parameter: '{where}.id'.")
        if call.get("type") != "function":
            raise bad(f"Missing required parameter: '{where}.type'. Expected 'function'.")
        fn = call.get("function")
        if not isinstance(fn, dict):
            raise bad(f"Missing required parameter: '{where}.function'.")
        if not isinstance(fn.get("name"), str):
            raise bad(f"Missing required parameter: '{where}.function.name'.")
        if not isinstance(fn.get("arguments"), str):
            raise bad(
                f"Invalid type for '{where}.function.arguments': expected a string, "
                "but got an object instead."
            )
        ids.append(call["id"])
    return ids


def _check_chat_tools(body: JSON, bad: Bad) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("Invalid type for 'tools': expected an array.")
        for k, tool in enumerate(tools):
            if not isinstance(tool, dict) or tool.get("type") != "function":
                raise bad(f"Missing required parameter: 'tools[{k}].type'. Expected 'function'.")
            fn = tool.get("function")
            if not isinstance(fn, dict):
                raise bad(f"Missing required parameter: 'tools[{k}].function'.")
            name = fn.get("name")
            if not isinstance(name, str):
                raise bad(f"Missing required parameter: 'tools[{k}].function.name'.")
            if not FUNCTION_NAME_RE.match(name):
                raise bad(
                    f"Invalid 'tools[{k}].function.name': string does not match pattern. "
                    "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                )
            if len(name) > 64:
                raise bad(
                    f"Invalid 'tools[{k}].function.name': string too long. Expected a string "
                    f"with maximum length 64, but got a string with length {len(name)} instead."
                )
            params = fn.get("parameters")
            if params is not None and not isinstance(params, dict):
                raise bad(f"Invalid type for 'tools[{k}].function.parameters': expected an object.")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in CHAT_TOOL_CHOICES:
            raise bad(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'."
            )
        return
    fn = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or choice.get("type") != "function" or not isinstance(fn, dict):
        raise bad("Invalid value for 'tool_choice': expected a string or a function object.")
    if not isinstance(fn.get("name"), str):
        raise bad("Missing required parameter: 'tool_choice.function.name'.")


# ------------------------------------------------------------------------------ messages


# What every signature this fake issues starts with (FakeOpenCode._mint_signature).
SIGNATURE_PREFIX = "fake-sig-"


def check_messages(
    body: JSON, model: str, bad: Bad, signatures: Mapping[str, str] | None = None
) -> None:
    """Anthropic Messages rules. `signatures` (minted signature -> thinking text) turns on
    Anthropic's thinking-signature check (real Claude models only)."""
    if "max_tokens" not in body:
        raise bad("max_tokens: Field required")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise bad("max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        raise bad("max_tokens: Input should be greater than or equal to 1")
    if "messages" not in body:
        raise bad("messages: Field required")
    msgs = body["messages"]
    if not isinstance(msgs, list):
        raise bad("messages: Input should be a valid list")
    if not msgs:
        raise bad("messages: List should have at least 1 item after validation, not 0")
    _check_system(body.get("system"), bad)

    seen_tool_ids: set[str] = set()
    pending: list[str] = []  # tool_use ids of the previous assistant message
    pending_at = -1
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise bad(f"messages.{i}: Input should be a valid dictionary")
        role = m.get("role")
        if role == "system":
            raise bad(
                'messages: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            raise bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        blocks = _blocks_of(m, i, last=i == len(msgs) - 1, bad=bad)
        for j, block in enumerate(blocks):
            _check_block(block, role, f"messages.{i}.content.{j}", bad, signatures)
        # tool pairing: tool_result blocks must open the very next user message
        leading: list[str] = []
        for block in blocks:
            if block.get("type") != "tool_result":
                break
            leading.append(block["tool_use_id"])
        results = [(j, b) for j, b in enumerate(blocks) if b.get("type") == "tool_result"]
        for j, block in results:
            if block["tool_use_id"] not in pending:
                raise _unexpected_tool_result(i, j, block["tool_use_id"], bad)
        missing = [tid for tid in pending if tid not in leading]
        if missing:
            raise _missing_tool_results(pending_at, missing, bad)
        for j, block in results[len(leading) :]:  # a result after text, or answered twice
            raise _unexpected_tool_result(i, j, block["tool_use_id"], bad)
        if len(set(leading)) != len(leading):
            raise bad(f"messages.{i}: each `tool_use_id` may only be answered once")
        pending = []
        if role == "assistant":
            for j, block in enumerate(blocks):
                if block.get("type") != "tool_use":
                    continue
                if block["id"] in seen_tool_ids:
                    raise bad(f"messages.{i}.content.{j}: `tool_use` ids must be unique")
                seen_tool_ids.add(block["id"])
                pending.append(block["id"])
            pending_at = i
    if pending:
        raise _missing_tool_results(pending_at, pending, bad)
    _check_anthropic_tools(body, model, bad)


def _unexpected_tool_result(i: int, j: int, tid: str, bad: Bad) -> Reject:
    return bad(
        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
        f"{tid}. Each `tool_result` block must have a corresponding `tool_use` block in the "
        "previous message."
    )


def _missing_tool_results(at: int, ids: list[str], bad: Bad) -> Reject:
    return bad(
        f"messages.{at}: `tool_use` ids were found without `tool_result` blocks immediately "
        f"after: {', '.join(ids)}. Each `tool_use` block must have a corresponding "
        "`tool_result` block in the next message."
    )


def _check_system(system: Any, bad: Bad) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise bad("system: Input should be a valid string or list")
    for k, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise bad(f"system.{k}.type: Input should be 'text'")
        if not isinstance(block.get("text"), str) or not block["text"].strip():
            raise bad("system: text content blocks must be non-empty")


def _blocks_of(m: JSON, i: int, last: bool, bad: Bad) -> list[JSON]:
    if "content" not in m:
        raise bad(f"messages.{i}.content: Field required")
    content = m["content"]
    final_assistant = last and m["role"] == "assistant"
    if isinstance(content, str):
        if not content and not final_assistant:
            raise bad(
                "messages: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise bad(f"messages.{i}.content: Input should be a valid list")
    if not content and not final_assistant:
        raise bad(
            "messages: all messages must have non-empty content except for the "
            "optional final assistant message"
        )
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            raise bad(f"messages.{i}.content.{j}: Input should be a valid dictionary")
    return content


def _check_block(
    block: JSON, role: str, where: str, bad: Bad, signatures: Mapping[str, str] | None
) -> None:
    btype = block.get("type")
    allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
    if btype not in allowed:
        raise bad(
            f"{where}: Input tag '{btype}' found using 'type' does not match any of the "
            f"expected tags: {', '.join(repr(a) for a in allowed)}"
        )
    if btype == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise bad(f"{where}.text: Field required")
        if not text.strip():
            raise bad("messages: text content blocks must be non-empty")
    elif btype == "tool_use":
        tid = block.get("id")
        if not isinstance(tid, str):
            raise bad(f"{where}.tool_use.id: Field required")
        if not TOOL_ID_RE.match(tid):
            raise bad(f"{where}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
        if not isinstance(block.get("name"), str):
            raise bad(f"{where}.tool_use.name: Field required")
        if not isinstance(block.get("input"), dict):
            raise bad(f"{where}.tool_use.input: Input should be a valid dictionary")
    elif btype == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise bad(f"{where}.tool_result.tool_use_id: Field required")
        content = block.get("content")
        if isinstance(content, list):
            for k, inner in enumerate(content):
                itype = inner.get("type") if isinstance(inner, dict) else None
                if itype not in ("text", "image", "document", "search_result"):
                    raise bad(f"{where}.tool_result.content.{k}: Input tag '{itype}' is not valid")
                if itype == "text" and not str(inner.get("text", "")).strip():
                    raise bad("messages: text content blocks must be non-empty")
        elif content is not None and not isinstance(content, str):
            raise bad(f"{where}.tool_result.content: Input should be a valid string or list")
    elif btype == "thinking":
        if not isinstance(block.get("thinking"), str):
            raise bad(f"{where}.thinking.thinking: Field required")
        sig = block.get("signature")
        if sig is not None and not isinstance(sig, str):
            raise bad(f"{where}.thinking.signature: Input should be a valid string")
        if signatures is not None:
            if not isinstance(sig, str) or signatures.get(sig) != block["thinking"]:
                raise bad(f"{where}: Invalid `signature` in `thinking` block")
        elif not (isinstance(sig, str) and sig.startswith(SIGNATURE_PREFIX)):
            # MiniMax and Qwen on /messages validate signatures too: one this server did not
            # issue (another model's, a gateway's own, none) is refused like Anthropic does.
            raise bad(f"{where}: Invalid `signature` in `thinking` block")
    elif btype == "image":
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") not in ("base64", "url", "file"):
            raise bad(f"{where}.image.source: Input should be a valid dictionary")


def _check_anthropic_tools(body: JSON, model: str, bad: Bad) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("tools: Input should be a valid list")
        for k, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise bad(f"tools.{k}: Input should be a valid dictionary")
            ttype = tool.get("type")
            if ttype not in (None, "custom"):
                if model.startswith("claude-"):
                    continue  # Anthropic server tools (web_search_..., bash_...)
                raise bad(
                    f"tools.{k}: Input tag '{ttype}' found using 'type' does not match any of "
                    "the expected tags: 'custom'"
                )
            name = tool.get("name")
            if not isinstance(name, str):
                raise bad(f"tools.{k}.custom.name: Field required")
            if not ANTHROPIC_TOOL_NAME_RE.match(name):
                raise bad(
                    f"tools.{k}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
                )
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise bad(f"tools.{k}.custom.input_schema: Field required")
            if schema.get("type") != "object":
                raise bad(f"tools.{k}.custom.input_schema.type: Input should be 'object'")
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict):
            raise bad(
                "tool_choice: Input should be a valid dictionary or object to extract fields from"
            )
        if choice.get("type") not in ANTHROPIC_TOOL_CHOICES:
            raise bad(
                f"tool_choice: Input tag '{choice.get('type')}' found using 'type' does not match "
                "any of the expected tags: 'auto', 'any', 'tool', 'none'"
            )
        if choice["type"] == "tool" and not isinstance(choice.get("name"), str):
            raise bad("tool_choice.tool.name: Field required")


# ------------------------------------------------------------------------- default echo


def echo_text(route: str, body: JSON) -> str:
    """Default reply: echo the last user text, or "tool said: ..." on a tool-result turn."""
    if route == "chat":
        msgs = body["messages"]
        tail: list[str] = []
        for m in reversed(msgs):
            if m.get("role") != "tool":
                break
            tail.insert(0, _text_of(m.get("content")))
        if tail:
            return "tool said: " + "\n".join(tail)
        for m in reversed(msgs):
            if m.get("role") == "user":
                return "echo: " + _text_of(m.get("content"))
        return "echo: "
    if route == "messages":
        for m in reversed(body["messages"]):
            if m.get("role") != "user":
                continue
            content = m.get("content")
            blocks = content if isinstance(content, list) else []
            results = [b for b in blocks if b.get("type") == "tool_result"]
            if results:
                return "tool said: " + "\n".join(_text_of(b.get("content")) for b in results)
            return "echo: " + _text_of(content)
        return "echo: "
    inp = body["input"]
    if isinstance(inp, str):
        return "echo: " + inp
    if inp and inp[-1].get("type") in ("function_call_output", "custom_tool_call_output"):
        out = inp[-1].get("output")
        return "tool said: " + (out if isinstance(out, str) else _responses_text(out))
    for item in reversed(inp):
        if item.get("role") == "user":
            return "echo: " + _responses_text(item.get("content"))
    return "echo: "


def _responses_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type") in ("input_text", "output_text", "text")
        )
    return ""
