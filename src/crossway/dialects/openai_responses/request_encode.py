"""ir.Request -> the body for a Responses upstream (OpenCode Go's grok / gpt / muse, Zen's GPT).

Requests are stateless: `store: false`, the whole history in `input`, no item ids (a stored
id the upstream does not have is a 404, spec B9), and reasoning state travels as
`encrypted_content`, which is asked for with `include`. Reasoning without encrypted content
is dropped: the upstream would need state it cannot have, and crossway never forges it.
"""

from __future__ import annotations

from typing import Any

from crossway import ir, signatures
from crossway.dialects import Capabilities
from crossway.dialects.openai_responses.wire import effort_out, unwrap_input

_ENCRYPTED = "reasoning.encrypted_content"
# OpenAI rejects max_output_tokens below 16; Codex probes with 1.
_MIN_OUTPUT_TOKENS = 16
# Anthropic budget_tokens (no effort given) -> the nearest effort.
_BUDGET_STEPS = ((2048, "low"), (8192, "medium"))
# OpenAI limits `user` / `safety_identifier` to 64 characters; Claude Code's user ids are longer.
_MAX_USER = 64
# openai_extra keys a Responses upstream understands as they are.
_PASS_EXTRA = ("prompt_cache_key", "service_tier", "metadata")


def encode_request(req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
    """The body for a Responses upstream serving `model`."""
    custom = {t.name for t in req.tools if t.kind == "custom"}
    body: dict[str, Any] = {"model": model}
    instructions = "\n\n".join(t.text for t in req.system if t.text.strip())
    if instructions:
        body["instructions"] = instructions
    body["input"] = encode_input(req.messages, custom, model)
    if req.max_tokens is not None:
        body["max_output_tokens"] = max(_clamp(req.max_tokens, caps), _MIN_OUTPUT_TOKENS)
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    # Responses has no stop sequences and no top_k: those wishes cannot be passed on.
    if req.tools:
        body["tools"] = [_encode_tool(t) for t in req.tools]
        if req.tool_choice is not None:
            body["tool_choice"] = _encode_tool_choice(req.tool_choice, custom)
        if req.parallel_tool_calls is not None and caps.parallel_tool_calls:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    reasoning = _encode_reasoning(req.thinking) if caps.reasoning_effort else None
    if reasoning:
        body["reasoning"] = reasoning
    text = _encode_text(req)
    if text:
        body["text"] = text
    _encode_extra(req, body)
    if req.stream:
        body["stream"] = True
    return body


def _clamp(requested: int, caps: Capabilities) -> int:
    limit = caps.max_output_tokens
    return requested if limit is None else min(requested, limit)


def encode_input(messages: list[ir.Message], custom: set[str],
                 model: str = "") -> list[dict[str, Any]]:
    """ir turns -> Responses input items, in conversation order, for upstream `model`."""
    items: list[dict[str, Any]] = []
    custom_calls: set[str] = set()  # call ids of custom tool calls, to word their outputs
    for m in messages:
        if m.role == "assistant":
            _encode_assistant(m.content, custom, custom_calls, items, model)
        elif m.role == "user":
            _encode_user(m.content, custom_calls, items)
        else:
            texts = [{"type": "input_text", "text": p.text}
                     for p in m.content if isinstance(p, ir.Text) and p.text]
            if texts:
                items.append({"type": "message", "role": "developer", "content": texts})
    return items


def _encode_assistant(
    content: list[ir.Part], custom: set[str], custom_calls: set[str], items: list[dict[str, Any]],
    model: str,
) -> None:
    text: list[str] = []
    start = len(items)

    def flush() -> None:
        if text:
            part = {"type": "output_text", "text": "".join(text), "annotations": []}
            items.append({"type": "message", "role": "assistant", "content": [part]})
            text.clear()

    for p in content:
        if isinstance(p, ir.Text):
            if p.text:
                text.append(p.text)
            continue
        if isinstance(p, ir.Thinking):
            encrypted = replayable(p.encrypted_content, model)
            if encrypted:
                flush()
                items.append(_reasoning_item(p.text, encrypted))
            continue
        if not isinstance(p, ir.ToolCall):
            continue  # redacted thinking is Anthropic's own state
        flush()
        if p.custom or p.name in custom:
            custom_calls.add(p.id)
            items.append({"type": "custom_tool_call", "call_id": p.id, "name": p.name,
                          "input": unwrap_input(p.arguments)})
        else:
            items.append({"type": "function_call", "call_id": p.id, "name": p.name,
                          "arguments": p.arguments or "{}"})
    flush()
    # A reasoning item must be followed by the output it led to; OpenAI rejects one without
    # ("... was provided without its required following item").
    while len(items) > start and items[-1]["type"] == "reasoning":
        items.pop()


def replayable(encrypted: str | None, model: str) -> str | None:
    """The encrypted reasoning `model` may be sent: a token crossway carried goes back only to
    the model that issued it (another would reject it); a raw one came from the client, which
    got it from a Responses upstream untranslated, and is passed on as it is."""
    if not encrypted:
        return None
    if not signatures.is_ours(encrypted):
        return encrypted
    carried = signatures.unwrap(encrypted)
    return carried.token if carried is not None and carried.valid_for("encrypted", model) \
        else None


def _reasoning_item(text: str, encrypted: str) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"type": "reasoning", "summary": summary, "encrypted_content": encrypted}


