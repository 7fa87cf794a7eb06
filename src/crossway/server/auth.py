"""Optional inbound auth: when keys are configured, every request but health probes must carry
one, as `Authorization: Bearer` (OpenAI SDKs, ANTHROPIC_AUTH_TOKEN) or `x-api-key`
(Anthropic SDK, ANTHROPIC_API_KEY). Compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence

from crossway.errors import AuthenticationFailed

OPEN_PATHS = frozenset({"/healthz", "/", "/api/hello"})


def presented_keys(headers: Mapping[str, str]) -> list[str]:
    keys = []
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        keys.append(value.strip())
    x_api_key = headers.get("x-api-key", "").strip()
    if x_api_key:
        keys.append(x_api_key)
    return keys


def check(headers: Mapping[str, str], allowed: Sequence[bytes]) -> str:
    """The id of the key presented (`key1`, `key2`, ... in configuration order; never the key
    itself), or AuthenticationFailed."""
    presented = presented_keys(headers)
    if not presented:
        raise AuthenticationFailed(
            "missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
            code="missing_api_key")
    matched = -1
    for candidate in presented:
        c = candidate.encode()
        for i, key in enumerate(allowed):
            # No early exit: every comparison runs, so timing says nothing about which matched.
            if hmac.compare_digest(c, key):
                matched = i
    if matched < 0:
        raise AuthenticationFailed("invalid API key", code="invalid_api_key")
    return f"key{matched + 1}"
