"""Turn a model string and a session into a Plan: the ordered targets the relay will try.

Pure decision code, no I/O. Plans hold one target today; fallback chains extend
`Plan.targets` without the relay changing. Instances the health object calls unusable are
skipped when another key of the backend can serve.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from crossway.config.settings import Dialect
from crossway.dialects import Capabilities
from crossway.errors import InvalidRequest, NotFound, ServiceUnavailable
from crossway.providers import Instance, ModelInfo, Provider
from crossway.routing.policy import Health
from crossway.routing.selectors import Selector, parse_selector


@dataclass(frozen=True, slots=True)
class Target:
    instance: Instance
    model: ModelInfo

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


class Router:
    def __init__(self, providers: Sequence[Provider], health: Health | None = None) -> None:
        self.providers = {p.name: p for p in providers}
        self.health = health or Health()

    def routes(self) -> list[Route]:
        return [
            Route(f"{p.name}/{m.id}", p, m)
            for p in self.providers.values()
            for m in sorted(p.models(), key=lambda m: m.id)
        ]

    def plan(self, model: str, session_id: str) -> Plan:
        sel = parse_selector(model, self.providers)
        if sel.backend is not None:
            provider = self.providers[sel.backend]
            info = provider.lookup(sel.model, explicit=True)
            if info is None:
                raise self._unknown(model, sel)
        else:
            provider, info = self._bare(model, sel)
        instance = self._instance(provider, sel, session_id, info.id)
        return Plan(model, session_id, (Target(instance, info),))

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

    def _instance(self, provider: Provider, sel: Selector, session_id: str,
                  model: str) -> Instance:
        instances = provider.instances
        if not instances:
            raise ServiceUnavailable(
                f"backend {provider.name} has no API key configured: set "
                f"{provider.settings.key_hint} and restart crossway",
                code="backend_not_configured")
        if sel.instance is not None:
            name = f"{provider.name}.{sel.instance}"
            for inst in instances:
                if inst.name == name:
                    return inst
            have = ", ".join(i.name for i in instances)
            raise ServiceUnavailable(
                f"instance {name} is not configured (configured: {have}); set the numbered "
                f"key for it, e.g. {provider.settings.key_hint.split(' ')[0]}_{sel.instance}",
                code="backend_not_configured")
        if len(instances) == 1:
            return instances[0]
        healthy = [i for i in instances if self.health.usable(i.name, model)]
        # Rendezvous hashing: a conversation always lands on the same key, and adding or
        # removing a key only moves the conversations that key takes or gives up.
        return max(healthy or instances, key=lambda i: _weight(session_id, i.name))

    def _unknown(self, requested: str, sel: Selector) -> NotFound:
        known = [r.public_id for r in self.routes()]
        bare = sorted({r.model.id for r in self.routes()})
        close = difflib.get_close_matches(requested, known, n=3, cutoff=0.5) or \
            difflib.get_close_matches(sel.model, bare, n=3, cutoff=0.5)
        hint = f" Closest known: {', '.join(close)}." if close else ""
        where = f" on backend {sel.backend}" if sel.backend else ""
        return NotFound(
            f"model '{requested}' is not known{where}.{hint} GET /v1/models lists every model; "
            "a backend can serve extra ids via extra.model_protocol_overrides in the config.",
            param="model", code="model_not_found")


def _weight(session_id: str, instance: str) -> bytes:
    return hashlib.blake2b(f"{session_id}|{instance}".encode(), digest_size=8).digest()
