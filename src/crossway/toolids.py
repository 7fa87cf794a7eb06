"""Tool-call ids that Anthropic clients and upstreams accept.

Anthropic requires `^[a-zA-Z0-9_-]+$` and ids unique across the whole conversation; Kimi
emits `functions.Bash:0`, turn-scoped, so the same id comes back every turn (spec B2, B12).
Ids we hand to Anthropic clients are minted from the upstream id and the response id:
deterministic, valid and unique. The client echoes them back and we send them upstream as
they are, so a forward rewrite is all it takes for later tool results to line up.
"""

from __future__ import annotations

import hashlib
import re

_VALID = re.compile(r"[a-zA-Z0-9_-]+")
_INVALID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


def for_anthropic_client(upstream_id: str, response_id: str) -> str:
    """`toolu_...` ids (Anthropic's own) pass; anything else is minted per response."""
    if upstream_id.startswith("toolu_") and _VALID.fullmatch(upstream_id):
        return upstream_id
    digest = hashlib.blake2b(f"{response_id}|{upstream_id}".encode(), digest_size=12).hexdigest()
    return "toolu_" + digest


def sanitize(tool_id: str) -> str:
    if _VALID.fullmatch(tool_id):
        return tool_id
    return _INVALID_CHARS.sub("_", tool_id) or "_"


class ConversationIds:
    """Valid, conversation-unique ids for a history sent to an Anthropic upstream.

    The first use of an id keeps its (sanitised) form; a later assistant turn reusing it gets
    a suffix. Tool results map through the ids of the most recent assistant turn. Earlier
    turns never change as the conversation grows, so the upstream's prompt cache holds.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._turn: dict[str, str] = {}

    def start_assistant_turn(self) -> None:
        self._turn = {}

    def tool_use(self, tool_id: str, turn: int) -> str:
        if tool_id in self._turn:
            return self._turn[tool_id]
        out = sanitize(tool_id)
        if out in self._seen:
            base, n = f"{out}_t{turn}", 1
            out = base
            while out in self._seen:
                n += 1
                out = f"{base}_{n}"
        self._seen.add(out)
        self._turn[tool_id] = out
        return out

    def tool_result(self, tool_id: str) -> str:
        return self._turn.get(tool_id) or sanitize(tool_id)
