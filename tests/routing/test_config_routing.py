"""config/routing.py: the `routing:` section (YAML) and CROSSWAY_ROUTING (JSON) as typed,
immutable settings; every malformed or unknown entry is a ConfigError naming it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import yaml

from crossway.config.routing import (
    FallbackBudget,
    RoutingSettings,
    load_routing,
    validate_models,
)
from crossway.errors import ConfigError
from crossway.routing.auto import GO_AUTO, ZEN_AUTO, ModelTraits
from crossway.routing.breaker import BreakerSettings
from crossway.routing.claude_names import ClaudeMapping

ISSUE_EXAMPLE = """
routing:
  aliases:
    fast: [opencode-go/deepseek-v4-flash, opencode-go/glm-5.1]
  fallbacks:
    opencode-go/kimi-k3: [opencode-go/kimi-k2.7-code, opencode-go/glm-5.1]
  claude: {opus: go-auto, sonnet: go-auto, haiku: opencode-go/deepseek-v4-flash}
  auto:
    go-auto:
      agent: [opencode-go/kimi-k3, opencode-go/glm-5.2]
      chat: opencode-go/glm-5.1
  models:
    opencode-go/kimi-k3: {context: 262144, vision: true}
  breaker: {failures: 3, cooldown: 12.5}
  budget: {attempts: 2, seconds: 60}
