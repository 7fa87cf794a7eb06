"""The flat usage row: one finished request as the usage store keeps it.

The relay's record (with its list of attempts) is converted into a `UsageRow` when the request
ends; everything downstream of that (the batch writer, the stores, `crossway usage`, the Go
quota meter) reads only rows. Keys and prompt text never appear here: `key_id` is the id of the
inbound client key, `instance` names the upstream credential (`opencode-go.2`), never the key.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

# Outcomes that are not failures of the gateway or the upstream. A client hanging up after
# it had what it wanted is not an error an operator should chase.
OK_OUTCOMES = frozenset({"ok", "client_closed"})

CLIENT_FAMILIES = ("claude-code", "opencode", "codex", "sdk-openai", "sdk-anthropic", "other")


# Not frozen: a frozen dataclass sets each of its 30 fields through object.__setattr__, which
# made building one row ~3 us slower, once per request. Treat rows as read-only all the same.
@dataclass(slots=True)
class UsageRow:
    request_id: str
    ts: float  # unix seconds when the request started
    client_dialect: str
    client_family: str
    conversation: str | None
    model_requested: str | None
    target: str | None  # instance:model that answered (or was last tried)
    instance: str | None  # upstream credential id, e.g. "opencode-go" or "opencode-go.2"
    backend: str | None  # backend name from the settings
    # Backend type (opencode-go, opencode-zen, openai, anthropic). Added to the agreed field
    # list so the quota meter and `crossway usage` can tell Go rows apart without the config
    # (backend names are user-chosen; the type is not).
    backend_type: str | None
    upstream_model: str | None
    upstream_dialect: str | None
    fast_path: bool
    stream: bool
    status: int
    outcome: str
    attempts: int
    fallbacks: int
    duration_ms: float
    ttfb_ms: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    cost_estimated: bool  # True when cost_usd came from crossway's price table
    key_id: str | None
    error: str | None
    attempts_json: str  # JSON list of {target, dialect, fast, status, failure, duration_ms}

    @property
    def is_error(self) -> bool:
        return self.outcome not in OK_OUTCOMES

    def attempt_list(self) -> list[dict[str, Any]]:
        value = orjson.loads(self.attempts_json)
        if not isinstance(value, list):
            raise ValueError(f"attempts_json of {self.request_id} is not a JSON list")
        return value


COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(UsageRow))
BOOL_COLUMNS = frozenset({"fast_path", "stream", "cost_estimated"})


def attempts_json(attempts: Sequence[Mapping[str, Any]]) -> str:
    """Serialise per-attempt dicts (target, dialect, fast, status, failure, duration_ms)."""
    return orjson.dumps(list(attempts)).decode()


# One C call for all 30 columns (a getattr per column cost ~2 us more per row).
_COLUMN_VALUES = operator.attrgetter(*COLUMNS)


def row_values(row: UsageRow) -> tuple[Any, ...]:
    """The row as a tuple in COLUMNS order, for parameterised INSERTs."""
    values: tuple[Any, ...] = _COLUMN_VALUES(row)
    return values


def row_from_values(values: Sequence[Any]) -> UsageRow:
    """Inverse of row_values; SQLite hands booleans back as 0/1."""
    kw = dict(zip(COLUMNS, values, strict=True))
    for name in BOOL_COLUMNS:
        kw[name] = bool(kw[name])
    return UsageRow(**kw)


def client_family(user_agent: str) -> str:
    """Which client sent a request, from its User-Agent.

    Checked in this order because the strings nest: OpenCode's agent also names the AI SDK
    (`opencode/1.18.33 ai-sdk/provider-utils/4.0.23 runtime/bun/1.3.14`), and Claude Code's
    agent (`claude-cli/2.1.329 (external, sdk-cli)`) is sent by an Anthropic SDK build.
    """
    ua = user_agent.strip().lower()
    if ua.startswith(("claude-cli/", "claude-code/")):
        return "claude-code"
    if ua.startswith("opencode/"):
        return "opencode"
    # Codex's agent is `<originator>/<version> (<os>; <arch>) <terminal>`, the originator
    # being codex_cli_rs, codex_exec, codex_vscode, ... depending on the front end.
    if ua.startswith(("codex_", "codex-", "codex/")):
        return "codex"
    # The Vercel AI SDK names its provider package in the agent, as `ai-sdk/openai-compatible/
    # 2.0.87` or, since an RFC 9110 fix in provider-utils, `ai-sdk-openai-compatible/2.0.87`.
    tokens = ua.split()
    if ua.startswith(("openai/", "asyncopenai/")) or _has_token(tokens, "openai"):
        return "sdk-openai"
    if ua.startswith("anthropic/") or _has_token(tokens, "anthropic"):
        return "sdk-anthropic"
    return "other"


def _has_token(tokens: Sequence[str], package: str) -> bool:
    return any(t.startswith((f"ai-sdk/{package}", f"ai-sdk-{package}")) for t in tokens)
