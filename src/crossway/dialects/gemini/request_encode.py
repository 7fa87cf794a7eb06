"""ir.Request -> a Gemini `generateContent` body (the model and method travel in the URL).

Gemini's rules that shape this module:
- one `systemInstruction`; `contents` alternate between roles `user` and `model`, so
  consecutive same-role turns are merged and mid-conversation system messages are hoisted;
- function calls and results carry no ids: a result is a `functionResponse` named after the
  call it answers, found through the call ids in the history;
- thought signatures go back on the part they came with, and only Gemini's own; a
  functionCall of the current turn without one gets Google's documented skip value;
- `parameters` and `responseSchema` take an OpenAPI subset (schema.py).
"""

from __future__ import annotations

import mimetypes
import re
from typing import Any

import orjson

from crossway import ir
from crossway.dialects import Capabilities
from crossway.dialects.common import bad
from crossway.dialects.gemini import wire
from crossway.dialects.gemini.schema import clean_parameters, clean_schema
from crossway.errors import InvalidRequest

_DATA_URL = re.compile(r"data:([^;,]+);base64,(.*)", re.DOTALL)
# Gemini accepts at most five stop sequences.
_MAX_STOP = 5
_BUDGET_FOR_EFFORT = {
    "minimal": 512,
    "low": 2048,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 32768,
}
# Levels every Gemini 3 model takes; Flash models also take minimal and medium.
_LEVEL_FOR_EFFORT = {
    "minimal": "low",
    "low": "low",
    "medium": "high",
    "high": "high",
    "xhigh": "high",
    "max": "high",
}
_FLASH_LEVEL_FOR_EFFORT = {**_LEVEL_FOR_EFFORT, "minimal": "minimal", "medium": "medium"}
_OPENAI_SAMPLING = {
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


def encode_request(req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
    body: dict[str, Any] = {}
    system = _system_text(req)
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    contents = _contents(req.messages)
    if not contents:
        raise InvalidRequest("the conversation has no message with content to send to Gemini",
                             param="messages")
    _skip_missing_signatures(contents)
    body["contents"] = contents
    if req.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in req.tools]}]
        if req.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _calling_config(req.tool_choice)}
    config = _generation_config(req, model, caps)
    if config:
        body["generationConfig"] = config
    return body


def _system_text(req: ir.Request) -> str:
    texts = [t.text for t in req.system if t.text.strip()]
    for msg in req.messages:
        if msg.role == "system":
            texts.extend(p.text for p in msg.content if isinstance(p, ir.Text) and p.text.strip())
    return "\n\n".join(texts)


# ---------------------------------------------------------------- contents


class _History:
    """Call id -> function name, learned from assistant turns as the history is walked."""

    __slots__ = ("names",)

    def __init__(self) -> None:
        self.names: dict[str, str] = {}


def _contents(messages: list[ir.Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    history = _History()
    for i, msg in enumerate(messages):
        if msg.role == "system":
            continue
        if msg.role == "assistant":
            role, parts = "model", _model_parts(msg.content, history, i)
        else:
            role, parts = "user", _user_parts(msg.content, history, i)
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"].extend(parts)  # Gemini wants strictly alternating roles
        else:
            out.append({"role": role, "parts": parts})
    for content in out:
        if content["role"] == "user":
            # functionResponse parts first, as Gemini pairs them with the preceding calls.
            parts = content["parts"]
            responses = [p for p in parts if "functionResponse" in p]
            if responses and len(responses) != len(parts):
                content["parts"] = responses + [p for p in parts if "functionResponse" not in p]
    return out


def _model_parts(content: list[ir.Part], history: _History, i: int) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    pending_call_sig: str | None = None  # a signature owed to the next functionCall
    for j, part in enumerate(content):
        if isinstance(part, ir.Thinking):
            pending_call_sig = _thinking_part(part, parts) or pending_call_sig
        elif isinstance(part, ir.Text):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ir.ToolCall):
            history.names[part.id] = part.name
            call: dict[str, Any] = {"functionCall": {"name": part.name,
                                                     "args": _args(part, i, j)}}
            if pending_call_sig is not None:
                call["thoughtSignature"] = pending_call_sig
                pending_call_sig = None
            parts.append(call)
        # RedactedThinking is Anthropic's; images and results do not occur in model turns.
    return parts


def _thinking_part(part: ir.Thinking, parts: list[dict[str, Any]]) -> str | None:
    """Append a thought part if it carries Gemini's signature or text Gemini can use; return
    a signature that belongs on the next functionCall.

    Reasoning without a Gemini signature (another model's, or a client-minted one) is left
    out: Gemini cannot verify it and re-reading it as its own thoughts helps nothing.
    """
    unwrapped = wire.unwrap_signature(part.signature)
    if unwrapped is None:
        return None
    tag, sig = unwrapped
    if tag == "f":
        if part.text:
            parts.append({"text": part.text, "thought": True})
        return sig
    parts.append({"text": part.text, "thought": True, "thoughtSignature": sig})
    return None


def _args(call: ir.ToolCall, i: int, j: int) -> dict[str, Any]:
    if not call.arguments.strip():
        return {}
    try:
        value = orjson.loads(call.arguments)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise bad(f"messages.{i}.content.{j}",
                  f"the arguments of tool call {call.name!r} are not a JSON object")
    return value


def _user_parts(content: list[ir.Part], history: _History, i: int) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        if isinstance(part, ir.Text):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ir.Image):
            parts.append(_image(part, f"messages.{i}.content.{j}"))
        elif isinstance(part, ir.ToolResult):
            parts.extend(_tool_result(part, history, f"messages.{i}.content.{j}"))
    return parts