def _image(image: ir.Image) -> dict[str, Any]:
    url = f"data:{image.media_type};base64,{image.data}" if image.data is not None else image.url
    return {"type": "input_image", "image_url": url, "detail": "auto"}


def _encode_user(
    content: list[ir.Part], custom_calls: set[str], items: list[dict[str, Any]]
) -> None:
    """Tool outputs first (they answer the previous turn's calls), then the user message."""
    parts: list[dict[str, Any]] = []
    for p in content:
        if isinstance(p, ir.ToolResult):
            kind = "custom_tool_call_output" if p.tool_call_id in custom_calls \
                else "function_call_output"
            items.append({"type": kind, "call_id": p.tool_call_id, "output": _tool_output(p)})
        elif isinstance(p, ir.Text):
            if p.text:
                parts.append({"type": "input_text", "text": p.text})
        elif isinstance(p, ir.Image):
            parts.append(_image(p))
    if parts:
        items.append({"type": "message", "role": "user", "content": parts})
    elif not any(isinstance(p, ir.ToolResult) for p in content):
        items.append({"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": ""}]})


def _tool_output(result: ir.ToolResult) -> str | list[dict[str, Any]]:
    # Responses has no error flag on outputs; the model reads the marker instead.
    marker = "[tool error] " if result.is_error else ""
    if not any(isinstance(c, ir.Image) for c in result.content):
        text = "\n".join(c.text for c in result.content if isinstance(c, ir.Text))
        return (marker + text) if text or not marker else marker.strip()
    parts: list[dict[str, Any]] = []
    if marker:
        parts.append({"type": "input_text", "text": marker.strip()})
    for c in result.content:
        parts.append({"type": "input_text", "text": c.text} if isinstance(c, ir.Text)
                     else _image(c))
    return parts


def _encode_tool(tool: ir.Tool) -> dict[str, Any]:
    if tool.kind == "custom":
        out: dict[str, Any] = {"type": "custom", "name": tool.name}
        if tool.description is not None:
            out["description"] = tool.description
        if tool.custom_format is not None:
            out["format"] = tool.custom_format
        return out
    out = {"type": "function", "name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["parameters"] = tool.parameters
    # Responses treats an absent `strict` as true and then rejects most real-world schemas.
    out["strict"] = bool(tool.strict)
    return out


def _encode_tool_choice(choice: ir.ToolChoice, custom: set[str]) -> str | dict[str, Any]:
    if choice.type == "tool" and choice.name:
        kind = "custom" if choice.name in custom else "function"
        return {"type": kind, "name": choice.name}
    return {"auto": "auto", "none": "none"}.get(choice.type, "required")


def _encode_reasoning(thinking: ir.ThinkingConfig | None) -> dict[str, Any] | None:
    if thinking is None:
        return None
    out: dict[str, Any] = {}
    effort = thinking.effort
    if thinking.type == "disabled":
        effort = "none"
    elif effort is None and thinking.budget_tokens is not None:
        effort = next((e for limit, e in _BUDGET_STEPS if thinking.budget_tokens <= limit), "high")
    if effort:
        out["effort"] = effort_out(effort)
    if thinking.summary is not None:
        out["summary"] = thinking.summary
    elif thinking.type != "disabled":
        out["summary"] = "auto"  # without one, a Responses model returns no reasoning text
    return out


def _encode_text(req: ir.Request) -> dict[str, Any]:
    text: dict[str, Any] = {}
    rf = req.response_format
    if rf is not None:
        if rf.get("type") == "json_schema" and isinstance(rf.get("json_schema"), dict):
            spec = rf["json_schema"]
            fmt: dict[str, Any] = {"type": "json_schema", "name": spec.get("name") or "output",
                                   "schema": spec.get("schema") or {}}
            for key in ("strict", "description"):
                if spec.get(key) is not None:
                    fmt[key] = spec[key]
            text["format"] = fmt
        elif rf.get("type") == "json_object":
            text["format"] = {"type": "json_object"}
    verbosity = req.responses_extra.get("verbosity", req.openai_extra.get("verbosity"))
    if isinstance(verbosity, str):
        text["verbosity"] = verbosity
    return text


def _encode_extra(req: ir.Request, body: dict[str, Any]) -> None:
    for key in _PASS_EXTRA:
        if req.openai_extra.get(key) is not None:
            body[key] = req.openai_extra[key]
    if req.user is not None and len(req.user) <= _MAX_USER:
        body["user"] = req.user
    for key, value in req.responses_extra.items():
        if key != "verbosity":  # it lives in `text` (see _encode_text)
            body.setdefault(key, value)
    # Stateless: crossway resolves history itself, and any fallback target can take the turn.
    body["store"] = False
    include = body.get("include")
    include = [s for s in include if isinstance(s, str)] if isinstance(include, list) else []
    if _ENCRYPTED not in include:
        include.append(_ENCRYPTED)  # reasoning state for the next turn (spec B9)
    body["include"] = include
