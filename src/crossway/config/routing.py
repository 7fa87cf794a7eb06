"""The `routing:` section of the config file, or the same shape as JSON in `CROSSWAY_ROUTING`,
as typed, immutable settings.

    routing:
      aliases:                      # name -> [primary, fallbacks...] (or one model string)
        fast: [opencode-go/deepseek-v4-flash, opencode-go/glm-5.1]
      fallbacks:                    # model -> the models tried, in order, when it fails
        opencode-go/kimi-k3: [opencode-go/kimi-k2.7-code, opencode-go/glm-5.1]
      claude: {opus: go-auto, sonnet: go-auto, haiku: opencode-go/deepseek-v4-flash,
               native: true}        # native: a backend serving the real Claude model wins
      auto:                         # per auto router; categories not given keep the default
        go-auto: {agent: [...], code: [...], reasoning: [...], long: [...], vision: [...],
                  chat: [...]}
      models:                       # what the auto classifier knows of a model
        opencode-go/kimi-k3: {context: 262144, vision: true}
      breaker: {failures: 5, cooldown: 30}
      budget: {attempts: 4, seconds: 300}

Both sources may be given; the environment wins entry by entry (an alias, a fallback list, a
router's category, a single claude/breaker/budget field). A new auto router needs a `chat`
chain; its other categories default to it. Unknown keys and malformed entries are a
ConfigError naming the entry; `validate_models` then checks every model name against what
the configured backends can route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

import orjson

from crossway.errors import ConfigError
from crossway.routing.auto import CATEGORIES, DEFAULT_TABLES, Category, ModelTraits
from crossway.routing.breaker import BreakerSettings
from crossway.routing.claude_names import ClaudeMapping

ENV_VAR = "CROSSWAY_ROUTING"
_KEYS = ("aliases", "fallbacks", "claude", "auto", "models", "breaker", "budget")
_CLAUDE_KEYS = ("opus", "sonnet", "haiku", "native")
_BREAKER_KEYS = ("failures", "cooldown", "probe_timeout")
_BUDGET_KEYS = ("attempts", "seconds")
_TRAIT_KEYS = ("context", "vision")

Chain = tuple[str, ...]
AutoTable = Mapping[Category, Chain]


@dataclass(frozen=True, slots=True)
class FallbackBudget:
    """How far the relay goes down a plan: at most `attempts` upstream tries, and no new try
    once `seconds` have passed since the request arrived."""

    attempts: int = 4
    seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    aliases: Mapping[str, Chain] = field(default_factory=lambda: MappingProxyType({}))
    fallbacks: Mapping[str, Chain] = field(default_factory=lambda: MappingProxyType({}))
    claude: ClaudeMapping = field(default_factory=ClaudeMapping)
    auto: Mapping[str, AutoTable] = field(default_factory=lambda: _freeze_tables({}))
    models: Mapping[str, ModelTraits] = field(default_factory=lambda: MappingProxyType({}))
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    budget: FallbackBudget = field(default_factory=FallbackBudget)
    # "section.entry" ("fallbacks.opencode-go/kimi-k3") -> the source that wrote it.
    origins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def where(self, section: str, entry: str, suffix: str = "") -> str:
        """`routing.fallbacks.<entry><suffix>` or `CROSSWAY_ROUTING.…`, whichever wrote it."""
        origin = self.origins.get(f"{section}.{entry}", "routing")
        return f"{origin}.{section}.{entry}{suffix}"


@dataclass(slots=True)
class _Partial:
    """One source's entries, before merging (only what that source wrote)."""

    where: str
    aliases: dict[str, Chain] = field(default_factory=dict)
    fallbacks: dict[str, Chain] = field(default_factory=dict)
    claude: dict[str, Any] = field(default_factory=dict)
    auto: dict[str, dict[Category, Chain]] = field(default_factory=dict)
    models: dict[str, ModelTraits] = field(default_factory=dict)
    breaker: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)


def load_routing(section: object, env: Mapping[str, str]) -> RoutingSettings:
    """The `routing:` section of the config file (None when absent) merged with
    `CROSSWAY_ROUTING` from the environment."""
    parts = [parse_section(section, "routing")]
    raw_env = (env.get(ENV_VAR) or "").strip()
    if raw_env:
        try:
            data = orjson.loads(raw_env)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{ENV_VAR} is not valid JSON: {exc}") from exc
        parts.append(parse_section(data, ENV_VAR))
    return merge(parts)


