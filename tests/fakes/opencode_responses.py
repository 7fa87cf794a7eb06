"""The `/responses` route of the fake OpenCode upstream: OpenAI Responses rules and wire.

Go serves grok-4.5, gpt-5.6-luna and muse-spark-* only here, Zen its GPT models (spec A4).
The rules are the ones OpenAI's Responses API enforces on a stateless (`store: false`)
request, worded as it words them (spec B9; error texts from real 400s quoted in issue
threads): unknown parameters, item shapes, every tool output paired with its call and
every call answered, reasoning items followed by their output, encrypted reasoning only if
this server minted it, strict function schemas, max_output_tokens >= 16.

Independent of crossway on purpose, like the rest of the fake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tests.fakes.opencode_rules import Bad
from tests.fakes.opencode_wire import (
    ERROR_FRAME_MESSAGE,
    FAKE_COST,
    StreamPlan,
    Turn,
    _event,
    hex_id,
    split_args,
    split_text,
)

JSON = dict[str, Any]

KNOWN_PARAMS = frozenset((
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
    "max_output_tokens", "max_tool_calls", "temperature", "top_p", "top_logprobs", "stream",
    "stream_options", "store", "include", "metadata", "previous_response_id", "reasoning",
    "text", "truncation", "user", "safety_identifier", "prompt_cache_key",
    "prompt_cache_retention", "service_tier", "background", "conversation", "prompt",
))
INCLUDABLE = frozenset((
    "reasoning.encrypted_content", "message.output_text.logprobs", "file_search_call.results",
    "web_search_call.results", "web_search_call.action.sources", "message.input_image.image_url",
    "computer_call_output.output.image_url", "code_interpreter_call.outputs",
))
BUILTIN_TOOLS = frozenset((
    "web_search", "web_search_preview", "file_search", "computer_use_preview",
    "code_interpreter", "image_generation", "local_shell", "shell", "apply_patch", "mcp",
))
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
INPUT_PARTS = ("input_text", "input_image", "input_file")
OUTPUT_PARTS = ("output_text", "refusal")
FOLLOWERS = ("function_call", "custom_tool_call", "reasoning")  # + assistant messages
ENCRYPTED_PREFIX = "gAAAAB-fake-"


# ----------------------------------------------------------------------------- rules


def check_responses(body: JSON, bad: Bad, minted: Mapping[str, str]) -> None:
    """`minted`: encrypted_content values this server issued -> their reasoning text."""
    for key in body:
        if key not in KNOWN_PARAMS:
            raise bad(f"Unknown parameter: '{key}'.")
    if body.get("previous_response_id") is not None:
        raise bad(f"Previous response with id '{body['previous_response_id']}' not found.")
    if "input" not in body:
        raise bad("Missing required parameter: 'input'.")
    inp = body["input"]
    if isinstance(inp, list):
        _check_items(inp, bad, minted)
    elif not isinstance(inp, str):
        raise bad("Invalid type for 'input': expected a string or an array.")
    _check_options(body, bad)
    _check_tools(body, bad)


def _check_items(items: list[Any], bad: Bad, minted: Mapping[str, str]) -> None:
    calls: dict[str, str] = {}  # call_id -> "function_call" | "custom_tool_call"
    answered: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad(f"Invalid type for 'input[{i}]': expected an object.")
        itype = item.get("type", "message" if "role" in item else None)
        if itype == "message":
            _check_message(item, i, bad)
        elif itype in ("function_call", "custom_tool_call"):
            key = "arguments" if itype == "function_call" else "input"
            for field in ("call_id", "name"):
                if not isinstance(item.get(field), str) or not item[field]:
                    raise bad(f"Missing required parameter: 'input[{i}].{field}'.")
            if not isinstance(item.get(key), str):
                raise bad(f"Invalid type for 'input[{i}].{key}': expected a string.")
            calls[item["call_id"]] = itype
        elif itype in ("function_call_output", "custom_tool_call_output"):
            _check_output(item, itype, calls, i, bad)
            answered.add(item["call_id"])
        elif itype == "reasoning":
            _check_reasoning(item, i, bad, minted)
            _check_follower(items, i, bad)
        elif itype == "item_reference":
            raise bad(f"Item with id '{item.get('id')}' not found.")
        else:
            raise bad(f"Invalid value: '{itype}'. (param: input[{i}].type)")
    for call_id, kind in calls.items():
        if call_id not in answered:
            what = "function call" if kind == "function_call" else "custom tool call"
            raise bad(f"No tool output found for {what} {call_id}.")


def _check_message(item: JSON, i: int, bad: Bad) -> None:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise bad(
            f"Invalid value: '{role}'. Supported values are: 'assistant', 'system', "
            f"'developer', and 'user'. (param: input[{i}].role)"
        )
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise bad(f"Invalid type for 'input[{i}].content': expected a string or an array.")
    allowed = OUTPUT_PARTS if role == "assistant" else INPUT_PARTS
    for j, part in enumerate(content):
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype not in allowed:
            raise bad(
                f"Invalid value: '{ptype}'. Supported values are: "
                + ", ".join(f"'{a}'" for a in allowed)
                + f". (param: input[{i}].content[{j}].type)"
            )
        assert isinstance(part, dict)
        key = "refusal" if ptype == "refusal" else "text"
        if ptype in ("input_text", "output_text", "refusal") and not isinstance(
            part.get(key), str
        ):
            raise bad(f"Missing required parameter: 'input[{i}].content[{j}].{key}'.")
        if ptype == "input_image" and not isinstance(
            part.get("image_url") or part.get("file_id"), str
        ):
            raise bad(f"Missing required parameter: 'input[{i}].content[{j}].image_url'.")


def _check_output(item: JSON, itype: str, calls: Mapping[str, str], i: int, bad: Bad) -> None:
    call_id = item.get("call_id")
    wanted = "function_call" if itype == "function_call_output" else "custom_tool_call"
    if not isinstance(call_id, str) or calls.get(call_id) != wanted:
        what = "function call" if wanted == "function_call" else "custom tool call"
        raise bad(f"No tool call found for {what} output with call_id {call_id}.")
    output = item.get("output")
    if not isinstance(output, str | list):
        raise bad(f"Invalid type for 'input[{i}].output': expected a string or an array.")


def _check_reasoning(item: JSON, i: int, bad: Bad, minted: Mapping[str, str]) -> None:
    summary = item.get("summary")
    if not isinstance(summary, list):
        raise bad(f"Missing required parameter: 'input[{i}].summary'.")
    for j, part in enumerate(summary):
        if not isinstance(part, dict) or part.get("type") != "summary_text" or not isinstance(
            part.get("text"), str
        ):
            raise bad(f"Invalid value for 'input[{i}].summary[{j}]': expected a summary_text.")
    encrypted = item.get("encrypted_content")
    if encrypted is None:
        if item.get("id") is not None:
            raise bad(
                f"Item with id '{item['id']}' not found. Items are not persisted when `store` "
                "is set to false. Try again with `store` set to true, or remove this item "
                "from your input."
            )
        raise bad(f"Missing required parameter: 'input[{i}].id'.")
    if not isinstance(encrypted, str) or encrypted not in minted:
        shown = str(encrypted)[:24]
        raise bad(f"The encrypted content {shown}... could not be verified.")


def _check_follower(items: list[Any], i: int, bad: Bad) -> None:
    nxt = items[i + 1] if i + 1 < len(items) else None
    ntype = nxt.get("type", "message" if "role" in nxt else None) if isinstance(nxt, dict) \
        else None
    ok = ntype in FOLLOWERS or (ntype == "message" and isinstance(nxt, dict)
                                and nxt.get("role") == "assistant")
    if not ok:
        rid = items[i].get("id") or f"input[{i}]"
        raise bad(f"Item '{rid}' of type 'reasoning' was provided without its required "
                  "following item.")


def _check_options(body: JSON, bad: Bad) -> None:
    limit = body.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 16):
        raise bad(
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, "
            f"but got {limit} instead."
        )
    for key in ("stream", "store", "parallel_tool_calls"):
        if key in body and not isinstance(body[key], bool):
            raise bad(f"Invalid type for '{key}': expected a boolean.")
    include = body.get("include")
    if include is not None:
        if not isinstance(include, list):
            raise bad("Invalid type for 'include': expected an array.")
        for value in include:
            if value not in INCLUDABLE:
                raise bad(f"Invalid value: '{value}'. (param: include)")
    reasoning = body.get("reasoning")
    if reasoning is not None:
        effort = reasoning.get("effort") if isinstance(reasoning, dict) else "?"
        if effort is not None and effort not in EFFORTS:
            raise bad(f"Invalid value: '{effort}'. Supported values are: "
                      + ", ".join(f"'{e}'" for e in EFFORTS) + ". (param: reasoning.effort)")
    fmt = body.get("text", {}).get("format") if isinstance(body.get("text"), dict) else None
    if fmt is not None:
        ftype = fmt.get("type") if isinstance(fmt, dict) else None
        if ftype not in ("text", "json_object", "json_schema"):
            raise bad(f"Invalid value: '{ftype}'. (param: text.format.type)")
        if ftype == "json_schema" and not (isinstance(fmt.get("name"), str)
                                           and isinstance(fmt.get("schema"), dict)):
            raise bad("Missing required parameter: 'text.format.name'.")


def _check_tools(body: JSON, bad: Bad) -> None:
    tools = body.get("tools")
    kinds: dict[str, str] = {}
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("Invalid type for 'tools': expected an array.")
        for k, tool in enumerate(tools):
            ttype = tool.get("type") if isinstance(tool, dict) else None
            if ttype in BUILTIN_TOOLS:
                continue
            if ttype not in ("function", "custom"):
                raise bad(f"Invalid value: '{ttype}'. (param: tools[{k}].type)")
            assert isinstance(tool, dict)
            name = tool.get("name")
            if not isinstance(name, str):
                raise bad(f"Missing required parameter: 'tools[{k}].name'.")
            if not FUNCTION_NAME_RE.match(name):
                raise bad(f"Invalid 'tools[{k}].name': string does not match pattern. Expected "
                          "a string that matches the pattern '^[a-zA-Z0-9_-]+$'.")
            kinds[name] = ttype
            if ttype == "function":
                _check_function_tool(tool, k, bad)
            else:
                _check_custom_tool(tool, k, bad)
    choice = body.get("tool_choice")
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise bad(f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and "
                      "'required'. (param: tool_choice)")
    elif isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        if kinds.get(str(choice.get("name"))) != choice["type"]:
            raise bad(f"Tool choice '{choice['type']}' with name '{choice.get('name')}' not "
                      "found in 'tools' parameter.")
    elif choice is not None:
        raise bad("Invalid value for 'tool_choice'.")


def _check_function_tool(tool: JSON, k: int, bad: Bad) -> None:
    params = tool.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise bad(f"Invalid type for 'tools[{k}].parameters': expected an object.")
    if tool.get("strict", True) is not False:  # Responses' default is strict
        problem = _strict_problem(params or {}, ())
        if problem:
            raise bad(f"Invalid schema for function '{tool['name']}': {problem}")


def _strict_problem(schema: Any, path: tuple[str, ...]) -> str | None:
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object":
        context = f"In context={path!r}, "
        if schema.get("additionalProperties") is not False:
            return context + "'additionalProperties' is required to be supplied and to be false."
        props = schema.get("properties") or {}
        required = schema.get("required") or []
        missing = [p for p in props if p not in required]
        if missing:
            return (context + "'required' is required to be supplied and to be an array "
                    f"including every key in properties. Missing '{missing[0]}'.")
        for name, sub in props.items():
            problem = _strict_problem(sub, (*path, "properties", name))
            if problem:
                return problem
    if isinstance(schema.get("items"), dict):
        return _strict_problem(schema["items"], (*path, "items"))
    return None


def _check_custom_tool(tool: JSON, k: int, bad: Bad) -> None:
    fmt = tool.get("format")
    if fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text"):
        return
    if not isinstance(fmt, dict) or fmt.get("type") != "grammar":
        raise bad(f"Invalid value for 'tools[{k}].format': expected a text or grammar format.")
    if fmt.get("syntax") not in ("lark", "regex") or not isinstance(fmt.get("definition"), str):
        raise bad(f"Invalid value for 'tools[{k}].format': a grammar needs syntax 'lark' or "
                  "'regex' and a definition.")


def custom_tool_names(body: JSON) -> set[str]:
    tools = body.get("tools")
    return {t["name"] for t in tools if isinstance(t, dict) and t.get("type") == "custom"
            and isinstance(t.get("name"), str)} if isinstance(tools, list) else set()


def wants_encrypted(body: JSON) -> bool:
    include = body.get("include")
    return isinstance(include, list) and "reasoning.encrypted_content" in include


def custom_input(arguments: str) -> str:
    """A scripted call of a custom tool: its arguments as given, or their `input` string."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return str(value["input"])
    return value if isinstance(value, str) else arguments


