"""What crossway advertises to clients: one list behind `GET /v1/models` and every generated
client config, so the ids a client is configured with are exactly the ids crossway serves.

Also where clients find crossway: its base URL (exactly one `/v1` where a client wants it,
whatever the user typed) and the client key a client must present.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crossway.config.settings import Dialect, Settings
from crossway.dialects import registry
from crossway.errors import NotImplementedYet
from crossway.providers.catalog import ModelFacts, model_facts
from crossway.routing.plan import Route, Router

CLIENT_KEY_ENV = "CROSSWAY_API_KEY"
# What a client sends when crossway requires no key: some clients refuse to start without
# one (Claude Code answers "Not logged in"); crossway ignores it.
NO_KEY_PLACEHOLDER = "crossway-no-key-required"


@dataclass(frozen=True, slots=True)
class Advertised:
    id: str  # the public id: `backend/model` (or a routing name)
    owned_by: str
    dialect: Dialect
    facts: ModelFacts
    ready: bool  # its backend has a key configured

    @property
    def model(self) -> str:
        return self.id.split("/", 1)[-1]


def advertised(router: Router,
               aliases: Mapping[str, Sequence[str]] | None = None) -> list[Advertised]:
    """Chat models crossway can serve today, in a stable order, then the routing names.

    `aliases`: routing name (go-auto, ...) -> the public ids it may route to; by default the
    router's own (aliases and auto routers), so they join every client config and
    GET /v1/models."""
    aliases = router.aliases() if aliases is None else aliases
    out = []
    for r in router.routes():
        facts = model_facts(r.model.id)
        if facts.chat and _servable(r.model.dialect):
            out.append(_advertise(r, facts))
    by_id = {a.id: a for a in out}
    for name, chain in (aliases or {}).items():
        alias = _alias(name, [by_id[m] for m in chain if m in by_id])
        if alias is not None:
            out.append(alias)
    return out


def _alias(name: str, members: Sequence[Advertised]) -> Advertised | None:
    """A routing name looks to a client like its most limited model (the smallest context
    and output, so the client compacts in time whichever model answers), while images and
    reasoning count if any model it may route to has them."""
    if not members:
        return None
    contexts = [m.facts.context for m in members]
    outputs = [m.facts.output for m in members]
    inputs = tuple(dict.fromkeys(x for m in members for x in m.facts.input_modalities))
    facts = ModelFacts(
        context=min(c for c in contexts if c) if all(contexts) else None,
        output=min(o for o in outputs if o) if all(outputs) else None,
        input_modalities=inputs,
        tool_call=all(m.facts.tool_call for m in members),
        reasoning=any(m.facts.reasoning for m in members),
        chat=True)
    return Advertised(name, "crossway", members[0].dialect, facts,
                      any(m.ready for m in members))


def _advertise(route: Route, facts: ModelFacts) -> Advertised:
    return Advertised(route.public_id, route.provider.name, route.model.dialect, facts,
                      bool(route.provider.instances))


def _servable(dialect: Dialect) -> bool:
    """A model whose upstream dialect has no codec in this version answers 501: not listed."""
    try:
        registry.get(dialect)
    except NotImplementedYet:
        return False
    return True


def metadata(a: Advertised) -> dict[str, Any]:
    """Extra fields for an OpenAI-shaped model entry (clients ignore fields they do not know).
    `context_length` is the name OpenRouter uses, which many agents already read."""
    f = a.facts
    return {
        "context_length": f.context,
        "max_output_tokens": f.output,
        "modalities": {"input": list(f.input_modalities), "output": ["text"]},
        "capabilities": {"tools": f.tool_call, "reasoning": f.reasoning,
                         "vision": f.image_input},
    }


def select(models: Sequence[Advertised], spec: str | None) -> list[Advertised]:
    """`--models`: all (default), a comma-separated list of ids, or globs (`opencode-go/*`)."""
    if spec is None or spec.strip() in ("", "all"):
        return list(models)
    patterns = [p.strip() for p in spec.split(",") if p.strip()]
    chosen = [m for m in models if any(fnmatch.fnmatchcase(m.id, p) for p in patterns)]
    for p in patterns:
        if not any(fnmatch.fnmatchcase(m.id, p) for m in models):
            known = ", ".join(m.id for m in models[:8])
            raise ValueError(f"--models: {p!r} matches no model crossway serves "
                             f"(known: {known}{', ...' if len(models) > 8 else ''})")
    return chosen


# Preferences for the defaults a generator writes when the user names no model. Tier-free
# model ids, best first; the first one served by a backend with a key wins.
STRONG = ("claude-opus-5", "claude-opus-4-8", "glm-5.3", "kimi-k3", "glm-5.2", "deepseek-v4-pro",
          "qwen3.8-max", "minimax-m3", "glm-5.1", "kimi-k2.6")
BALANCED = ("claude-sonnet-5", "claude-sonnet-4-6", "kimi-k2.6", "glm-5.1", "minimax-m2.7",
            "deepseek-v4-pro", "qwen3.7-plus")
FAST = ("claude-haiku-4-5", "deepseek-v4-flash", "minimax-m2.5", "glm-5", "qwen3.5-plus",
        "kimi-k2.5")


def pick(models: Sequence[Advertised], preference: Iterable[str]) -> Advertised | None:
    ready = [m for m in models if m.ready] or list(models)
    for want in preference:
        for m in ready:
            if m.model == want:
                return m
    return ready[0] if ready else None


def resolve(models: Sequence[Advertised], wanted: str, flag: str) -> Advertised:
    """A model the user named: its public id, or a bare id served by exactly one backend."""
    for m in models:
        if m.id == wanted:
            return m
    bare = [m for m in models if m.model == wanted]
    if len(bare) == 1:
        return bare[0]
    if bare:
        raise ValueError(f"{flag}: {wanted!r} is served by several backends; name one of "
                         + ", ".join(m.id for m in bare))
    raise ValueError(f"{flag}: crossway does not serve {wanted!r}; `crossway models` lists "
                     "what it serves")


# ------------------------------------------------------------------------------ endpoint

_TRAILING_V1 = re.compile(r"(?:/v1)+/*$")


def origin(settings: Settings, base_url: str | None = None) -> str:
    """crossway's base URL without `/v1` (no trailing slash), from --base-url or the settings.
    `http://h:8000/v1/v1/` and `http://h:8000` give the same answer."""
    if base_url:
        url = base_url.strip()
        if not re.match(r"^https?://[^/]+", url):
            raise ValueError(f"--base-url must be an http(s) URL, got {base_url!r}")
        url = url.rstrip("/")
        return _TRAILING_V1.sub("", url).rstrip("/")
    host = settings.host
    if host in ("0.0.0.0", "", "::"):  # listening everywhere: a local client uses loopback
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def v1(origin_url: str) -> str:
    return origin_url + "/v1"


def client_key(settings: Settings) -> str | None:
    """The key clients must present, or None when crossway accepts any request."""
    return settings.api_keys[0] if settings.api_keys else None
