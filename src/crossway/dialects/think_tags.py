"""Reasoning that arrives inside the content as a leading `<think>...</think>` section.

MiniMax on chat routes, DeepSeek-R1 style models and some vLLM deployments put their reasoning
in `content` (spec A10, B3.4). Only a section at the very start of the content counts, so an
answer that merely talks about the tag is left alone. Tags split across chunks are handled.
"""

from __future__ import annotations

from crossway.dialects.common import partial_suffix

OPEN = "<think>"
CLOSE = "</think>"


class ThinkSplitter:
    """Feed content deltas; get `(is_reasoning, text)` pieces back in order."""

    __slots__ = ("_buf", "_state")

    # states: 0 = nothing but whitespace seen yet, 1 = inside the section, 2 = plain text,
    # 3 = just after the section (the blank lines models put there are dropped)
    def __init__(self) -> None:
        self._state = 0
        self._buf = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        if self._state == 2:
            return [(False, text)]
        if self._state == 3:
            text = text.lstrip()
            if not text:
                return []
            self._state = 2
            return [(False, text)]
        s = self._buf + text
        self._buf = ""
        if self._state == 0:
            if s.isspace():
                return [(False, s)]  # callers already hold back whitespace-only text
            stripped = s.lstrip()
            if OPEN.startswith(stripped):
                self._buf = s  # the tag is still arriving
                return []
            if not stripped.startswith(OPEN):
                self._state = 2
                return [(False, s)]
            self._state = 1
            s = stripped[len(OPEN):]
        i = s.find(CLOSE)
        if i >= 0:
            self._state = 3
            pieces = [(True, s[:i])] if i else []
            return pieces + self.feed(s[i + len(CLOSE):])
        keep = partial_suffix(s, CLOSE)
        if keep:
            self._buf = s[-keep:]
            s = s[:-keep]
        return [(True, s)] if s else []

    def flush(self) -> list[tuple[bool, str]]:
        rest, self._buf = self._buf, ""
        if not rest:
            return []
        if self._state == 3:
            return []
        return [(self._state == 1, rest)]



def split_complete(content: str) -> tuple[str, str]:
    """(reasoning, text) of a whole non-streamed content string."""
    splitter = ThinkSplitter()
    pieces = splitter.feed(content) + splitter.flush()
    reasoning = "".join(t for r, t in pieces if r)
    text = "".join(t for r, t in pieces if not r)
    return reasoning, text
