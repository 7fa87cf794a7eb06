"""Provider quirks as capability-driven edits of a final chat/completions body (pure)."""

from __future__ import annotations

import dataclasses

from crossway.dialects import Capabilities
from crossway.providers.generic import apply_quirks
from crossway.providers.presets import preset
from crossway.providers.quirks import apply_chat_quirks

BODY = {"model": "m", "messages": [], "max_tokens": 100, "temperature": 0.2, "top_p": 0.9,
        "reasoning_effort": "high", "thinking": {"type": "disabled"}}


def test_no_capability_no_edit() -> None:
    assert apply_chat_quirks(BODY, Capabilities()) is BODY


def test_openai_reasoning_model() -> None:
    caps = apply_quirks(Capabilities(), preset("openai").quirks, "o3")
    out = apply_chat_quirks(BODY, caps)
    assert out["max_completion_tokens"] == 100 and "max_tokens" not in out
    assert "temperature" not in out and "top_p" not in out
    assert BODY["max_tokens"] == 100  # the input is never mutated


def test_openai_reasoning_off_keeps_sampling() -> None:
    caps = apply_quirks(Capabilities(), preset("openai").quirks, "gpt-5.1")
    out = apply_chat_quirks({**BODY, "reasoning_effort": "none"}, caps)
    assert out["temperature"] == 0.2


def test_openai_chat_models_keep_sampling() -> None:
    for model in ("gpt-4.1", "gpt-5-chat-latest"):
        caps = apply_quirks(Capabilities(), preset("openai").quirks, model)
        assert not caps.reasoning_rejects_sampling, model
        assert apply_chat_quirks(BODY, caps)["temperature"] == 0.2


def test_reasoning_models_named_by_configuration() -> None:
    quirks = preset("azure").quirks
    assert not apply_quirks(Capabilities(), quirks, "prod").reasoning_rejects_sampling
    caps = apply_quirks(Capabilities(), quirks, "prod", frozenset(("prod",)))
    assert caps.reasoning_rejects_sampling


def test_openrouter_reasoning_object() -> None:
    caps = apply_quirks(Capabilities(), preset("openrouter").quirks, "x/y")
    out = apply_chat_quirks({**BODY, "reasoning": {"exclude": True}}, caps)
    assert out["reasoning"] == {"exclude": True, "effort": "high"}
    assert "reasoning_effort" not in out


def test_always_thinking_drops_disabled_switch_only() -> None:
    caps = dataclasses.replace(Capabilities(), always_thinking=True)
    assert "thinking" not in apply_chat_quirks(BODY, caps)
    on = {**BODY, "thinking": {"type": "enabled"}}
    assert apply_chat_quirks(on, caps)["thinking"] == {"type": "enabled"}


def test_openai_responses_only_models() -> None:
    from crossway.config.settings import BackendSettings, KeySpec
    from crossway.providers import build_provider

    openai = build_provider(BackendSettings(
        name="openai", type="openai", api_url="https://api.openai.com/v1",
        keys=(KeySpec("k", "OPENAI_API_KEY"),), preset="openai"))
    for model in ("gpt-5-pro", "o3-pro", "o1-pro-2025-03-19", "gpt-5-codex",
                  "codex-mini-latest", "o4-mini-deep-research", "computer-use-preview"):
        info = openai.lookup(model, explicit=True)
        assert info is not None and info.dialect == "openai_responses", model
    for model in ("gpt-5", "gpt-4.1", "o3", "gpt-5-mini"):
        info = openai.lookup(model, explicit=True)
        assert info is not None and info.dialect == "openai_chat", model
    plain = build_provider(BackendSettings(name="vllm", type="openai",
                                           api_url="http://127.0.0.1:9/v1"))
    info = plain.lookup("gpt-5-pro", explicit=True)  # a YAML backend has no OpenAI quirks
    assert info is not None and info.dialect == "openai_chat"


def test_responses_quirks() -> None:
    from crossway.providers.quirks import apply_responses_quirks

    body = {"model": "o3-pro", "input": "x", "temperature": 0.1, "top_p": 0.5}
    caps = dataclasses.replace(Capabilities(), reasoning_rejects_sampling=True)
    assert apply_responses_quirks(body, caps) == {"model": "o3-pro", "input": "x"}
    off = {**body, "reasoning": {"effort": "none"}}
    assert apply_responses_quirks(off, caps) is off
