"""The Anthropic door's cheap checks, before routing: required fields and field types.

Run on every request, so the fast path to a real Anthropic upstream (which never decodes the
body) rejects what the codec would reject, as a 400 in Anthropic's words. O(1) per field;
the only walk is over list-shaped contents, for inline images that must be base64.
"""

from __future__ import annotations

from typing import Any

from crossway.dialects.base import Preflight
from crossway.dialects.common import bad, is_base64, is_int, is_number

# Optional top-level fields: (check, what it must be).
_FIELDS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "metadata": (dict, "an object"),
    "tool_choice": (dict, "an object"),
    "thinking": (dict, "an object"),
    "output_config": (dict, "an object"),
    "tools": (list, "a list"),
    "system": ((str, list), "a string or a list of text blocks"),
}


def check_fields(body: dict[str, Any]) -> None:
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is not None and not is_number(value):
            raise bad(key, "must be a number")
    top_k = body.get("top_k")
    if top_k is not None and not is_int(top_k):
        raise bad("top_k", "must be an integer")
    for key, (kind, what) in _FIELDS.items():
        value = body.get(key)
        if value is not None and not isinstance(value, kind):
            raise bad(key, f"must be {what}")
    stop = body.get("stop_sequences")
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise bad("stop_sequences", "must be a list of strings")


def _check_image(block: dict[str, Any], path: str) -> None:
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "base64":
        data = source.get("data")
        if isinstance(data, str) and not is_base64(data):
            raise bad(f"{path}.source.data", "is not valid base64")


def check_images(messages: list[Any]) -> None:
    for i, m in enumerate(messages):
        content = m.get("content") if isinstance(m, dict) else None
        if type(content) is not list:
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            btype = block.get("type")
            if btype == "image":
                _check_image(block, f"messages.{i}.content.{j}")
            elif btype == "tool_result" and type(block.get("content")) is list:
                for k, item in enumerate(block["content"]):
                    if isinstance(item, dict) and item.get("type") == "image":
                        _check_image(item, f"messages.{i}.content.{j}.content.{k}")


def preflight(body: dict[str, Any]) -> Preflight:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad("model", "a non-empty string is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("messages", "a non-empty list is required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise bad("max_tokens", "a positive integer is required")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream", "must be a boolean")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise bad(f"messages.{i}", "must be an object")
    check_fields(body)
    check_images(messages)
    # Anthropic streams always carry usage.
    return Preflight(model, stream is True, True)
