"""Backends beyond the Go defaults: the Zen tier, generic OpenAI / Anthropic backends from YAML,
model-protocol overrides, and the Responses upstream dialect."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from crossway import signatures
from tests.conftest import ZEN_KEY
from tests.fakes.opencode import FakeOpenCode, Reply, ToolCallSpec
from tests.gateway import Gateway, request

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot-really-an-image").decode()


def test_zen_tier_serves_its_own_dialects(gateway: Gateway, fake_zen: FakeOpenCode) -> None:
    """minimax-m2.7 is a messages model on Go but a chat model on Zen (spec A4)."""
    fake_zen.script(Reply(text="from zen chat"), Reply(text="from zen claude"))
    client = anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0)
    msg = client.messages.create(model="opencode-zen/minimax-m2.7", max_tokens=20,
                                 messages=[{"role": "user", "content": "hi"}])
    assert msg.content[0].text == "from zen chat"
    msg = client.messages.create(
        model="opencode-zen/claude-sonnet-4-6", max_tokens=20,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"})
    assert msg.content[0].text == "from zen claude"
    chat, claude = fake_zen.completions()
    assert chat.path.endswith("/zen/v1/chat/completions") and chat.json["model"] == "minimax-m2.7"
    assert chat.headers["authorization"] == f"Bearer {ZEN_KEY}"
    assert claude.path.endswith("/zen/v1/messages")
    # A real Anthropic model gets the client's betas (Claude Code features depend on them).
    assert claude.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert claude.headers["x-api-key"] == ZEN_KEY


def test_minted_thinking_is_stripped_before_real_claude(
    gateway: Gateway, fake_zen: FakeOpenCode
) -> None:
    """A conversation that began on a translated model and moved to Claude must not replay
    crossway's own thinking signatures (spec B7); the fake Claude rejects foreign ones."""
    fake_zen.script(Reply(text="continuing on claude"))
    thought = "The user wants the weather; call the tool."
    client = anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0)
    msg = client.messages.create(
        model="opencode-zen/claude-sonnet-4-6", max_tokens=50,
        tools=[{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}],
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": thought, "signature": signatures.mint(thought)},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]},
        ])
    assert msg.content[0].text == "continuing on claude"
    sent = fake_zen.completions()[-1].json
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]


