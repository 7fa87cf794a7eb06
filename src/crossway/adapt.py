"""Per-target adjustments of a canonical request, and their inverse on the response.

Codecs translate wire shapes; what a particular upstream needs beyond that lives here, keyed
by what the target's Dialect object and capabilities say:

- Claude Code's first system block, `x-anthropic-billing-header: cc_version=...; cch=...;`,
  changes per conversation (and per request in some versions), which defeats the automatic
  prefix caching of DeepSeek/Kimi/GLM (spec B1.3, B11). Only Anthropic itself wants it.
- OpenAI-style function names are limited to 64 characters (`Dialect.tool_name_limit`);
  Claude Code's MCP tools (`mcp__server__tool`) exceed that. Long names are shortened to 55
  characters, `_`, and 8 hex of their SHA-256 (the LiteLLM scheme, stable across turns), and
  restored in answers.
"""

from __future__ import annotations

import dataclasses
import hashlib

from crossway import ir
from crossway.dialects import Capabilities
from crossway.dialects.base import Dialect

BILLING_HEADER = "x-anthropic-billing-header:"
MAX_TOOL_NAME = 64


def short_tool_name(name: str) -> str:
    if len(name) <= MAX_TOOL_NAME:
        return name
    return name[:55] + "_" + hashlib.sha256(name.encode()).hexdigest()[:8]


@dataclasses.dataclass(slots=True)
class Adapted:
    request: ir.Request
    # upstream tool name -> the client's name, for names we shortened
    restore_names: dict[str, str]


def for_target(req: ir.Request, dialect: Dialect, caps: Capabilities) -> Adapted:
    system = req.system
    messages = req.messages
    if not caps.anthropic_native:
        system = [t for t in system if not t.text.startswith(BILLING_HEADER)]
    restore: dict[str, str] = {}
    tools = req.tools
    choice = req.tool_choice
    if dialect.tool_name_limit is not None and (
        any(len(t.name) > MAX_TOOL_NAME for t in tools) or _long_history_names(messages)
    ):
        for t in tools:
            if len(t.name) > MAX_TOOL_NAME:
                restore[short_tool_name(t.name)] = t.name
        tools = [dataclasses.replace(t, name=short_tool_name(t.name)) for t in tools]
        messages = [_shorten_calls(m) for m in messages]
        if choice is not None and choice.name:
            choice = dataclasses.replace(choice, name=short_tool_name(choice.name))
    if system is req.system and messages is req.messages and tools is req.tools:
        return Adapted(req, restore)
    return Adapted(
        dataclasses.replace(req, system=system, messages=messages, tools=tools,
                            tool_choice=choice),
        restore,
    )


def _long_history_names(messages: list[ir.Message]) -> bool:
    return any(isinstance(p, ir.ToolCall) and len(p.name) > MAX_TOOL_NAME
               for m in messages if m.role == "assistant" for p in m.content)


def _shorten_calls(m: ir.Message) -> ir.Message:
    if m.role != "assistant" or not any(isinstance(p, ir.ToolCall) for p in m.content):
        return m
    parts: list[ir.Part] = [
        dataclasses.replace(p, name=short_tool_name(p.name)) if isinstance(p, ir.ToolCall) else p
        for p in m.content
    ]
    return ir.Message(m.role, parts)


def restore_response(resp: ir.Response, names: dict[str, str]) -> None:
    if names:
        for p in resp.content:
            if isinstance(p, ir.ToolCall) and p.name in names:
                p.name = names[p.name]


def restore_event(event: ir.StreamEvent, names: dict[str, str]) -> ir.StreamEvent:
    if names and isinstance(event, ir.ToolCallStart) and event.name in names:
        return ir.ToolCallStart(event.id, names[event.name])
    return event
