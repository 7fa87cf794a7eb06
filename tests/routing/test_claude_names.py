"""routing/claude_names.py: every Claude name Claude Code and the SDKs send resolves."""

from __future__ import annotations

import pytest

from crossway.routing.claude_names import (
    DEFAULT_HAIKU,
    ClaudeMapping,
    is_claude_name,
    parse_claude_name,
    route_claude,
)


@pytest.mark.parametrize(("model", "family", "base"), [
    ("claude-opus-5-5", "opus", "claude-opus-5-5"),
    ("claude-opus-4-7", "opus", "claude-opus-4-7"),
    ("claude-opus-4-1-20250805", "opus", "claude-opus-4-1"),
    ("claude-sonnet-4-6", "sonnet", "claude-sonnet-4-6"),
    ("claude-sonnet-4-6[1m]", "sonnet", "claude-sonnet-4-6"),
    ("claude-sonnet-4-5-20250929", "sonnet", "claude-sonnet-4-5"),
    ("claude-haiku-4-5-20251001", "haiku", "claude-haiku-4-5"),
    ("claude-haiku-4-5", "haiku", "claude-haiku-4-5"),
    ("claude-3-5-haiku-20241022", "haiku", "claude-3-5-haiku"),
    ("claude-3-5-haiku-latest", "haiku", "claude-3-5-haiku"),
    ("claude-3-7-sonnet-20250219", "sonnet", "claude-3-7-sonnet"),
    ("claude-3-opus-20240229", "opus", "claude-3-opus"),
    ("Claude-Opus-4-7", "opus", "claude-opus-4-7"),
    ("claude-sonnet-4.5", "sonnet", "claude-sonnet-4.5"),
    ("anthropic/claude-sonnet-4.5", "sonnet", "claude-sonnet-4.5"),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "sonnet", "claude-3-5-sonnet"),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", "sonnet", "claude-sonnet-4"),
    ("claude-opus-4@20250514", "opus", "claude-opus-4"),
    ("claude-fable-5", None, "claude-fable-5"),
    (" claude-opus-4-7 ", "opus", "claude-opus-4-7"),
])
def test_parse(model: str, family: str | None, base: str) -> None:
    name = parse_claude_name(model)
    assert name is not None
    assert name.family == family
    assert name.base == base
    assert name.long_context == ("[1m]" in model)


@pytest.mark.parametrize("model", [
    "glm-5.1", "opencode-go/kimi-k3", "go-auto", "claude", "claudette-1", "my-claude-clone",
    "opencode-zen/claude-opus-4-7", "",
])
def test_not_claude_names(model: str) -> None:
    assert parse_claude_name(model) is None
    assert not is_claude_name(model)


def _nothing_native(name: str) -> bool:
    return False


@pytest.mark.parametrize(("model", "expected"), [
    ("claude-opus-5-5", "go-auto"),
    ("claude-opus-4-7[1m]", "go-auto"),
    ("claude-sonnet-4-6", "go-auto"),
    ("claude-sonnet-4-5-20250929", "go-auto"),
    ("claude-haiku-4-5-20251001", DEFAULT_HAIKU),
    ("claude-3-5-haiku-latest", DEFAULT_HAIKU),
    ("claude-fable-5", "go-auto"),  # unknown family: the sonnet mapping
])
def test_only_a_go_key_maps_every_name(model: str, expected: str) -> None:
    route = route_claude(model, ClaudeMapping(), _nothing_native)
    assert route is not None
    assert route.model == expected
    assert not route.native


def test_default_haiku_is_a_go_model() -> None:
    assert DEFAULT_HAIKU.startswith("opencode-go/")


def test_not_a_claude_name_is_left_alone() -> None:
    assert route_claude("glm-5.1", ClaudeMapping(), _nothing_native) is None


def test_native_model_wins_when_a_backend_serves_it() -> None:
    zen = {"claude-opus-4-7", "claude-sonnet-4-6", "claude-sonnet-4-5", "claude-haiku-4-5"}
    asked: list[str] = []

    def serves(name: str) -> bool:
        asked.append(name)
        return name in zen

    route = route_claude("claude-haiku-4-5-20251001", ClaudeMapping(), serves)
    assert route is not None and route.native
    assert route.model == "claude-haiku-4-5"
    assert asked == ["claude-haiku-4-5-20251001", "claude-haiku-4-5"]

    route = route_claude("claude-sonnet-4-6[1m]", ClaudeMapping(), serves)
    assert route is not None and route.model == "claude-sonnet-4-6" and route.native
    assert route.name.long_context

    route = route_claude("claude-sonnet-4.5", ClaudeMapping(), serves)
    assert route is not None and route.model == "claude-sonnet-4-5"

    # A name the backend serves as sent is used exactly as sent (a dated id, say).
    route = route_claude("claude-opus-4-7", ClaudeMapping(), serves)
    assert route is not None and route.model == "claude-opus-4-7"

    # Not served natively (Claude Code 2.1.329's default): mapped.
    route = route_claude("claude-opus-5-5", ClaudeMapping(), serves)
    assert route is not None and route.model == "go-auto" and not route.native


def test_mapping_is_configurable_and_native_preference_can_be_turned_off() -> None:
    mapping = ClaudeMapping(opus="opencode-go/kimi-k3", sonnet="fast",
                            haiku="opencode-go/glm-5.1", prefer_native=False)

    def everything(name: str) -> bool:
        return True

    cases = {"claude-opus-4-7": "opencode-go/kimi-k3", "claude-sonnet-4-6": "fast",
             "claude-haiku-4-5": "opencode-go/glm-5.1"}
    for model, expected in cases.items():
        route = route_claude(model, mapping, everything)
        assert route is not None and route.model == expected and not route.native