def test_images_cross_dialects(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    fake_go.script(Reply(text="a tiny png"), Reply(text="same png"))
    client = anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0)
    client.messages.create(model="opencode-go/glm-5.1", max_tokens=20, messages=[
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "text", "text": "What is this?"}]}])
    parts = fake_go.completions()[-1].json["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert parts[1] == {"type": "text", "text": "What is this?"}
    oclient = openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    oclient.chat.completions.create(model="opencode-go/minimax-m2.7", messages=[
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    blocks = fake_go.completions()[-1].json["messages"][0]["content"]
    assert blocks[1] == {"type": "image",
                         "source": {"type": "base64", "media_type": "image/png", "data": PNG}}


def test_responses_dialect_models_serve_chat_and_messages_clients(
        gateway: Gateway, fake_go: FakeOpenCode) -> None:
    """grok-4.5 is served on Go's /responses only: chat and messages clients reach it through
    the Responses upstream dialect, with Bearer auth and the session header."""
    fake_go.script(Reply(text="grok over chat"), Reply(text="grok over messages"))
    body = {"model": "opencode-go/grok-4.5", "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}]}
    status, _, payload = request(gateway, "POST", "/v1/chat/completions",
                                 json.dumps(body).encode(), {"content-type": "application/json"})
    assert status == 200, payload
    assert json.loads(payload)["choices"][0]["message"]["content"] == "grok over chat"
    status, _, payload = request(gateway, "POST", "/v1/messages", json.dumps(body).encode(),
                                 {"content-type": "application/json",
                                  "anthropic-version": "2023-06-01"})
    assert status == 200, payload
    assert json.loads(payload)["content"][0]["text"] == "grok over messages"
    sent = fake_go.completions()
    assert [r.path.rsplit("/", 1)[-1] for r in sent] == ["responses", "responses"]
    for rec in sent:
        assert rec.status == 200
        assert rec.json["model"] == "grok-4.5" and rec.json["store"] is False
        assert rec.headers["authorization"].startswith("Bearer ")
        assert rec.headers["x-opencode-session"].startswith("ses_")


@pytest.fixture(scope="module")
def generic(fake_zen: FakeOpenCode, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Gateway]:
    """Generic backends declared in YAML, pointed at the fake's routes (which speak plain
    OpenAI chat and Anthropic messages), plus an override moving a Go model's dialect."""
    cfg: Path = tmp_path_factory.mktemp("cfg") / "crossway.yaml"
    cfg.write_text(
        "backends:\n"
        "  vllm:\n"
        "    type: openai\n"
        f"    api_url: {fake_zen.base_url}\n"
        '    api_key: "${ZEN_TEST_KEY}"\n'
        "  claude:\n"
        "    type: anthropic\n"
        f"    api_url: {fake_zen.base_url}\n"
        '    api_key: "${ZEN_TEST_KEY}"\n'
        "    models: [claude-haiku-4-5]\n"
        "  opencode-zen:\n"
        '    api_key: "${ZEN_TEST_KEY}"\n'
        f"    api_url: {fake_zen.base_url}\n"
        "    extra:\n"
        "      model_protocol_overrides:\n"
        "        qwen3.7-max: anthropic\n"
        "        brand-new-model: openai\n"
    )
    with Gateway({"ZEN_TEST_KEY": ZEN_KEY}, args=("--config", str(cfg))) as gw:
        yield gw


def test_generic_openai_backend_accepts_models_named_with_it(
    generic: Gateway, fake_zen: FakeOpenCode
) -> None:
    fake_zen.script(Reply(tool_calls=[ToolCallSpec("lookup", {"q": "x"})]))
    client = anthropic.Anthropic(base_url=generic.url, api_key="x", max_retries=0)
    msg = client.messages.create(
        model="vllm:kimi-k2.6", max_tokens=20,
        tools=[{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}],
        messages=[{"role": "user", "content": "find x"}])
    assert msg.stop_reason == "tool_use" and msg.content[-1].input == {"q": "x"}
    sent = fake_zen.completions()[-1]
    assert sent.path.endswith("/chat/completions") and sent.json["model"] == "kimi-k2.6"
    # Generic OpenAI backends are not OpenCode: no session header is invented for them.
    assert "x-opencode-session" not in sent.headers


def test_generic_anthropic_backend_is_native(generic: Gateway, fake_zen: FakeOpenCode) -> None:
    fake_zen.script(Reply(text="haiku here"))
    client = openai.OpenAI(base_url=generic.url + "/v1", api_key="x", max_retries=0)
    r = client.chat.completions.create(model="claude/claude-haiku-4-5",
                                       messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "haiku here"
    sent = fake_zen.completions()[-1]
    assert sent.path.endswith("/messages") and sent.headers["x-api-key"] == ZEN_KEY
    assert sent.json["max_tokens"] > 0  # required by Anthropic, absent from the client request


def test_model_protocol_override_and_new_ids(generic: Gateway, fake_zen: FakeOpenCode) -> None:
    fake_zen.script(Reply(text="qwen via messages"))
    client = openai.OpenAI(base_url=generic.url + "/v1", api_key="x", max_retries=0)
    r = client.chat.completions.create(model="opencode-zen/qwen3.7-max",
                                       messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "qwen via messages"
    assert fake_zen.completions()[-1].path.endswith("/messages")
    ids = {m.id for m in client.models.list()}
    assert "opencode-zen/brand-new-model" in ids and "claude/claude-haiku-4-5" in ids