"""

ROUTABLE = {
    "opencode-go/deepseek-v4-flash", "opencode-go/glm-5.1", "opencode-go/glm-5.2",
    "opencode-go/kimi-k3", "opencode-go/kimi-k2.7-code",
}


def _section(text: str) -> Any:
    return yaml.safe_load(text)["routing"]


def test_defaults_without_any_config() -> None:
    s = load_routing(None, {})
    assert s.aliases == {} and s.fallbacks == {} and s.models == {}
    assert s.claude == ClaudeMapping()
    assert s.breaker == BreakerSettings(failures=5, cooldown=30.0)
    assert s.budget == FallbackBudget()
    assert dict(s.auto["go-auto"]) == dict(GO_AUTO)
    assert dict(s.auto["auto"]) == dict(GO_AUTO)
    assert dict(s.auto["zen-auto"]) == dict(ZEN_AUTO)
    assert RoutingSettings().auto == s.auto  # the bare dataclass has the same defaults
    validate_models(s, lambda m: False)  # nothing user-written to check


def test_the_issue_example() -> None:
    s = load_routing(_section(ISSUE_EXAMPLE), {})
    assert s.aliases["fast"] == ("opencode-go/deepseek-v4-flash", "opencode-go/glm-5.1")
    assert s.fallbacks["opencode-go/kimi-k3"] == ("opencode-go/kimi-k2.7-code",
                                                  "opencode-go/glm-5.1")
    assert s.claude.haiku == "opencode-go/deepseek-v4-flash" and s.claude.prefer_native
    go = s.auto["go-auto"]
    assert go["agent"] == ("opencode-go/kimi-k3", "opencode-go/glm-5.2")
    assert go["chat"] == ("opencode-go/glm-5.1",)
    assert go["code"] == GO_AUTO["code"]  # not given: the default stays
    assert s.auto["auto"] == go  # `auto` follows go-auto
    assert s.models["opencode-go/kimi-k3"] == ModelTraits(262144, True)
    assert s.breaker == BreakerSettings(failures=3, cooldown=12.5)
    assert s.budget == FallbackBudget(attempts=2, seconds=60.0)
    validate_models(s, ROUTABLE.__contains__)


def test_settings_are_immutable() -> None:
    s = load_routing(_section(ISSUE_EXAMPLE), {})
    with pytest.raises(TypeError):
        s.aliases["x"] = ("y",)  # type: ignore[index]
    with pytest.raises(TypeError):
        s.auto["go-auto"]["chat"] = ("y",)  # type: ignore[index]
    with pytest.raises(AttributeError):
        s.budget = FallbackBudget()  # type: ignore[misc]


def test_env_json_has_the_same_shape_and_wins_entry_by_entry() -> None:
    env = {"CROSSWAY_ROUTING": orjson.dumps({
        "fallbacks": {"opencode-go/glm-5.1": ["opencode-go/kimi-k2.6"]},
        "claude": {"haiku": "fast"},
        "auto": {"go-auto": {"chat": ["opencode-go/deepseek-v4-flash"]}},
        "budget": {"attempts": 7},
    }).decode()}
    s = load_routing(_section(ISSUE_EXAMPLE), env)
    assert set(s.fallbacks) == {"opencode-go/kimi-k3", "opencode-go/glm-5.1"}
    assert s.claude.haiku == "fast" and s.claude.opus == "go-auto"
    assert s.auto["go-auto"]["chat"] == ("opencode-go/deepseek-v4-flash",)
    assert s.auto["go-auto"]["agent"] == ("opencode-go/kimi-k3", "opencode-go/glm-5.2")
    assert s.budget == FallbackBudget(attempts=7, seconds=60.0)
    only_env = load_routing(None, env)
    assert only_env.fallbacks == {"opencode-go/glm-5.1": ("opencode-go/kimi-k2.6",)}


def test_new_auto_router_defaults_its_categories_to_chat() -> None:
    s = load_routing({"auto": {"cheap-auto": {"chat": ["a"], "code": ["b"]}}}, {})
    assert s.auto["cheap-auto"]["chat"] == ("a",)
    assert s.auto["cheap-auto"]["code"] == ("b",)
    assert s.auto["cheap-auto"]["vision"] == ("a",)
    with pytest.raises(ConfigError, match=r"routing\.auto\.bad-auto: a new auto router needs"):
        load_routing({"auto": {"bad-auto": {"code": ["b"]}}}, {})


def test_claude_native_switch() -> None:
    assert not load_routing({"claude": {"native": False}}, {}).claude.prefer_native
    with pytest.raises(ConfigError, match=r"routing\.claude\.native must be true or false"):
        load_routing({"claude": {"native": "no"}}, {})


@pytest.mark.parametrize(("section", "message"), [
    ("nope", r"^routing must be a mapping"),
    ({"alias": {}}, r"^routing\.alias: unknown key"),
    ({"aliases": ["fast"]}, r"^routing\.aliases must be a mapping"),
    ({"aliases": {"fast": []}}, r"^routing\.aliases\.fast must be a model name or a non-empty"),
    ({"aliases": {"fast": ["a", 3]}}, r"^routing\.aliases\.fast\[1\] must be a model name"),
    ({"aliases": {"fast": ["has space"]}}, r"^routing\.aliases\.fast\[0\] must be a model"),
    ({"fallbacks": {"m": {"x": 1}}}, r"^routing\.fallbacks\.m must be a model name or"),
    ({"claude": {"opus": "x", "poet": "y"}}, r"^routing\.claude\.poet: unknown key"),
    ({"claude": {"haiku": 5}}, r"^routing\.claude\.haiku must be a model name"),
    ({"auto": {"go-auto": {"coding": ["x"]}}}, r"^routing\.auto\.go-auto\.coding: unknown key"),
    ({"auto": {"go-auto": ["x"]}}, r"^routing\.auto\.go-auto must be a mapping"),
    ({"models": {"m": {"context": "big"}}}, r"^routing\.models\.m\.context must be a positive"),
    ({"models": {"m": {"ctx": 5}}}, r"^routing\.models\.m\.ctx: unknown key"),
    ({"models": {"m": {"vision": "yes"}}}, r"^routing\.models\.m\.vision must be true or"),
    ({"breaker": {"failures": 0}}, r"^routing\.breaker\.failures must be a positive integer"),
    ({"breaker": {"failures": 2.5}}, r"^routing\.breaker\.failures must be a positive integer"),
    ({"breaker": {"cooldown": True}}, r"^routing\.breaker\.cooldown must be a positive number"),
    ({"breaker": {"open_after": 3}}, r"^routing\.breaker\.open_after: unknown key"),
    ({"budget": {"attempts": -1}}, r"^routing\.budget\.attempts must be a positive integer"),
    ({"budget": {"time": 5}}, r"^routing\.budget\.time: unknown key"),
])
def test_malformed_entries_name_themselves(section: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_routing(section, {})


def test_env_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="CROSSWAY_ROUTING is not valid JSON"):
        load_routing(None, {"CROSSWAY_ROUTING": "{fallbacks:"})
    with pytest.raises(ConfigError, match=r"^CROSSWAY_ROUTING\.fallbacks\.x must be"):
        load_routing(None, {"CROSSWAY_ROUTING": '{"fallbacks": {"x": 1}}'})
    with pytest.raises(ConfigError, match=r"^CROSSWAY_ROUTING must be a mapping"):
        load_routing(None, {"CROSSWAY_ROUTING": "[1]"})


@pytest.mark.parametrize(("section", "entry"), [
    ({"aliases": {"fast": ["opencode-go/glm-5.1", "opencode-go/typo"]}},
     "routing.aliases.fast[1]: 'opencode-go/typo'"),
    ({"fallbacks": {"opencode-go/nope": ["opencode-go/glm-5.1"]}},
     "routing.fallbacks.opencode-go/nope: 'opencode-go/nope'"),
    ({"fallbacks": {"opencode-go/glm-5.1": ["go-auto", "opencode-go/x"]}},
     "routing.fallbacks.opencode-go/glm-5.1[1]: 'opencode-go/x'"),
    ({"claude": {"haiku": "opencode-go/haiku-ish"}}, "routing.claude.haiku: 'opencode-go/"),
    ({"auto": {"go-auto": {"code": ["opencode-go/glm-5.1", "go-auto"]}}},
     "routing.auto.go-auto.code[1]: 'go-auto'"),  # a router inside a router table
    ({"models": {"opencode-go/unknown": {"context": 1000}}},
     "routing.models.opencode-go/unknown: "),
])
def test_unroutable_names_are_a_start_up_error_naming_the_entry(
        section: dict[str, Any], entry: str) -> None:
    s = load_routing(section, {})
    with pytest.raises(ConfigError) as caught:
        validate_models(s, ROUTABLE.__contains__)
    assert str(caught.value).startswith(entry)
    assert "not a model any configured backend can route" in str(caught.value)


def test_validation_names_the_env_variable_for_env_entries() -> None:
    s = load_routing({"aliases": {"fast": ["opencode-go/glm-5.1"]}},
                     {"CROSSWAY_ROUTING": '{"aliases": {"slow": ["nope"]}}'})
    with pytest.raises(ConfigError, match=r"^CROSSWAY_ROUTING\.aliases\.slow\[0\]: 'nope'"):
        validate_models(s, ROUTABLE.__contains__)


def test_aliases_may_name_aliases_and_routers_but_not_loop_or_shadow_routers() -> None:
    ok = load_routing({"aliases": {"a": ["b", "go-auto"], "b": ["opencode-go/glm-5.1"]},
                       "fallbacks": {"opencode-go/glm-5.1": ["a"]},
                       "claude": {"opus": "zen-auto"}}, {})
    validate_models(ok, ROUTABLE.__contains__)
    loop = load_routing({"aliases": {"a": ["b"], "b": ["c"], "c": ["a"]}}, {})
    with pytest.raises(ConfigError, match=r"loop \(a -> b -> c -> a\)"):
        validate_models(loop, ROUTABLE.__contains__)
    shadow = load_routing({"aliases": {"auto": ["opencode-go/glm-5.1"]}}, {})
    with pytest.raises(ConfigError, match=r"routing\.aliases\.auto: the name 'auto' is an auto"):
        validate_models(shadow, ROUTABLE.__contains__)
