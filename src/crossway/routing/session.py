"""One stable session id per conversation, for OpenCode's `x-opencode-session` (spec A2) and for
sticking a conversation to one key so upstream prompt caches keep hitting."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import orjson

# Headers clients use for a per-conversation id (spec A2, C1, C2, C4), in order of trust.
SESSION_HEADERS = (
    "x-opencode-session",
    "x-claude-code-session-id",
    "x-session-affinity",
    "session_id",
    "session-id",
    "x-session-id",
)
_OURS = re.compile(r"ses_[A-Za-z0-9]{8,64}")
_USER_ID_SESSION = re.compile(r"session_([0-9A-Za-z-]{8,})")


def session_id(headers: Mapping[str, str], body: Mapping[str, Any]) -> str:
    """`ses_<hex>`: from the client's own conversation id when it sends one, else derived from
    the start of the conversation (system prompt + first message), which stays the same on
    every turn of one conversation and differs between conversations."""
    for name in SESSION_HEADERS:
        value = headers.get(name)
        if value:
            return _normalise(value)
    from_body = _from_body(body)
    if from_body:
        return _normalise(from_body)
    return "ses_" + _digest(_conversation_start(body))


def _normalise(raw: str) -> str:
    raw = raw.strip()
    if _OURS.fullmatch(raw):
        return raw
    return "ses_" + _digest(raw.encode("utf-8", "replace"))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:26]


def _from_body(body: Mapping[str, Any]) -> str | None:
    key = body.get("prompt_cache_key")  # Codex / OpenAI
    if isinstance(key, str) and key:
        return key
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        user_id = metadata.get("user_id")
        if isinstance(user_id, str) and user_id:
            # Newer Claude Code sends a JSON string; older ones `user_..._session_<uuid>`.
            if user_id.startswith("{"):
                try:
                    parsed = orjson.loads(user_id)
                except orjson.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, dict):
                    sid = parsed.get("session_id")
                    if isinstance(sid, str) and sid:
                        return sid
            m = _USER_ID_SESSION.search(user_id)
            if m:
                return m.group(1)
    return None


def _conversation_start(body: Mapping[str, Any]) -> bytes:
    system = body.get("system")
    first: Any = None
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict) and m.get("role") in ("system", "developer") and system is None:
                system = m.get("content")
            elif isinstance(m, dict) and m.get("role") == "user":
                first = m.get("content")
                break
    try:
        return orjson.dumps([system, first])
    except TypeError:
        return repr((system, first)).encode()