def parse_section(raw: object, where: str) -> _Partial:
    part = _Partial(where)
    if raw is None:
        return part
    section = _mapping(raw, where)
    _no_unknown(section, _KEYS, where)
    part.aliases = _chains(section.get("aliases"), f"{where}.aliases")
    part.fallbacks = _chains(section.get("fallbacks"), f"{where}.fallbacks")
    part.claude = _claude(section.get("claude"), f"{where}.claude")
    part.auto = _auto(section.get("auto"), f"{where}.auto")
    part.models = _models(section.get("models"), f"{where}.models")
    part.breaker = _numbers(section.get("breaker"), f"{where}.breaker", _BREAKER_KEYS,
                            integers=("failures",))
    part.budget = _numbers(section.get("budget"), f"{where}.budget", _BUDGET_KEYS,
                           integers=("attempts",))
    return part


def merge(parts: list[_Partial]) -> RoutingSettings:
    aliases: dict[str, Chain] = {}
    fallbacks: dict[str, Chain] = {}
    claude: dict[str, Any] = {}
    auto: dict[str, dict[Category, Chain]] = {}
    models: dict[str, ModelTraits] = {}
    breaker: dict[str, Any] = {}
    budget: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for p in parts:
        for name, entries in (("aliases", p.aliases), ("fallbacks", p.fallbacks),
                              ("auto", p.auto), ("models", p.models)):
            origins.update({f"{name}.{k}": p.where for k in entries})
        for router, table in p.auto.items():
            origins.update({f"auto.{router}.{c}": p.where for c in table})
        for name, fields in (("claude", p.claude), ("breaker", p.breaker),
                             ("budget", p.budget)):
            origins.update({f"{name}.{k}": p.where for k in fields})
        aliases.update(p.aliases)
        fallbacks.update(p.fallbacks)
        for router, table in p.auto.items():
            auto.setdefault(router, {}).update(table)
        models.update(p.models)
        claude.update(p.claude)
        breaker.update(p.breaker)
        budget.update(p.budget)
    _check_new_routers(auto, origins)
    return RoutingSettings(
        aliases=MappingProxyType(aliases),
        fallbacks=MappingProxyType(fallbacks),
        claude=_claude_mapping(claude),
        auto=_freeze_tables(auto),
        models=MappingProxyType(models),
        breaker=_breaker_settings(breaker),
        budget=_budget(budget),
        origins=MappingProxyType(origins),
    )


def validate_models(settings: RoutingSettings, is_routable: Callable[[str], bool]) -> None:
    """Raise ConfigError naming the first entry whose model the backends cannot route.
    Aliases may name aliases and auto routers; auto tables name models or aliases."""
    routers = set(settings.auto)
    for name in settings.aliases:
        if name in routers:
            raise ConfigError(f"{settings.where('aliases', name)}: the name {name!r} is "
                              "an auto router; choose another alias name")

    def check(at: tuple[str, str, str], model: str, *, routers_ok: bool = True) -> None:
        if model in settings.aliases or (routers_ok and model in routers) or is_routable(model):
            return
        raise ConfigError(
            f"{settings.where(*at)}: {model!r} is not a model any configured backend can "
            "route (GET /v1/models lists them; a backend's extra.model_protocol_overrides "
            "adds ids)")

    for name, chain in settings.aliases.items():
        for i, model in enumerate(chain):
            check(("aliases", name, f"[{i}]"), model)
    for model, chain in settings.fallbacks.items():
        check(("fallbacks", model, ""), model, routers_ok=False)
        for i, fb in enumerate(chain):
            check(("fallbacks", model, f"[{i}]"), fb)
    for family in ("opus", "sonnet", "haiku"):
        if f"claude.{family}" in settings.origins:  # defaults are checked by their tests
            check(("claude", family, ""), getattr(settings.claude, family))
    for router, table in settings.auto.items():
        for category, chain in table.items():
            if f"auto.{router}.{category}" not in settings.origins and \
                    router in DEFAULT_TABLES:
                continue  # a built-in chain: checked against the catalog by its own tests
            for i, model in enumerate(chain):
                check(("auto", router, f".{category}[{i}]"), model, routers_ok=False)
    for model in settings.models:
        check(("models", model, ""), model, routers_ok=False)
    _check_alias_cycles(settings)


def _check_alias_cycles(settings: RoutingSettings) -> None:
    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            loop = " -> ".join((*trail[trail.index(name):], name))
            raise ConfigError(f"{settings.where('aliases', trail[0])}: aliases refer to "
                              f"each other in a loop ({loop})")
        for model in settings.aliases.get(name, ()):
            if model in settings.aliases:
                visit(model, (*trail, name))

    for alias in settings.aliases:
        visit(alias, ())


# ------------------------------------------------------------------ entry parsers


