"""Responses bodies: an upstream `response` object -> ir.Response, ir.Response -> the client's.

The item builders here are shared with the stream encoder, so a streamed response and a
non-streamed one carry items of exactly the same shape.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects import Capabilities
from crossway.dialects.openai_responses.wire import (
    client_call_id,
    decode_usage,
    effort_out,
    encode_usage,
    new_item_id,
    new_response_id,
    status_out,
    stop_reason_in,
    unwrap_input,
    wrap_input,
)
from crossway.errors import UpstreamError

_ENCRYPTED = "reasoning.encrypted_content"


# ---------------------------------------------------------------- upstream body -> ir


def decode_response(body: dict[str, Any], caps: Capabilities | None = None) -> ir.Response:
    """A finished upstream Responses body -> ir.Response."""
    if not isinstance(body, dict):
        raise UpstreamError("upstream response is not a JSON object")
    status = body.get("status")
    err = body.get("error")
    if status == "failed" or (isinstance(err, dict) and status is None):
        message = err.get("message") if isinstance(err, dict) else None
        raise UpstreamError(f"upstream response failed: {message or orjson.dumps(err).decode()}")
    if status in ("in_progress", "queued"):
        raise UpstreamError(f"upstream response is not finished (status {status!r})")
    output = body.get("output")
    if not isinstance(output, list):
        raise UpstreamError("upstream response has no output list")
    content: list[ir.Thinking | ir.RedactedThinking | ir.Text | ir.ToolCall] = []
    for item in output:
        if not isinstance(item, dict):
            raise UpstreamError("upstream response has an output item that is not an object")
        content.extend(decode_item(item))
    has_calls = any(isinstance(p, ir.ToolCall) for p in content)
    rid, model = body.get("id"), body.get("model")
    if caps is not None:
        # Encrypted reasoning is valid for the model that issued it only: it travels wrapped
        # with its issuer (crossway.signatures). Without caps (codec tests) it stays raw.
        issuer = model if isinstance(model, str) else ""
        for part in content:
            if isinstance(part, ir.Thinking) and part.encrypted_content:
                part.encrypted_content = signatures.carry("encrypted", part.encrypted_content,
                                                          issuer)
    return ir.Response(
        id=rid if isinstance(rid, str) else "",
        model=model if isinstance(model, str) else "",
        content=content,
        stop_reason=stop_reason_in(status, body.get("incomplete_details"), has_calls),
        usage=decode_usage(body.get("usage")),
    )


def reasoning_text(item: dict[str, Any]) -> str:
    """The text of a reasoning item: its raw reasoning if given, else its summary."""
    for key in ("content", "summary"):
        parts = item.get(key)
        if isinstance(parts, list):
            texts = [p["text"] for p in parts
                     if isinstance(p, dict) and isinstance(p.get("text"), str) and p["text"]]
            if texts:
                return "\n\n".join(texts)
    return ""


def message_text(item: dict[str, Any]) -> str:
    parts = item.get("content")
    if not isinstance(parts, list):
        return ""
    out: list[str] = []
    for p in parts:
        if isinstance(p, dict):
            text = p.get("text") if p.get("type") != "refusal" else p.get("refusal")
            if isinstance(text, str):
                out.append(text)
    return "".join(out)


def decode_item(item: dict[str, Any]) -> list[ir.Thinking | ir.Text | ir.ToolCall]:
    """One output item in ir parts; built-in tool items (web search, ...) have none."""
    itype = item.get("type")
    if itype == "message":
        text = message_text(item)
        return [ir.Text(text)] if text.strip() else []
    if itype == "reasoning":
        encrypted = item.get("encrypted_content")
        text = reasoning_text(item)
        if not text and not (isinstance(encrypted, str) and encrypted):
            return []
        return [ir.Thinking(text, encrypted_content=encrypted if isinstance(encrypted, str)
                            and encrypted else None)]
    if itype in ("function_call", "custom_tool_call"):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise UpstreamError(f"upstream {itype} item has no name")
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            call_id = item.get("id") if isinstance(item.get("id"), str) else new_item_id("call")
        if itype == "custom_tool_call":
            given = item.get("input")
            return [ir.ToolCall(str(call_id), name, wrap_input(given if isinstance(given, str)
                                                               else ""), custom=True)]
        args = item.get("arguments")
        if not isinstance(args, str):
            args = "" if args is None else orjson.dumps(args).decode()
        return [ir.ToolCall(str(call_id), name, args)]
    return []


# ---------------------------------------------------------------- item builders (client side)


def wants_encrypted(request: ir.Request | None) -> bool:
    """Whether the client asked for reasoning state (`include`); Codex always does."""
    if request is None:
        return True
    include = request.responses_extra.get("include")
    return isinstance(include, list) and _ENCRYPTED in include


def custom_names(request: ir.Request | None) -> frozenset[str]:
    if request is None:
        return frozenset()
    return frozenset(t.name for t in request.tools if t.kind == "custom")


def client_token(part: ir.Thinking) -> str | None:
    """What a Responses client keeps in `encrypted_content` for this reasoning: a Responses
    upstream's state, or another upstream's signature carried by crossway (a real Claude
    signature or one crossway minted could not be replayed anywhere; the block is dropped)."""
    if part.encrypted_content:
        return part.encrypted_content
    return part.signature if signatures.kind_of(part.signature) == "signature" else None


def reasoning_item(item_id: str, text: str, encrypted: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "reasoning", "id": item_id,
                            "summary": [{"type": "summary_text", "text": text}] if text else []}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if text or \
        status == "completed" else []
    return {"type": "message", "id": item_id, "status": status, "role": "assistant",
            "content": content}


def call_item(item_id: str, call_id: str, name: str, value: str, *, custom: bool,
              status: str = "completed") -> dict[str, Any]:
    if custom:
        return {"type": "custom_tool_call", "id": item_id, "call_id": call_id, "name": name,
                "input": value, "status": status}
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
            "arguments": value, "status": status}


def snapshot(
    response_id: str,
    model: str,
    created_at: int,
    request: ir.Request | None,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: ir.Usage | None = None,
    incomplete: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `response` object, echoing the request's settings when it is known."""
    out: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete,
        "model": model,
        "output": output,
        "usage": encode_usage(usage) if usage is not None else None,
    }
    if status == "completed":
        out["completed_at"] = int(time.time())
    out.update(_request_echo(request))
    return out


