"""The flat usage row: one finished request as the usage store keeps it.

The relay's record (with its list of attempts) is converted into a `UsageRow` when the request
ends; everything downstream of that (the batch writer, the stores, `crossway usage`, the Go
quota meter) reads only rows. Keys and prompt text never appear here: `key_id` is the id of the
inbound client key, `instance` names the upstream credential (`opencode-go.2`), never the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple, cast, overload

import orjson

# Outcomes that are not failures of the gateway or the upstream. A client hanging up after
# it had what it wanted is not an error an operator should chase.
OK_OUTCOMES = frozenset({"ok", "client_closed"})

CLIENT_FAMILIES = ("claude-code", "opencode", "codex", "sdk-openai", "sdk-anthropic", "other")


# A named tuple: built once per request, positionally (a slotted dataclass's 30 keyword
# arguments cost ~2 us more), and already the tuple a parameterised INSERT binds. Read-only.
class UsageRow(NamedTuple):
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
    # JSON list of {target, dialect, fast, status, failure, error_class, duration_ms,
    # ttfb_ms, cost_usd}, one per attempt. None for the common case of one attempt that
    # succeeded with the status the client got: the row's own columns describe it (see
    # attempt_list), and most rows then carry no JSON at all.
    attempts_json: str | None

    @property
    def is_error(self) -> bool:
        return self.outcome not in OK_OUTCOMES

    def attempt_list(self) -> list[dict[str, Any]]:
        if self.attempts_json is None:
            return [self._only_attempt()] if self.target is not None else []
        value = orjson.loads(self.attempts_json)
        if not isinstance(value, list):
            raise ValueError(f"attempts_json of {self.request_id} is not a JSON list")
        return value

    def _only_attempt(self) -> dict[str, Any]:
        # The upstream's own timings were not kept for a lone clean attempt: the request's
        # duration and TTFB (a fraction of a millisecond more) stand for them.
        return {"target": self.target, "dialect": self.upstream_dialect,
                "fast": self.fast_path, "status": self.status, "failure": None,
                "error_class": None, "duration_ms": None, "ttfb_ms": None,
                "cost_usd": None if self.cost_estimated else self.cost_usd}


COLUMNS: tuple[str, ...] = UsageRow._fields
BOOL_COLUMNS = frozenset({"fast_path", "stream", "cost_estimated"})
_BOOL_INDEXES = tuple(COLUMNS.index(name) for name in sorted(BOOL_COLUMNS))


# UsageRow from a tuple of its 30 values in field order, without the named tuple's own
# __new__ (a Python function of 30 parameters: ~0.3 us more per request).
new_row = cast(Callable[[tuple[Any, ...]], UsageRow], partial(tuple.__new__, UsageRow))


class RowBatch(Sequence[UsageRow]):
    """Usage rows held a column at a time: `columns[i]` is every row's value of COLUMNS[i].

    The recorder makes the rows of most batches a column at a time (rowbatch.py), the live
    figures fold columns in, and the SQLite store binds its INSERT's values from them: no
    30-value tuple per request is built, kept until the store has written it, and taken
    apart again. As a Sequence it still hands out UsageRow tuples (made on demand) to
    whatever wants rows: the Postgres store, the dashboard's last requests, tests."""

    __slots__ = ("columns",)

    def __init__(self, columns: Sequence[Sequence[Any]]) -> None:
        if len(columns) != len(COLUMNS):
            raise ValueError(f"a usage row has {len(COLUMNS)} columns, not {len(columns)}")
        self.columns = list(columns)

    @classmethod
    def of(cls, rows: Iterable[UsageRow]) -> RowBatch:
        """The rows, column by column (a RowBatch is returned as it is)."""
        if isinstance(rows, RowBatch):
            return rows
        listed = list(rows)
        if not listed:
            return cls([[] for _ in COLUMNS])
        return cls([list(column) for column in zip(*listed, strict=True)])

    @classmethod
    def concat(cls, batches: Sequence[RowBatch]) -> RowBatch:
        if len(batches) == 1:
            return batches[0]
        columns: list[list[Any]] = [[] for _ in COLUMNS]
        for batch in batches:
            for into, column in zip(columns, batch.columns, strict=True):
                into += column
        return cls(columns)

    def column(self, name: str) -> Sequence[Any]:
        return self.columns[_INDEX[name]]

    def take(self, indexes: Sequence[int]) -> RowBatch:
        """The rows at these positions, in this order."""
        return RowBatch([list(map(column.__getitem__, indexes)) for column in self.columns])

    def __len__(self) -> int:
        return len(self.columns[0])

    @overload
    def __getitem__(self, index: int) -> UsageRow: ...

    @overload
    def __getitem__(self, index: slice) -> RowBatch: ...

    def __getitem__(self, index: int | slice) -> UsageRow | RowBatch:
        if isinstance(index, slice):
            return RowBatch([column[index] for column in self.columns])
        return new_row(tuple([column[index] for column in self.columns]))

    def __iter__(self) -> Iterator[UsageRow]:
        return map(new_row, zip(*self.columns, strict=True))


_INDEX = {name: i for i, name in enumerate(COLUMNS)}


def numbers_only(column: Sequence[Any]) -> bool:
    """No None in a column of numbers: sum() runs in C and raises at the first None, where
    `None in column` compares every float with None the slow way."""
    try:
        sum(column)
    except TypeError:
        return False
    return True


def one_value(column: Sequence[Any]) -> bool:
    """Every row holds the first row's value (as list.count sees it: the same object, or
    equal). The last row is looked at first: a column of its own rarely ends as it began
    (ids, times), and then count() need not compare them all."""
    if not column:
        return False
    first, last = column[0], column[-1]
    return (last is first or last == first) and column.count(first) == len(column)


def attempts_json(attempts: Sequence[Mapping[str, Any]]) -> str:
    """Serialise per-attempt dicts (target, dialect, fast, status, failure, duration_ms)."""
    return orjson.dumps(list(attempts)).decode()


def row_from_values(values: Sequence[Any]) -> UsageRow:
    """A row from the values a SELECT of COLUMNS returns (SQLite hands booleans back as
    0/1). A row is itself the tuple an INSERT of COLUMNS binds."""
    if len(values) != len(COLUMNS):
        raise ValueError(f"a usage row has {len(COLUMNS)} columns, not {len(values)}")
    out = list(values)
    for i in _BOOL_INDEXES:
        out[i] = bool(out[i])
    return UsageRow._make(out)


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
