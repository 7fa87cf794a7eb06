"""`crossway models` rows: where each model's dialect came from, and the routing names."""

from __future__ import annotations

import json

from crossway.config.loader import load_settings
from crossway.providers import build_provider
from crossway.routing.listing import model_rows
from crossway.routing.setup import build_router


def test_rows_say_where_each_dialect_came_from() -> None:
    env = {"OPENCODE_GO_API_KEY": "sk-go-0123456789abcdef",
           "CROSSWAY_ROUTING": json.dumps({"aliases": {"fast": ["opencode-go/glm-5.1"]}})}
    settings = load_settings(None, env)
    providers = [build_provider(b) for b in settings.backends]
    go = next(p for p in providers if p.name == "opencode-go")
    assert go.add_discovered(["glm-6", "gemini-9-pro", "glm-5.1"]) == ["glm-6"]
    assert go.learn("glm-6", "anthropic") and not go.learn("glm-6", "anthropic")
    assert go.add_discovered(["qwen3.9-max"]) == ["qwen3.9-max"]
    rows = {r.model: r for r in model_rows(build_router(settings, providers))}
    assert (rows["opencode-go/glm-5.1"].dialect, rows["opencode-go/glm-5.1"].source) == (
        "openai_chat", "built-in")
    assert (rows["opencode-go/glm-6"].dialect, rows["opencode-go/glm-6"].source) == (
        "anthropic", "learned")
    assert (rows["opencode-go/qwen3.9-max"].dialect,  # Qwen3.x lives on /messages
            rows["opencode-go/qwen3.9-max"].source) == ("anthropic", "discovered")
    assert "opencode-go/gemini-9-pro" not in rows  # no codec for Google's route
    assert rows["opencode-go/glm-5.1"].instances == "opencode-go"
    assert rows["opencode-zen/glm-5.1"].instances == "(no key)"
    assert rows["fast"].dialect == "alias" and rows["fast"].source == "opencode-go/glm-5.1"
    assert rows["go-auto"].dialect == "auto router"
    assert "opencode-go/deepseek-v4-flash" in rows["go-auto"].source
    assert "zen-auto" not in rows  # Zen has no key


def test_overrides_are_never_relearned() -> None:
    env = {"OPENCODE_GO_API_KEY": "sk-go-0123456789abcdef"}
    settings = load_settings(None, env)
    go_settings = next(b for b in settings.backends if b.name == "opencode-go")
    overridden = type(go_settings)(**{**{f: getattr(go_settings, f)
                                         for f in go_settings.__slots__},
                                      "model_protocol_overrides": {"glm-5.1": "anthropic"}})
    go = build_provider(overridden)
    assert go.dialect_origin("glm-5.1") == "override"
    assert go.other_dialect("glm-5.1") is None  # the user's word is not second-guessed
    assert not go.learn("glm-5.1", "openai_chat")
    assert go.lookup("glm-5.1", explicit=False).dialect == "anthropic"  # type: ignore[union-attr]
    assert go.other_dialect("kimi-k2.6") == "anthropic"  # catalog entries may have moved
