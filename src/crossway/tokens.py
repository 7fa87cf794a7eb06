"""Local token estimate for POST /v1/messages/count_tokens.

OpenCode has no count_tokens route (spec B10), so crossway answers itself. This is an honest
estimate, not a tokenizer: about four characters of text (or JSON for tool inputs and schemas)
per token, plus a small per-message overhead, and a fixed cost per image. Expect it within
roughly +-25% of a real BPE count on English prose and code.
"""

from __future__ import annotations

from typing import Any

import orjson

CHARS_PER_TOKEN = 4.0
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 1600  # Anthropic's guidance for a ~1.15 megapixel image
TOKENS_PER_TOOL = 8


def estimate_tokens(body: dict[str, Any]) -> int:
    chars = 0
    images = 0
    extra = 0

    def walk(value: Any) -> None:
        nonlocal chars, images
        if isinstance(value, str):
            chars += len(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            kind = value.get("type")
            if kind == "image":
                images += 1
                return
            if kind == "tool_use":
                chars += len(str(value.get("name", "")))
                chars += len(orjson.dumps(value.get("input", {})))
                return
            for key in ("text", "content", "thinking"):
                if key in value:
                    walk(value[key])

    walk(body.get("system"))
    messages = body.get("messages") or []
    for m in messages:
        extra += TOKENS_PER_MESSAGE
        if isinstance(m, dict):
            walk(m.get("content"))
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            extra += TOKENS_PER_TOOL
            chars += len(str(tool.get("name", ""))) + len(str(tool.get("description", "")))
            chars += len(orjson.dumps(tool.get("input_schema", {})))
    return max(1, round(chars / CHARS_PER_TOKEN) + images * TOKENS_PER_IMAGE + extra)