def _mapping(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping (got {type(raw).__name__})")
    for key in raw:
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{where}: every key must be a non-empty string (got {key!r})")
    return cast(dict[str, Any], raw)


def _no_unknown(raw: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key (expected one of "
                              f"{', '.join(known)})")


def _model(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise ConfigError(f"{where} must be a model name without spaces (got {value!r})")
    return value


def _chain(value: object, where: str) -> Chain:
    if isinstance(value, str):
        return (_model(value, where),)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a model name or a non-empty list of model names")
    return tuple(_model(v, f"{where}[{i}]") for i, v in enumerate(value))


def _chains(raw: object, where: str) -> dict[str, Chain]:
    if raw is None:
        return {}
    return {_model(k, f"{where}.{k}"): _chain(v, f"{where}.{k}")
            for k, v in _mapping(raw, where).items()}


def _claude(raw: object, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    section = _mapping(raw, where)
    _no_unknown(section, _CLAUDE_KEYS, where)
    out: dict[str, Any] = {}
    for key, value in section.items():
        if key == "native":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.native must be true or false (got {value!r})")
            out[key] = value
        else:
            out[key] = _model(value, f"{where}.{key}")
    return out


def _auto(raw: object, where: str) -> dict[str, dict[Category, Chain]]:
    if raw is None:
        return {}
    out: dict[str, dict[Category, Chain]] = {}
    for router, table in _mapping(raw, where).items():
        here = f"{where}.{router}"
        _model(router, here)
        entries = _mapping(table, here)
        _no_unknown(entries, CATEGORIES, here)
        out[router] = {cast(Category, c): _chain(v, f"{here}.{c}") for c, v in entries.items()}
    return out


def _models(raw: object, where: str) -> dict[str, ModelTraits]:
    if raw is None:
        return {}
    out: dict[str, ModelTraits] = {}
    for model, spec in _mapping(raw, where).items():
        here = f"{where}.{model}"
        entries = _mapping(spec, here)
        _no_unknown(entries, _TRAIT_KEYS, here)
        context = entries.get("context", ModelTraits().context)
        if not isinstance(context, int) or isinstance(context, bool) or context < 1:
            raise ConfigError(f"{here}.context must be a positive integer (got {context!r})")
        vision = entries.get("vision", False)
        if not isinstance(vision, bool):
            raise ConfigError(f"{here}.vision must be true or false (got {vision!r})")
        out[_model(model, here)] = ModelTraits(context, vision)
    return out


def _numbers(raw: object, where: str, known: tuple[str, ...], *,
             integers: tuple[str, ...]) -> dict[str, Any]:
    if raw is None:
        return {}
    section = _mapping(raw, where)
    _no_unknown(section, known, where)
    out: dict[str, Any] = {}
    for key, value in section.items():
        ok = isinstance(value, int) if key in integers else isinstance(value, int | float)
        if not ok or isinstance(value, bool) or value <= 0:
            kind = "a positive integer" if key in integers else "a positive number"
            raise ConfigError(f"{where}.{key} must be {kind} (got {value!r})")
        out[key] = value
    return out


# ------------------------------------------------------------------ assembling


def _claude_mapping(fields: Mapping[str, Any]) -> ClaudeMapping:
    base = ClaudeMapping()
    return ClaudeMapping(
        opus=fields.get("opus", base.opus),
        sonnet=fields.get("sonnet", base.sonnet),
        haiku=fields.get("haiku", base.haiku),
        prefer_native=fields.get("native", base.prefer_native),
    )


def _check_new_routers(auto: Mapping[str, Mapping[Category, Chain]],
                       origins: Mapping[str, str]) -> None:
    for router, table in auto.items():
        if router not in DEFAULT_TABLES and "chat" not in table:
            raise ConfigError(f"{origins.get('auto.' + router, 'routing')}.auto.{router}: a "
                              "new auto router needs a chat chain (its other categories "
                              "default to it)")


def _freeze_tables(auto: Mapping[str, Mapping[Category, Chain]]) -> Mapping[str, AutoTable]:
    tables: dict[str, AutoTable] = {}
    for router, default in DEFAULT_TABLES.items():
        given = auto.get(router)
        if router == "auto" and given is None:
            given = auto.get("go-auto")  # `auto` follows go-auto unless set itself
            default = DEFAULT_TABLES["go-auto"]
        tables[router] = MappingProxyType({**default, **(given or {})})
    for router, given in auto.items():
        if router not in DEFAULT_TABLES:
            tables[router] = MappingProxyType({c: given.get(c, given["chat"])
                                               for c in CATEGORIES})
    return MappingProxyType(tables)


def _breaker_settings(fields: Mapping[str, Any]) -> BreakerSettings:
    base = BreakerSettings()
    return BreakerSettings(
        failures=fields.get("failures", base.failures),
        cooldown=float(fields.get("cooldown", base.cooldown)),
        probe_timeout=float(fields.get("probe_timeout", base.probe_timeout)),
    )


def _budget(fields: Mapping[str, Any]) -> FallbackBudget:
    base = FallbackBudget()
    return FallbackBudget(attempts=fields.get("attempts", base.attempts),
                          seconds=float(fields.get("seconds", base.seconds)))
