"""Turn a model string and a session into a Plan: the ordered targets the relay will try.

Pure decision code, no I/O. A model string is, in the order tried:

1. an alias from `routing.aliases` (its chain, each entry expanded in turn);
2. an auto router (go-auto, auto, zen-auto when Zen has a key): the classifier's chain for
   this request (auto.py), which needs the decoded request;
3. a Claude name (`claude-opus-5-5`, `claude-haiku-4-5-20251001`, `...[1m]`) not prefixed by a
   backend: the real model when a keyed backend serves it on the Anthropic dialect, else its
   family's mapping (claude_names.py; by default opus and sonnet -> go-auto, haiku -> a fast
   Go model);
4. a model: `backend/model`, `backend:model`, `backend.N:model` or a bare id.

Each of these is followed by its `routing.fallbacks` chain. Every model of the resulting chain
becomes targets: the conversation's key (the backend's KeyPool: sticky, moved off cooling or
rejected keys), then, for OpenCode, the same model and key on its other dialect (tried only
after a ModelError: OpenCode moves models between routes), then the backend's other keys
(tried only after a failure of the key itself). The fallback policy (policy.py) decides at
attempt time which of them are really tried.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from crossway import ir
from crossway.config.settings import Dialect
from crossway.dialects import Capabilities
from crossway.errors import CrosswayError, InvalidRequest, NotFound, RateLimited, ServiceUnavailable
from crossway.providers import Instance, ModelInfo, Provider
from crossway.routing.auto import AutoRouter
from crossway.routing.claude_names import ClaudeMapping, route_claude
from crossway.routing.keypool import KeyPool, KeysCooling
from crossway.routing.policy import Health
from crossway.routing.selectors import Selector, parse_selector
from crossway.routing.state import MemoryState

# "": a model of the chain; "dialect": the same model and key on its other dialect; "key":
# the same model on another key of its backend.
Role = Literal["", "dialect", "key"]
_MAX_DEPTH = 8  # aliases naming aliases (cycles are refused at start-up)
_CACHE_SIZE = 4096  # model strings whose chains are kept (only known ones get this far)


@dataclass(frozen=True, slots=True)
class Sticky:
    """An auto router's pick, remembered for the conversation when it answers."""

    router: str
    session_id: str
    model: str  # the chain entry as the router's table names it


@dataclass(frozen=True, slots=True)
class Target:
    instance: Instance
    model: ModelInfo
    role: Role = ""
    sticky: Sticky | None = None

    @property
    def provider(self) -> Provider:
        return self.instance.provider

    @property
    def dialect(self) -> Dialect:
        return self.model.dialect

    @property
    def caps(self) -> Capabilities:
        return self.model.caps

    @property
    def label(self) -> str:
        return f"{self.instance.name}:{self.model.id}"


@dataclass(frozen=True, slots=True)
class Plan:
    requested: str  # the model string as the client sent it (echoed back in responses)
    session_id: str
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class Route:
    """One routable model as advertised: `public_id` is `backend/model`."""

    public_id: str
    provider: Provider
    model: ModelInfo


@dataclass(frozen=True, slots=True)
class _Entry:
    """One model of a plan's chain, before keys are chosen."""

    provider: Provider
    info: ModelInfo
    instance: int | None  # N of an explicit `backend.N:` selector
    sticky: Sticky | None = None

    @property
    def ident(self) -> tuple[str, str, int | None]:
        return (self.provider.name, self.info.id, self.instance)


RequestSource = Callable[[], ir.Request]


