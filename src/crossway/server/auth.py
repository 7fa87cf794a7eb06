"""Optional inbound auth: when keys are configured, every request but health probes must carry
one, as `Authorization: Bearer` (OpenAI SDKs, ANTHROPIC_AUTH_TOKEN) or `x-api-key`
(Anthropic SDK, ANTHROPIC_API_KEY). Compared in constant time."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from crossway.errors import AuthenticationFailed, PermissionDenied

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


# Operator endpoints: stats, metrics and the dashboard. Their own key when
# CROSSWAY_ADMIN_KEY is set, else the inbound API keys; with neither, open on a loopback
# address only (whoever can reach a non-loopback port could read every key's spending).
ADMIN_PREFIXES = ("/admin/", "/metrics", "/dashboard")
# The dashboard's page and scripts hold no figures (they fetch /admin/* with the key the
# page asks for), so a browser can load them without a key.
PAGE_PREFIX = "/dashboard"


@dataclass(frozen=True, slots=True)
class AdminAccess:
    keys: tuple[bytes, ...]
    source: str  # which setting the keys come from, for messages
    loopback: bool  # crossway listens on a loopback address only

    @classmethod
    def create(cls, env: Mapping[str, str], api_keys: Sequence[str],
               host: str) -> AdminAccess:
        admin = env.get("CROSSWAY_ADMIN_KEY", "").strip()
        if admin:
            return cls((admin.encode(),), "CROSSWAY_ADMIN_KEY", is_loopback(host))
        return cls(tuple(k.encode() for k in api_keys), "CROSSWAY_API_KEY",
                   is_loopback(host))

    def check(self, path: str, headers: Mapping[str, str]) -> None:
        """Let an operator request through, or raise the error that says why not."""
        if not self.keys:
            if self.loopback:
                return
            raise PermissionDenied(
                f"{path} is refused: crossway listens on a non-loopback address and no admin "
                "key is set. Set CROSSWAY_ADMIN_KEY (or CROSSWAY_API_KEY) and send it as "
                "'Authorization: Bearer <key>', or listen on 127.0.0.1.",
                code="admin_key_not_configured")
        if path.startswith(PAGE_PREFIX):
            return
        try:
            check(headers, self.keys)
        except AuthenticationFailed as exc:
            raise AuthenticationFailed(
                f"{exc.message} ({path} needs the key in {self.source})",
                code=exc.code) from None


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