# ----------------------------------------------------------------------------- wire


def responses_items(turn: Turn) -> list[JSON]:
    items: list[JSON] = []
    if turn.reasoning:
        summary = [{"type": "summary_text", "text": turn.reasoning}]
        item: JSON = {"type": "reasoning", "id": "rs_" + hex_id(), "summary": summary}
        if turn.encrypted:
            item["encrypted_content"] = turn.encrypted
        items.append(item)
    if turn.text:
        part = {"type": "output_text", "text": turn.text, "annotations": []}
        items.append({"type": "message", "id": "msg_" + hex_id(), "status": "completed",
                      "role": "assistant", "content": [part]})
    for t in turn.tools:
        if t.custom:
            items.append({"type": "custom_tool_call", "id": "ctc_" + hex_id(), "call_id": t.id,
                          "name": t.name, "input": t.arguments, "status": "completed"})
        else:
            items.append({"type": "function_call", "id": "fc_" + hex_id(), "call_id": t.id,
                          "name": t.name, "arguments": t.arguments, "status": "completed"})
    return items


def responses_object(turn: Turn, output: list[JSON] | None = None, final: bool = True) -> JSON:
    incomplete = turn.finish == "length"
    status = ("incomplete" if incomplete else "completed") if final else "in_progress"
    obj: JSON = {
        "id": turn.id, "object": "response", "created_at": turn.created, "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if final and incomplete else None,
        "model": turn.model, "output": responses_items(turn) if output is None else output,
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "usage": None,
    }
    if final:
        obj["usage"] = {
            "input_tokens": turn.prompt_total,
            "input_tokens_details": {"cached_tokens": turn.cached,
                                     "cache_write_tokens": turn.creation},
            "output_tokens": turn.completion,
            "output_tokens_details": {"reasoning_tokens": max(0, len(turn.reasoning) // 4)},
            "total_tokens": turn.prompt_total + turn.completion,
        }
    return obj


def responses_stream(turn: Turn) -> StreamPlan:
    frames: list[bytes] = []
    seq = 0
    cut = 0

    def emit(kind: str, body: JSON, content: bool = False) -> None:
        nonlocal seq, cut
        frames.append(_event(kind, {"type": kind, **body, "sequence_number": seq}))
        seq += 1
        if content and not cut:
            cut = len(frames)

    pending = responses_object(turn, [], final=False)
    emit("response.created", {"response": pending})
    emit("response.in_progress", {"response": pending})
    items = responses_items(turn)
    for out_idx, item in enumerate(items):
        _stream_item(turn, item, out_idx, emit)
        emit("response.output_item.done", {"output_index": out_idx, "item": item})
    cut = cut or len(frames)
    terminal = "response.incomplete" if turn.finish == "length" else "response.completed"
    emit(terminal, {"response": responses_object(turn, items)})
    frames.append(_event("ping", {"type": "ping", "cost": FAKE_COST}))  # Zen's cost frame (A8)
    error = {"type": "error", "code": "server_error", "message": ERROR_FRAME_MESSAGE, "param": None}
    return StreamPlan(frames, cut, _event("error", {**error, "sequence_number": seq}))


def _stream_item(turn: Turn, item: JSON, out_idx: int, emit: Any) -> None:
    where = {"item_id": item["id"], "output_index": out_idx}
    kind = item["type"]
    if kind == "reasoning":
        added = {k: v for k, v in item.items() if k != "encrypted_content"}
        emit("response.output_item.added", {"output_index": out_idx, "item": {**added,
                                                                             "summary": []}})
        empty = {"type": "summary_text", "text": ""}
        emit("response.reasoning_summary_part.added", {**where, "summary_index": 0, "part": empty})
        for p in split_text(turn.reasoning, turn.chunks):
            emit("response.reasoning_summary_text.delta", {**where, "summary_index": 0, "delta": p},
                 content=True)
        done = {**where, "summary_index": 0}
        emit("response.reasoning_summary_text.done", {**done, "text": turn.reasoning})
        emit("response.reasoning_summary_part.done", {**done, "part": item["summary"][0]})
    elif kind == "message":
        pending = {**item, "status": "in_progress", "content": []}
        emit("response.output_item.added", {"output_index": out_idx, "item": pending})
        part = {"type": "output_text", "text": "", "annotations": []}
        emit("response.content_part.added", {**where, "content_index": 0, "part": part})
        for p in split_text(turn.text, turn.chunks):
            emit("response.output_text.delta",
                 {**where, "content_index": 0, "delta": p, "logprobs": []}, content=True)
        emit("response.output_text.done",
             {**where, "content_index": 0, "text": turn.text, "logprobs": []})
        emit("response.content_part.done", {**where, "content_index": 0,
                                            "part": item["content"][0]})
    else:
        key, event = (("arguments", "function_call_arguments") if kind == "function_call"
                      else ("input", "custom_tool_call_input"))
        pending = {**item, key: "", "status": "in_progress"}
        emit("response.output_item.added", {"output_index": out_idx, "item": pending})
        for frag in split_args(item[key], turn.chunks):
            emit(f"response.{event}.delta", {**where, "delta": frag}, content=True)
        emit(f"response.{event}.done", {**where, key: item[key]})