def _request_echo(req: ir.Request | None) -> dict[str, Any]:
    if req is None:
        return {"parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                "instructions": None, "metadata": {}, "previous_response_id": None}
    choice: str | dict[str, Any] = "auto"
    if req.tool_choice is not None:
        kinds = {t.name: t.kind for t in req.tools}
        tc = req.tool_choice
        choice = ({"type": kinds.get(tc.name or "", "function"), "name": tc.name}
                  if tc.type == "tool" else
                  {"auto": "auto", "none": "none"}.get(tc.type, "required"))
    instructions = "\n\n".join(t.text for t in req.system) or None
    reasoning = None
    if req.thinking is not None:
        reasoning = {"effort": effort_out(req.thinking.effort), "summary": req.thinking.summary}
    metadata = req.responses_extra.get("metadata", req.openai_extra.get("metadata"))
    return {
        "instructions": instructions,
        "max_output_tokens": req.max_tokens,
        "metadata": metadata if isinstance(metadata, dict) else {},
        "parallel_tool_calls": req.parallel_tool_calls is not False,
        "previous_response_id": req.previous_response_id,
        "reasoning": reasoning,
        "store": req.responses_extra.get("store", req.openai_extra.get("store")) is not False,
        "temperature": req.temperature,
        "text": {"format": _format_echo(req.response_format)},
        "tool_choice": choice,
        "tools": [_tool_echo(t) for t in req.tools],
        "top_p": req.top_p,
        "truncation": req.responses_extra.get("truncation", "disabled"),
        "user": req.user,
    }


def _format_echo(rf: dict[str, Any] | None) -> dict[str, Any]:
    if rf is None:
        return {"type": "text"}
    spec = rf.get("json_schema")
    if rf.get("type") == "json_schema" and isinstance(spec, dict):
        return {"type": "json_schema", **spec}
    return {"type": str(rf.get("type", "text"))}


def _tool_echo(tool: ir.Tool) -> dict[str, Any]:
    if tool.kind == "custom":
        echo: dict[str, Any] = {"type": "custom", "name": tool.name,
                                "description": tool.description}
        if tool.custom_format is not None:
            echo["format"] = tool.custom_format
        return echo
    return {"type": "function", "name": tool.name, "description": tool.description,
            "parameters": tool.parameters, "strict": bool(tool.strict)}


# ---------------------------------------------------------------- ir -> client body


def encode_response(
    resp: ir.Response, model: str, *, request: ir.Request | None = None
) -> dict[str, Any]:
    """ir.Response -> the client's `response` object; `model` is what the client asked for.

    `request` (the decoded client request) lets the answer echo its settings, word calls of
    custom tools as custom_tool_call items and include encrypted reasoning only when asked.
    """
    rid = resp.id if resp.id.startswith("resp_") else new_response_id()
    custom = custom_names(request)
    encrypted_ok = wants_encrypted(request)
    output: list[dict[str, Any]] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            output.append(message_item(new_item_id("msg"), "".join(text)))
            text.clear()

    for part in resp.content:
        if isinstance(part, ir.Text):
            text.append(part.text)
        elif isinstance(part, ir.Thinking):
            flush()
            encrypted = client_token(part) if encrypted_ok else None
            if part.text or encrypted:
                output.append(reasoning_item(new_item_id("rs"), part.text, encrypted))
        elif isinstance(part, ir.ToolCall):
            flush()
            is_custom = part.custom or part.name in custom
            value = unwrap_input(part.arguments) if is_custom else (part.arguments or "{}")
            output.append(call_item(new_item_id("ctc" if is_custom else "fc"),
                                    client_call_id(part.id, rid), part.name, value,
                                    custom=is_custom))
        # RedactedThinking is Anthropic's state; a Responses client has nowhere to keep it.
    flush()
    status, incomplete = status_out(resp.stop_reason)
    return snapshot(rid, model, int(time.time()), request, status=status, output=output,
                    usage=resp.usage, incomplete=incomplete)
