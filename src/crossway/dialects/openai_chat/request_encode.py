"""OpenAI Chat Completions requests to upstreams: ir -> a /chat/completions body."""

from __future__ import annotations

from typing import Any

from crossway import ir
from crossway.dialects.caps import Capabilities
from crossway.dialects.openai_chat.wire import assistant_parts

TOOL_CHOICE_OUT = {"auto": "auto", "any": "required", "none": "none"}


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
        body["max_tokens"] = caps.clamp_max_tokens(req.max_tokens)
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
    texts, thinking, calls = assistant_parts(content)
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if thinking:
        msg["reasoning_content"] = "\n\n".join(thinking)
    if calls:
        msg["tool_calls"] = calls
    return history_rules(msg, reasoning_replay)


def history_rules(msg: dict[str, Any], reasoning_replay: bool) -> dict[str, Any]:
    """The per-model rules for an assistant turn sent back upstream, shared by the encoder
    and the fast path (spec A6, A10, B1.6). Edits `msg` in place and returns it.

    Never null content beside tool calls: GLM console routes reject it. DeepSeek wants
    `reasoning_content` on every assistant turn and Kimi on tool-call turns (an empty string
    when there was none); GLM rejects the key, so models without replay get neither it nor
    OpenRouter's `reasoning`.
    """
    if msg.get("content") is None and msg.get("tool_calls"):
        msg["content"] = ""
    if reasoning_replay:
        if not isinstance(msg.get("reasoning_content"), str):
            reasoning = msg.pop("reasoning", None)
            msg["reasoning_content"] = reasoning if isinstance(reasoning, str) else ""
    else:
        msg.pop("reasoning_content", None)
        msg.pop("reasoning", None)
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
    return TOOL_CHOICE_OUT.get(choice.type, "required")
