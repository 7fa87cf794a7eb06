"""Thinking-block signatures crossway mints for reasoning that did not come from Anthropic.

Claude Code stores a thinking block's signature and replays it; a real Anthropic upstream
rejects signatures it did not issue (spec B7). Ours carry a fixed prefix and a digest of the
thinking text, so we can recognise them (and strip those blocks before an Anthropic upstream)
without keeping any state.
"""

from __future__ import annotations

import base64
import hashlib

PREFIX = "crossway.v1."


def mint(thinking: str) -> str:
    digest = hashlib.sha256(thinking.encode("utf-8")).digest()[:18]
    return PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")


def is_ours(signature: str | None) -> bool:
    return bool(signature) and signature.startswith(PREFIX)  # type: ignore[union-attr]
