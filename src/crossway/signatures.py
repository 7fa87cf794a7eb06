"""Opaque reasoning tokens crossway hands to clients, and how it reads them back.

Upstreams attach opaque state to reasoning: an Anthropic thinking block's `signature`, a
Responses reasoning item's `encrypted_content`. An upstream validates such a token when it is
replayed and rejects one it did not issue (Anthropic: 400 "Invalid `signature` in `thinking`
block"), so crossway must never forge one nor hand one upstream's token to another (spec B7).

A client keeps whatever token field its own dialect has and replays it. So crossway gives
clients *its own* tokens, recognisable by a fixed prefix, in that field:
- `crossway.v1.<digest>`: minted for reasoning that came with no token (a chat upstream's
  reasoning_content, for Anthropic clients, which require a signature). It carries nothing and
  is never sent upstream.
- `crossway.v2.<payload>`: carries an upstream's token together with what kind it is
  (`signature` or `encrypted`) and which model issued it, so it goes back only to that model,
  in its own field, whatever dialect the client speaks in between.
Stateless by design: a restart or another replica reads these the same way. A token that
cannot be restored (minted, issued by another model, or lost by a client dialect with no place
for it, as OpenAI chat) makes the encoder drop that reasoning block, never an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Literal

import orjson

PREFIX = "crossway."
MINTED = "crossway.v1."
CARRIED = "crossway.v2."

Kind = Literal["signature", "encrypted"]
# A dated snapshot suffix: 20261101, 2026-11-01.
_SNAPSHOT = re.compile(r"\d{4}-?\d{2}-?\d{2}")


@dataclass(frozen=True, slots=True)
class Carried:
    kind: Kind  # "signature": an Anthropic-dialect thinking signature; "encrypted": Responses
    issuer: str  # the upstream model id that issued it, as the upstream named it
    token: str

    def valid_for(self, kind: Kind, model: str) -> bool:
        """Whether this token may be replayed, as a `kind`, to upstream model `model`."""
        return self.kind == kind and same_model(self.issuer, model)


def mint(thinking: str) -> str:
    digest = hashlib.sha256(thinking.encode("utf-8")).digest()[:18]
    return MINTED + base64.urlsafe_b64encode(digest).decode("ascii")


def is_ours(signature: str | None) -> bool:
    return bool(signature) and signature.startswith(PREFIX)  # type: ignore[union-attr]


def carry(kind: Kind, token: str, issuer: str) -> str:
    payload = orjson.dumps({"k": kind, "i": issuer, "t": token})
    return CARRIED + base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


def unwrap(value: str | None) -> Carried | None:
    """The upstream token a crossway.v2 value carries (None for anything else, including a
    damaged value: the block it came with is then dropped)."""
    if not value or not value.startswith(CARRIED):
        return None
    raw = value[len(CARRIED):]
    try:
        obj = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    kind, issuer, token = obj.get("k"), obj.get("i"), obj.get("t")
    if kind not in ("signature", "encrypted") or not isinstance(issuer, str) or not (
            isinstance(token, str) and token):
        return None
    return Carried(kind, issuer, token)


def kind_of(value: str | None) -> Kind | None:
    carried = unwrap(value)
    return carried.kind if carried is not None else None


def same_model(issuer: str, model: str) -> bool:
    """Upstreams may name a model with another case or a dated snapshot suffix than the id
    crossway sent (`MiniMax-M2.7`, `grok-4.5-20261101`); anything else is another model
    (`gpt-5.6-luna` is not `gpt-5.6`)."""
    a, b = issuer.lower(), model.lower()
    if not a or not b:
        return False
    if a == b:
        return True
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer.startswith(shorter + "-") and _SNAPSHOT.fullmatch(
        longer[len(shorter) + 1:]) is not None