class Router:
    def __init__(
        self,
        providers: Sequence[Provider],
        health: Health | None = None,
        *,
        aliases: Mapping[str, Sequence[str]] | None = None,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        claude: ClaudeMapping | None = None,
        auto: AutoRouter | None = None,
        pools: Mapping[str, KeyPool[Instance]] | None = None,
    ) -> None:
        self.providers = {p.name: p for p in providers}
        self.health = health or Health()
        self.alias_chains = dict(aliases or {})
        self.fallbacks = dict(fallbacks or {})
        self.claude = claude or ClaudeMapping()
        # Without a runtime (offline commands, tests) the built-in auto routers still exist,
        # so every listing of routing names agrees with the running gateway's defaults.
        self.auto = auto if auto is not None else AutoRouter(MemoryState())
        if auto is None:
            drop_unkeyed_zen(self.auto, providers, configured=False)
        self.pools = dict(pools or {})
        self._moved_infos: dict[tuple[str, str, Dialect], ModelInfo] = {}
        self._provider_list = tuple(providers)
        self._cached: dict[str, list[_Entry]] = {}
        self._cached_version = 0

    def routes(self) -> list[Route]:
        return [
            Route(f"{p.name}/{m.id}", p, m)
            for p in self.providers.values()
            for m in sorted(p.models(), key=lambda m: m.id)
        ]

    def routing_names(self) -> list[str]:
        auto = sorted(self.auto.names()) if self.auto is not None else []
        return [*auto, *sorted(self.alias_chains)]

    def aliases(self) -> dict[str, list[str]]:
        """Routing name (alias or auto router) -> every public id it may route to."""
        out: dict[str, list[str]] = {}
        for name in self.routing_names():
            ids: list[str] = []
            for model in self._names_of(name, 0):
                try:
                    entry = self._concrete(model)
                except CrosswayError:
                    continue
                public = f"{entry.provider.name}/{entry.info.id}"
                if public not in ids:
                    ids.append(public)
            out[name] = ids
        return out

    def _names_of(self, name: str, depth: int) -> list[str]:
        if depth > _MAX_DEPTH:
            return []
        if name in self.alias_chains:
            return [m for x in self.alias_chains[name] for m in self._names_of(x, depth + 1)]
        if self.auto is not None and name in self.auto.tables:
            return [m for chain in self.auto.tables[name].values() for m in chain]
        return [name]

    def is_routable(self, model: str) -> bool:
        """Whether `model` names a model or Claude name this router can resolve (for
        start-up validation of the routing section)."""
        if route_claude(model, self.claude, lambda _: False) is not None:
            return True
        try:
            self._concrete(model)
        except CrosswayError:
            return False
        return True

    # ------------------------------------------------------------ planning

    def plan(self, model: str, session_id: str, request: RequestSource | None = None) -> Plan:
        """The targets for `model`. `request` decodes the client's body; it is called only
        for auto routers (the classifier reads the conversation)."""
        entries = self._entries(model, session_id, request)
        if len(entries) == 1:  # the common case: one model, nothing to merge
            return Plan(model, session_id, tuple(self._targets(entries[0], session_id)))
        targets: list[Target] = []
        refused: list[CrosswayError] = []
        seen: set[tuple[str, str, int | None]] = set()
        for entry in entries:
            if entry.ident in seen:
                continue
            seen.add(entry.ident)
            try:
                targets.extend(self._targets(entry, session_id))
            except (ServiceUnavailable, RateLimited) as exc:
                refused.append(exc)  # no key for it now: the next model may have one
        if not targets:
            raise _most_telling(refused)
        return Plan(model, session_id, tuple(targets))

    def _entries(self, model: str, session_id: str,
                 request: RequestSource | None) -> list[_Entry]:
        """The chain of `model`, cached per model string while no catalog changes; chains
        of auto routers depend on the request and are never cached."""
        version = sum(p.catalog_version for p in self._provider_list)
        if version != self._cached_version:
            self._cached.clear()
            self._cached_version = version
        entries = self._cached.get(model)
        if entries is None:
            entries = self._expand(model, session_id, request, 0)
            if all(e.sticky is None for e in entries) and len(self._cached) < _CACHE_SIZE:
                self._cached[model] = entries
        return entries

    def _expand(self, model: str, session_id: str, request: RequestSource | None,
                depth: int) -> list[_Entry]:
        if depth > _MAX_DEPTH:
            raise InvalidRequest(f"model '{model}': aliases nest too deep", param="model")
        if model in self.alias_chains:
            entries = self._chain(self.alias_chains[model], session_id, request, depth)
        elif self.auto is not None and model in self.auto.tables:
            entries = self._auto(model, session_id, request, depth)
        else:
            sel = parse_selector(model, self.providers)
            claude = None
            if sel.backend is None and "claude" in model.lower():
                claude = route_claude(model, self.claude, self._serves_claude)
            if claude is not None and claude.model != model:
                entries = self._expand(claude.model, session_id, request, depth + 1)
            else:
                entries = [self._concrete(model, sel)]
        for key in self._fallback_keys(model, entries):
            entries.extend(self._chain(self.fallbacks[key], session_id, request, depth))
        return entries

    def _chain(self, chain: Sequence[str], session_id: str, request: RequestSource | None,
               depth: int, sticky_for: str | None = None) -> list[_Entry]:
        """Every entry of a chain; the first must resolve, later unknown ones are skipped
        (a discovered id may have left the upstream's listing since start-up)."""
        out: list[_Entry] = []
        for i, model in enumerate(chain):
            try:
                expanded = self._expand(model, session_id, request, depth + 1)
            except NotFound:
                if i == 0 and not out:
                    raise
                continue
            if sticky_for is not None:
                pick = Sticky(sticky_for, session_id, model)
                expanded = [_Entry(e.provider, e.info, e.instance, e.sticky or pick)
                            for e in expanded]
            out.extend(expanded)
        return out

    def _auto(self, router: str, session_id: str, request: RequestSource | None,
              depth: int) -> list[_Entry]:
        assert self.auto is not None
        if request is None:
            chain = tuple(self.auto.tables[router]["chat"])
        else:
            chain = self.auto.route(router, request(), session_id).models
        return self._chain(chain, session_id, request, depth, sticky_for=router)

    def _fallback_keys(self, model: str, entries: list[_Entry]) -> list[str]:
        if not self.fallbacks:
            return []
        keys = [model] if model in self.fallbacks else []
        if len(entries) == 1:  # `glm-5.1` also takes the fallbacks of `opencode-go/glm-5.1`
            public = f"{entries[0].provider.name}/{entries[0].info.id}"
            if public != model and public in self.fallbacks:
                keys.append(public)
        return keys

    def _serves_claude(self, name: str) -> bool:
        for p in self.providers.values():
            if p.instances:
                info = p.lookup(name, explicit=False)
                if info is not None and info.dialect == "anthropic":
                    return True
        return False

    def _concrete(self, model: str, sel: Selector | None = None) -> _Entry:
        sel = sel or parse_selector(model, self.providers)
        if sel.backend is not None:
            provider = self.providers[sel.backend]
            info = provider.lookup(sel.model, explicit=True)
            if info is None:
                raise self._unknown(model, sel)
            return _Entry(provider, info, sel.instance)
        provider, info = self._bare(model, sel)
        return _Entry(provider, info, None)

    def _bare(self, requested: str, sel: Selector) -> tuple[Provider, ModelInfo]:
        found = [(p, i) for p in self.providers.values()
                 if (i := p.lookup(sel.model, explicit=False)) is not None]
        if not found:
            raise self._unknown(requested, sel)
        if len(found) > 1:
            keyed = [(p, i) for p, i in found if p.instances]
            if len(keyed) == 1:
                return keyed[0]
            if keyed:
                names = ", ".join(f"{p.name}/{sel.model}" for p, _ in keyed)
                raise InvalidRequest(
                    f"model '{sel.model}' is served by several backends; name one: {names}",
                    param="model", code="ambiguous_model")
        return found[0]

    # ------------------------------------------------------------ keys

    def _targets(self, entry: _Entry, session_id: str) -> list[Target]:
        provider, info = entry.provider, entry.info
        primary, others = self._keys(provider, entry.instance, session_id, info.id)
        out = [Target(primary, info, "", entry.sticky)]
        other = provider.other_dialect(info.id)
        if other is not None and other != info.dialect:
            out.append(Target(primary, self._moved(provider, info.id, other), "dialect",
                              entry.sticky))
        out.extend(Target(inst, info, "key", entry.sticky) for inst in others)
        return out

    def _moved(self, provider: Provider, model: str, dialect: Dialect) -> ModelInfo:
        """The model on another dialect (cached: capabilities cost a few microseconds)."""
        key = (provider.name, model, dialect)
        info = self._moved_infos.get(key)
        if info is None:
            info = ModelInfo(model, dialect, provider.capabilities(model, dialect))
            self._moved_infos[key] = info
        return info

    def _keys(self, provider: Provider, number: int | None, session_id: str,
              model: str) -> tuple[Instance, list[Instance]]:
        instances = provider.instances
        if not instances:
            raise ServiceUnavailable(
                f"backend {provider.name} has no API key configured: set "
                f"{provider.settings.key_hint} and restart crossway",
                code="backend_not_configured")
        if number is not None:
            name = f"{provider.name}.{number}"
            for inst in instances:
                if inst.name == name:
                    return inst, []
            have = ", ".join(i.name for i in instances)
            raise ServiceUnavailable(
                f"instance {name} is not configured (configured: {have}); set the numbered "
                f"key for it, e.g. {provider.settings.key_hint.split(' ')[0]}_{number}",
                code="backend_not_configured")
        pool = self.pools.get(provider.name)
        if pool is not None:
            chosen = pool.choose(session_id) or instances[0]
            if len(instances) == 1:
                return chosen, []
            rest = sorted((i for i in instances if i is not chosen and pool.usable(i)),
                          key=lambda i: _weight(session_id, i.name), reverse=True)
            return chosen, rest
        if len(instances) == 1:
            return instances[0], []
        healthy = [i for i in instances if self.health.usable(i.name, model)]
        # Rendezvous hashing: a conversation always lands on the same key, and adding or
        # removing a key only moves the conversations that key takes or gives up.
        return max(healthy or instances, key=lambda i: _weight(session_id, i.name)), []

    def _unknown(self, requested: str, sel: Selector) -> NotFound:
        known = [r.public_id for r in self.routes()] + self.routing_names()
        bare = sorted({r.model.id for r in self.routes()})
        close = difflib.get_close_matches(requested, known, n=3, cutoff=0.5) or \
            difflib.get_close_matches(sel.model, bare, n=3, cutoff=0.5)
        hint = f" Closest known: {', '.join(close)}." if close else ""
        where = f" on backend {sel.backend}" if sel.backend else ""
        return NotFound(
            f"model '{requested}' is not known{where}.{hint} GET /v1/models lists every model; "
            "a backend can serve extra ids via extra.model_protocol_overrides in the config.",
            param="model", code="model_not_found")


def drop_unkeyed_zen(auto: AutoRouter, providers: Sequence[Provider], *,
                     configured: bool) -> None:
    """zen-auto is offered only when Zen has a key (or the config defines it): without one it
    could only ever answer 503."""
    if not configured and not any(p.name == "opencode-zen" and p.instances
                                  for p in providers):
        auto.tables.pop("zen-auto", None)


def _most_telling(refused: list[CrosswayError]) -> CrosswayError:
    """Why no target could be planned: when keys are cooling, the 429 that frees first (a
    client can wait for it); else the first refusal (a missing or rejected key)."""
    cooling = [e for e in refused if isinstance(e, KeysCooling)]
    if cooling:
        return min(cooling, key=lambda e: e.retry_after)
    return refused[0]


def _weight(session_id: str, instance: str) -> bytes:
    return hashlib.blake2b(f"{session_id}|{instance}".encode(), digest_size=8).digest()
