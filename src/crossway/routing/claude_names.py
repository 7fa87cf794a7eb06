"""Claude model names, as Claude Code and the Anthropic SDKs send them, mapped to a route.

Claude Code names its models itself unless told otherwise: `claude-opus-5-5` (its default in
2.1.329), `claude-sonnet-4-6`, `claude-haiku-4-5-20251001` for background work (titles,
summaries), sometimes with a `[1m]` suffix for the 1M-token context. With only an OpenCode Go
key none of these exist upstream. This module recognises every spelling in use, reduces it to
a family (opus, sonnet, haiku) and decides what to route to:

1. the real model, when some configured backend serves it natively (Zen with a key, a
   `type: anthropic` backend) -- tried as sent, then without `[1m]`, without a date or
   `-latest`, and with dots written as dashes (`claude-sonnet-4.5` -> `claude-sonnet-4-5`);
2. otherwise the family's mapping: by default opus and sonnet -> `go-auto` (the classifier
   in auto.py), haiku -> a fast, cheap Go model. A Claude name of an unknown family (a new
   one, like Zen's `claude-fable-5`) takes the sonnet mapping.

Recognised spellings: `claude-<family>-<version>[-<yyyymmdd>]` (Claude 4+),
`claude-<version>-<family>[-<yyyymmdd>|-latest]` (Claude 3.x), any of them with `[1m]` (or any
`[...]`) at the end, prefixed `anthropic/` (OpenRouter style) or `anthropic.` / `us.anthropic.`
with a `-v1:0` tail (Bedrock), or with `@yyyymmdd` (Vertex). Case is ignored.

Pure functions; the caller supplies whether a backend serves a name natively.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Family = Literal["opus", "sonnet", "haiku"]
FAMILIES: tuple[Family, ...] = ("opus", "sonnet", "haiku")
FALLBACK_FAMILY: Family = "sonnet"  # for Claude names of a family we do not know yet

DEFAULT_OPUS = "go-auto"
DEFAULT_SONNET = "go-auto"
# Background calls (titles, summaries of fetched pages) need speed and a low price, not depth:
# DeepSeek V4 Flash is the Go model with the largest request allowance (spec A9).
DEFAULT_HAIKU = "opencode-go/deepseek-v4-flash"

_SUFFIX = re.compile(r"(\[[^\]]*\])+$")
_PREFIX = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic[./]")
_BEDROCK_TAIL = re.compile(r"-v\d+(?::\d+)?$")
_VERTEX_DATE = re.compile(r"@\d{8}$")
_DATE = re.compile(r"-(?:\d{8}|latest)$")
_NAME = re.compile(r"^claude-[a-z0-9][a-z0-9.-]*$")


@dataclass(frozen=True, slots=True)
class ClaudeMapping:
    """Where each family goes when no backend serves the Claude model itself."""

    opus: str = DEFAULT_OPUS
    sonnet: str = DEFAULT_SONNET
    haiku: str = DEFAULT_HAIKU
    prefer_native: bool = True  # False: always map, even when a backend has the real model

    def for_family(self, family: Family) -> str:
        if family == "opus":
            return self.opus
        if family == "haiku":
            return self.haiku
        return self.sonnet


@dataclass(frozen=True, slots=True)
class ClaudeName:
    requested: str
    family: Family | None  # None: a Claude name of a family not known here
    base: str  # lower-case, without prefix, suffix, date: `claude-haiku-4-5`
    long_context: bool  # sent with `[1m]`: the client expects the 1M-token window

    def native_candidates(self) -> tuple[str, ...]:
        """Names a backend might serve this model under, most specific first."""
        out: list[str] = []
        for name in (self.requested, _SUFFIX.sub("", self.requested), self.base,
                     self.base.replace(".", "-")):
            if name not in out:
                out.append(name)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class ClaudeRoute:
    name: ClaudeName
    model: str  # the model string to route: a native Claude id, or the family's mapping
    native: bool


def parse_claude_name(model: str) -> ClaudeName | None:
    """The parts of a Claude model name, or None when `model` is not one."""
    text = model.strip()
    lowered = text.lower()
    long_context = "[1m]" in lowered
    core = _SUFFIX.sub("", lowered)
    core = _PREFIX.sub("", core)
    core = _VERTEX_DATE.sub("", core)
    if _PREFIX.match(lowered):
        core = _BEDROCK_TAIL.sub("", core)
    core = _DATE.sub("", core)
    if not _NAME.match(core):
        return None
    tokens = core.split("-")[1:]
    family = next((f for f in FAMILIES if f in tokens), None)
    return ClaudeName(text, family, core, long_context)


def is_claude_name(model: str) -> bool:
    return parse_claude_name(model) is not None


def route_claude(
    model: str,
    mapping: ClaudeMapping,
    serves_natively: Callable[[str], bool],
) -> ClaudeRoute | None:
    """Decide the model string a Claude name is routed to; None when `model` is not a Claude
    name (route it as it is). `serves_natively(name)` says whether some configured backend
    (with a key) serves exactly `name` as a Claude model."""
    name = parse_claude_name(model)
    if name is None:
        return None
    if mapping.prefer_native:
        for candidate in name.native_candidates():
            if serves_natively(candidate):
                return ClaudeRoute(name, candidate, native=True)
    family = name.family or FALLBACK_FAMILY
    return ClaudeRoute(name, mapping.for_family(family), native=False)
