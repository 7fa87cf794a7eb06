"""The OpenAI door's cheap checks, before routing: required fields and field types.

Run on every request, translated or not, so the fast path (which never decodes the body)
rejects what the codec would reject: a wrong type answered as a 400 here, in OpenAI's
words, instead of being forwarded for the upstream to word (or to accept). O(1) per field;
the only walk is over list-shaped message contents, for inline images that must be base64.
"""

from __future__ import annotations

from typing import Any

from crossway.dialects.base import Preflight
from crossway.dialects.common import is_base64
from crossway.errors import InvalidRequest

_INT = "an integer"
_POSITIVE = "a positive integer"
_NUMBER = "a number"
_STRING = "a string"
_BOOL = "a boolean"
_OBJECT = "an object"
_ARRAY = "an array"

# Optional top-level fields and the JSON type each must have when present (null = absent).
_FIELD_TYPES: dict[str, str] = {
    "max_tokens": _POSITIVE, "max_completion_tokens": _POSITIVE, "n": _POSITIVE, "seed": _INT,
    "top_logprobs": _INT,
    "temperature": _NUMBER, "top_p": _NUMBER, "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER,
    "stream": _BOOL, "parallel_tool_calls": _BOOL, "logprobs": _BOOL, "store": _BOOL,
    "user": _STRING, "reasoning_effort": _STRING, "prompt_cache_key": _STRING,
    "service_tier": _STRING, "verbosity": _STRING,
    "metadata": _OBJECT, "response_format": _OBJECT, "stream_options": _OBJECT,
    "logit_bias": _OBJECT,
    "tools": _ARRAY,
}
_ROLES = frozenset(("system", "developer", "user", "assistant", "tool", "function"))


def _has_type(value: object, kind: str) -> bool:
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _POSITIVE:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if kind == _NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == _STRING:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _OBJECT:
        return isinstance(value, dict)
    return isinstance(value, list)


def _invalid(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {problem}", param=where)


def check_fields(body: dict[str, Any]) -> None:
    """Types of the optional top-level fields, `stop` and `tool_choice`."""
    for key, value in body.items():  # a body has a handful of keys; the table has 24
        kind = _FIELD_TYPES.get(key)
        if kind is not None and value is not None and not _has_type(value, kind):
            raise _invalid(key, f"must be {kind}, not {value!r}"[:200])
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
        isinstance(stop, list) and all(isinstance(s, str) for s in stop)
    ):
        raise _invalid("stop", "must be a string or an array of strings")
    choice = body.get("tool_choice")
    if choice is not None and not isinstance(choice, str | dict):
        raise _invalid("tool_choice", 'must be a string ("auto", "none", "required") or an '
                                      "object naming a function")


def check_images(messages: list[Any], first: int = 0) -> None:
    """Inline images must be base64 data URLs; upstreams reject anything else, some with
    errors that do not name the field. `first`: the index of messages[0] in the request."""
    for i, m in enumerate(messages, first):
        content = m.get("content") if isinstance(m, dict) else None
        if type(content) is not list:
            continue
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "image_url":
                continue
            spec = part.get("image_url")
            url = spec.get("url") if isinstance(spec, dict) else spec
            if isinstance(url, str) and url.startswith("data:"):
                _, sep, data = url.partition(",")
                if sep and not is_base64(data):
                    raise _invalid(f"messages[{i}].content[{j}].image_url.url",
                                   "the data URL's payload is not valid base64")


def preflight(body: dict[str, Any]) -> Preflight:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", "a non-empty string is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages", "a non-empty array is required")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _invalid(f"messages[{i}]", "must be an object")
        if m.get("role") not in _ROLES:
            raise _invalid(f"messages[{i}].role",
                           "must be one of system, developer, user, assistant, tool")
        if type(m.get("content")) is list:
            check_images([m], i)
    check_fields(body)
    opts = body.get("stream_options")
    include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
    return Preflight(model, body.get("stream") is True, include_usage)
