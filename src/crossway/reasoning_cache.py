"""Reasoning tokens a client's dialect cannot carry, kept for its next turn (issue: reasoning
state across dialects).

An OpenAI chat client gets an upstream's reasoning as `reasoning_content` text and has no
field for the opaque token that came with it (an Anthropic-dialect thinking signature, a
Responses `encrypted_content`). Without the token, the next turn's reasoning cannot go back
to the model that demands it, and is dropped. This cache keeps, per conversation, each
answer's reasoning blocks with their (crossway-carried) tokens, keyed by a digest of the
reasoning text as the client will replay it; on the next turn, a tokenless reasoning part
whose text matches gets its blocks and tokens back. Bounded (LRU by entries); a miss (a
restart, another replica, an evicted entry, a client that edited the text) degrades to the
safe behaviour without the cache: the block is dropped, never an error, never forged.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from crossway import ir

_MAX_ENTRIES = 20_000


@dataclass(frozen=True, slots=True)
class Block:
    text: str
    signature: str | None = None
    encrypted_content: str | None = None


def _key(session_id: str, text: str) -> bytes:
    # Whitespace-blind: a stream's blocks reach the client concatenated, a whole answer's
    # joined by blank lines, and clients may trim.
    flat = "".join(text.split())
    return hashlib.blake2b(f"{session_id}\x00{flat}".encode(), digest_size=16).digest()


class ReasoningCache:
    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self._entries: OrderedDict[bytes, tuple[Block, ...]] = OrderedDict()
        self._max = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, session_id: str, blocks: list[Block]) -> None:
        """One answer's reasoning blocks, if any of them has a token worth keeping."""
        if not any(b.signature or b.encrypted_content for b in blocks):
            return
        key = _key(session_id, "".join(b.text for b in blocks))
        self._entries[key] = tuple(blocks)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def restore(self, session_id: str, req: ir.Request) -> None:
        """Give tokenless reasoning in the history its blocks and tokens back, in place."""
        for message in req.messages:
            if message.role != "assistant" or not any(
                    isinstance(p, ir.Thinking) for p in message.content):
                continue
            parts: list[ir.Part] = []
            for part in message.content:
                found = None
                if isinstance(part, ir.Thinking) and not part.signature \
                        and not part.encrypted_content and part.text:
                    found = self._entries.get(_key(session_id, part.text))
                if found is None:
                    parts.append(part)
                    continue
                parts.extend(ir.Thinking(b.text, b.signature, encrypted_content=b.encrypted_content)
                             for b in found)
            message.content = parts


class BlockCollector:
    """Follows one answer's stream events and collects its reasoning blocks with tokens."""

    __slots__ = ("_blocks", "_text")

    def __init__(self) -> None:
        self._blocks: list[Block] = []
        self._text: list[str] = []

    def feed(self, event: ir.StreamEvent) -> None:
        if isinstance(event, ir.ThinkingDelta):
            self._text.append(event.text)
        elif isinstance(event, ir.ThinkingSignature):
            self._close(signature=event.signature)
        elif isinstance(event, ir.ThinkingEncrypted):
            self._close(encrypted=event.encrypted_content)
        elif self._text and not isinstance(event, ir.MessageStart):
            self._close()

    def _close(self, *, signature: str | None = None, encrypted: str | None = None) -> None:
        self._blocks.append(Block("".join(self._text), signature, encrypted))
        self._text = []

    def blocks(self) -> list[Block]:
        if self._text:
            self._close()
        return self._blocks


def blocks_of(resp: ir.Response) -> list[Block]:
    return [Block(p.text, p.signature, p.encrypted_content)
            for p in resp.content if isinstance(p, ir.Thinking)]
