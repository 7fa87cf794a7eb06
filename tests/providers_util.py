"""Plain-HTTP helpers for the provider tests: one request to a running crossway in either
client dialect, its answer parsed (JSON, or the SSE events of a stream)."""

from __future__ import annotations

import json
from typing import Any

from tests.gateway import Gateway, request

ANTHROPIC_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01",
                     "x-api-key": "client-key"}
OPENAI_HEADERS = {"content-type": "application/json", "authorization": "Bearer client-key"}

BASH_ANTHROPIC = {"name": "bash", "description": "run a shell command", "input_schema": {
    "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
    "additionalProperties": False,
    "properties": {"cmd": {"type": "string", "description": "the command"}},
    "required": ["cmd"]}}
BASH_OPENAI = {"type": "function", "function": {
    "name": "bash", "description": "run a shell command",
    "parameters": BASH_ANTHROPIC["input_schema"]}}


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) per frame; `[DONE]` kept as the string."""
    out: list[tuple[str | None, Any]] = []
    for frame in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        event, data = None, []
        for line in frame.split(b"\n"):
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data.append(line[5:].strip())
        if data:
            text = b"\n".join(data)
            out.append((event, text.decode() if text == b"[DONE]" else json.loads(text)))
    return out


def messages(gw: Gateway, body: dict[str, Any],
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """POST /v1/messages; JSON body, or the list of SSE events when `stream` is set."""
    status, h, raw = request(gw, "POST", "/v1/messages", json.dumps(body).encode(),
                             {**ANTHROPIC_HEADERS, **(headers or {})})
    if body.get("stream") and status == 200:
        return status, h, sse_events(raw)
    return status, h, json.loads(raw)


def chat(gw: Gateway, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """POST /v1/chat/completions; JSON body, or the list of SSE events when streaming."""
    status, h, raw = request(gw, "POST", "/v1/chat/completions", json.dumps(body).encode(),
                             OPENAI_HEADERS)
    if body.get("stream") and status == 200:
        return status, h, sse_events(raw)
    return status, h, json.loads(raw)


def anthropic_stream_text(events: list[tuple[str | None, Any]]) -> str:
    return "".join(d["delta"].get("text", "") for e, d in events
                   if e == "content_block_delta" and d["delta"]["type"] == "text_delta")


def anthropic_stream_thinking(events: list[tuple[str | None, Any]]) -> str:
    return "".join(d["delta"].get("thinking", "") for e, d in events
                   if e == "content_block_delta" and d["delta"]["type"] == "thinking_delta")


def anthropic_stream_tool(events: list[tuple[str | None, Any]]) -> tuple[str, str, Any]:
    """(id, name, input) of the first tool_use block of a stream."""
    start = next(d for e, d in events
                 if e == "content_block_start" and d["content_block"]["type"] == "tool_use")
    index = start["index"]
    args = "".join(d["delta"]["partial_json"] for e, d in events
                   if e == "content_block_delta" and d["index"] == index
                   and d["delta"]["type"] == "input_json_delta")
    block = start["content_block"]
    return block["id"], block["name"], json.loads(args or "{}")


def openai_stream_text(events: list[tuple[str | None, Any]]) -> str:
    return "".join((d["choices"][0]["delta"].get("content") or "") for _, d in events
                   if isinstance(d, dict) and d.get("choices"))


def openai_stream_reasoning(events: list[tuple[str | None, Any]]) -> str:
    return "".join((d["choices"][0]["delta"].get("reasoning_content") or "") for _, d in events
                   if isinstance(d, dict) and d.get("choices"))


def openai_stream_tool(events: list[tuple[str | None, Any]]) -> tuple[str, str, Any]:
    """(id, name, arguments) of the first tool call of a stream."""
    call_id = name = ""
    args = ""
    for _, d in events:
        if not isinstance(d, dict) or not d.get("choices"):
            continue
        for tc in d["choices"][0]["delta"].get("tool_calls") or ():
            if tc.get("index", 0) != 0:
                continue
            call_id = call_id or tc.get("id") or ""
            fn = tc.get("function") or {}
            name = name or fn.get("name") or ""
            args += fn.get("arguments") or ""
    return call_id, name, json.loads(args or "{}")


def responses(gw: Gateway, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """POST /v1/responses (OpenAI Responses); JSON, or the SSE events when streaming."""
    status, h, raw = request(gw, "POST", "/v1/responses", json.dumps(body).encode(),
                             OPENAI_HEADERS)
    if body.get("stream") and status == 200:
        return status, h, sse_events(raw)
    return status, h, json.loads(raw)


def responses_text(data: Any) -> str:
    """The output text of a Responses answer, or of the delta events of its stream."""
    if isinstance(data, list):
        return "".join(d.get("delta", "") for e, d in data
                       if e == "response.output_text.delta")
    return "".join(c.get("text", "") for item in data["output"] if item["type"] == "message"
                   for c in item["content"] if c["type"] == "output_text")