def _tool_result(result: ir.ToolResult, history: _History, where: str) -> list[dict[str, Any]]:
    text = "\n".join(c.text for c in result.content if isinstance(c, ir.Text))
    images = [_image(c, where) for c in result.content if isinstance(c, ir.Image)]
    name = history.names.get(result.tool_call_id)
    if name is None:
        # A result whose call is not in the history (a trimmed conversation): Gemini rejects
        # a functionResponse it cannot pair, so the model reads it as text instead.
        label = "error" if result.is_error else "result"
        return [{"text": f"[tool {label} for call {result.tool_call_id}]\n{text}"}, *images]
    key = "error" if result.is_error else "output"
    # Gemini documents `output` / `error` as the keys of a function's response object.
    response = {"name": name, "response": {key: text}}
    return [{"functionResponse": response}, *images]


def _image(image: ir.Image, where: str) -> dict[str, Any]:
    if image.data is not None:
        return {"inlineData": {"mimeType": image.media_type or "image/png", "data": image.data}}
    url = image.url or ""
    m = _DATA_URL.match(url)
    if m is not None:
        return {"inlineData": {"mimeType": m.group(1), "data": m.group(2)}}
    if url.startswith(("https://", "gs://")):
        # Gemini fetches public and signed https URLs and Cloud Storage objects itself.
        mime = image.media_type or mimetypes.guess_type(url.split("?", 1)[0])[0]
        if mime is None or not mime.startswith("image/"):
            mime = "image/jpeg"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise bad(where, "Gemini takes images inline (base64) or by https:// or gs:// URL; "
                     f"this image URL cannot be sent: {url[:80]!r}")


def _skip_missing_signatures(contents: list[dict[str, Any]]) -> None:
    """Gemini 3 rejects a current-turn functionCall step without its thought signature.

    The current turn starts after the last user content with text or media (function
    responses do not start a turn). A step whose first call lost its signature (history from
    another model, or a client that cannot carry it) gets Google's documented skip value.
    """
    start = 0
    for k, content in enumerate(contents):
        if content["role"] == "user" and any("functionResponse" not in p
                                             for p in content["parts"]):
            start = k + 1
    for content in contents[start:]:
        if content["role"] != "model":
            continue
        calls = [p for p in content["parts"] if "functionCall" in p]
        if calls and "thoughtSignature" not in calls[0]:
            calls[0]["thoughtSignature"] = wire.SKIP_SIGNATURE


# ---------------------------------------------------------------- tools


def _declaration(tool: ir.Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    params = clean_parameters(tool.parameters)
    if params is not None:
        out["parameters"] = params
    return out


def _calling_config(choice: ir.ToolChoice) -> dict[str, Any]:
    if choice.type == "tool" and choice.name:
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": {"auto": "AUTO", "any": "ANY", "none": "NONE"}.get(choice.type, "AUTO")}


# ---------------------------------------------------------------- generationConfig


def _generation_config(req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if req.max_tokens is not None:
        limit = caps.max_output_tokens
        config["maxOutputTokens"] = req.max_tokens if limit is None else \
            min(req.max_tokens, limit)
    if req.temperature is not None:
        config["temperature"] = req.temperature
    if req.top_p is not None:
        config["topP"] = req.top_p
    if req.top_k is not None:
        config["topK"] = req.top_k
    if req.stop:
        config["stopSequences"] = list(req.stop[:_MAX_STOP])
    for key, name in _OPENAI_SAMPLING.items():
        value = req.openai_extra.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            config[name] = value
    _response_format(req.response_format, config)
    if req.thinking is not None:
        thinking = _thinking_config(req.thinking, model)
        if thinking is not None:
            config["thinkingConfig"] = thinking
    return config


def _response_format(rf: dict[str, Any] | None, config: dict[str, Any]) -> None:
    if not isinstance(rf, dict):
        return
    kind = rf.get("type")
    if kind == "json_object":
        config["responseMimeType"] = "application/json"
    elif kind == "json_schema":
        config["responseMimeType"] = "application/json"
        spec = rf.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if isinstance(schema, dict):
            cleaned = clean_schema(schema)
            if cleaned:
                config["responseSchema"] = cleaned


def _thinking_config(thinking: ir.ThinkingConfig, model: str) -> dict[str, Any] | None:
    """ThinkingConfig from the client's effort or budget.

    Gemini 3 takes `thinkingLevel` (never together with a budget) and cannot switch thinking
    off; 2.5 takes `thinkingBudget` (-1 dynamic, 0 off except on Pro, which always thinks).
    """
    level_model = wire.uses_thinking_level(model)
    off = thinking.type == "disabled" or thinking.effort == "none"
    if off:
        if level_model:
            return {"thinkingLevel": "minimal" if wire.is_flash(model) else "low"}
        if "pro" in model:
            return None  # 2.5 Pro rejects a zero budget
        return {"thinkingBudget": 0}
    out: dict[str, Any] = {"includeThoughts": True}
    effort = thinking.effort
    if level_model and thinking.budget_tokens is None:
        table = _FLASH_LEVEL_FOR_EFFORT if wire.is_flash(model) else _LEVEL_FOR_EFFORT
        level = table.get(effort or "")
        if level is not None:
            out["thinkingLevel"] = level
        return out
    if thinking.budget_tokens is not None:
        out["thinkingBudget"] = min(thinking.budget_tokens, _BUDGET_FOR_EFFORT["max"])
    elif effort in _BUDGET_FOR_EFFORT:
        out["thinkingBudget"] = _BUDGET_FOR_EFFORT[effort]
    else:
        out["thinkingBudget"] = -1  # adaptive: Gemini's dynamic thinking
    return out
