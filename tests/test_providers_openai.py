"""OpenAI-compatible presets and Azure through the running gateway, configured by environment
variables alone, against fakes that enforce each service's rules: OpenAI's reasoning models
refuse max_tokens and sampling parameters, Z.ai's GLM refuses to stop thinking ([1210]),
OpenRouter takes a `reasoning` object and attribution headers, Ollama needs no key, Azure
wants its api-key header, a deployment in the path and an api-version."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fakes.azure import FakeAzure
from tests.fakes.openai_compat import FakeOpenAI, Reply, ToolCall
from tests.gateway import Gateway, request
from tests.providers_util import (
    BASH_ANTHROPIC,
    BASH_OPENAI,
    anthropic_stream_tool,
    chat,
    messages,
    openai_stream_reasoning,
    openai_stream_text,
    openai_stream_tool,
)


@dataclass
class Fakes:
    openai: FakeOpenAI
    zai: FakeOpenAI
    openrouter: FakeOpenAI
    ollama: FakeOpenAI
    azure: FakeAzure
    deepseek: FakeOpenAI
    console: FakeOpenAI  # OpenCode's console inference, OpenAI family

    def all(self) -> list[FakeOpenAI]:
        return [self.openai, self.zai, self.openrouter, self.ollama, self.azure, self.deepseek,
                self.console]


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    f = Fakes(
        FakeOpenAI(keys=("sk-openai",), responses_only=("gpt-5-pro", "gpt-5-codex")),
        FakeOpenAI(keys=("sk-zai",), prefix="/api/coding/paas/v4", models=("glm-5.1",),
                   extra_params=frozenset(("thinking",)), always_thinking=("glm-",)),
        FakeOpenAI(keys=("sk-or",), prefix="/api/v1", models=("openai/gpt-oss-120b",),
                   extra_params=frozenset(("reasoning",)), reasoning_field="reasoning"),
        FakeOpenAI(keys=(), models=("llama3.2",)),
        FakeAzure(keys=("az-key",)),
        FakeOpenAI(keys=("sk-ds",), prefix="", models=("deepseek-v4-pro",),
                   extra_params=frozenset(("thinking",)), reasoning_replay=("deepseek-",)),
        FakeOpenAI(keys=("sk-console",), prefix="/inference/openai/v1", models=("glm-5.1",),
                   extra_params=frozenset(("thinking",))),
    )
    for fake in f.all():
        fake.start()
    yield f
    for fake in f.all():
        fake.stop()


@pytest.fixture(scope="module")
def gw(fakes: Fakes) -> Iterator[Gateway]:
    env = {
        "OPENAI_API_KEY": "sk-openai", "OPENAI_BASE_URL": fakes.openai.base_url,
        # instances of their own, for answers that make crossway rest or distrust a key
        "OPENAI_LIMITED_API_KEY": "sk-openai", "OPENAI_LIMITED_BASE_URL": fakes.openai.base_url,
        "OPENAI_OLD_API_KEY": "sk-revoked", "OPENAI_OLD_BASE_URL": fakes.openai.base_url,
        "ZAI_API_KEY": "sk-zai", "ZAI_BASE_URL": fakes.zai.base_url,
        "OPENROUTER_API_KEY": "sk-or", "OPENROUTER_BASE_URL": fakes.openrouter.base_url,
        "OPENROUTER_HTTP_REFERER": "https://example.test/app", "OPENROUTER_X_TITLE": "my app",
        "OLLAMA_BASE_URL": fakes.ollama.base_url,
        "OPENCODE_API_KEY": "sk-console",
        "OPENCODE_ZEN_BASE_URL": fakes.console.origin + "/inference",
        "DEEPSEEK_API_KEY": "sk-ds", "DEEPSEEK_BASE_URL": fakes.deepseek.base_url,
        "AZURE_API_KEY": "az-key", "AZURE_BASE_URL": fakes.azure.origin,
        "AZURE_MODELS": "chat-prod,reasoner",
        "AZURE_OLD_API_KEY": "az-key", "AZURE_OLD_BASE_URL": fakes.azure.origin + "/openai",
        "AZURE_OLD_API_VERSION": "2023-03-15-preview",
        "AZURE_REASONING_MODELS": "reasoner",
        # no model list: any deployment may be named (azure-any/<deployment>)
        "AZURE_ANY_API_KEY": "az-key", "AZURE_ANY_BASE_URL": fakes.azure.origin,
    }
    with Gateway(env) as g:
        yield g


@pytest.fixture(autouse=True)
def _clean(fakes: Fakes) -> None:
    for fake in fakes.all():
        fake.reset()


def _ask(model: str, **extra: object) -> dict[str, object]:
    return {"model": model, "max_tokens": 512, "messages": [{"role": "user", "content": "hi"}],
            **extra}


def _chat(model: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


# ---------------------------------------------------------------- OpenAI


def test_reasoning_model_gets_max_completion_tokens_from_anthropic_client(
        gw: Gateway, fakes: Fakes) -> None:
    fakes.openai.script(Reply(text="reasoned"))
    status, _, body = messages(gw, _ask("openai/o3", temperature=0.2))
    assert status == 200, body
    assert body["content"][0]["text"] == "reasoned"
    (sent,) = fakes.openai.chats()
    assert sent.json["max_completion_tokens"] == 512
    assert "max_tokens" not in sent.json and "temperature" not in sent.json
    assert sent.headers["authorization"] == "Bearer sk-openai"


def test_reasoning_model_fast_path_from_openai_client(gw: Gateway, fakes: Fakes) -> None:
    fakes.openai.script(Reply(text="streamed", reasoning="thinking hard"))
    status, _, events = chat(gw, _chat("openai/gpt-5", max_tokens=300, temperature=0.3,
                                       top_p=0.9, stream=True))
    assert status == 200, events
    assert openai_stream_text(events) == "streamed"
    assert openai_stream_reasoning(events) == "thinking hard"
    sent = fakes.openai.chats()[0].json
    assert sent["max_completion_tokens"] == 300
    assert not {"max_tokens", "temperature", "top_p"} & set(sent)


def test_non_reasoning_model_keeps_its_sampling(gw: Gateway, fakes: Fakes) -> None:
    status, _, data = chat(gw, _chat("openai/gpt-4.1", max_tokens=100, temperature=0.2))
    assert status == 200, data
    sent = fakes.openai.chats()[0].json
    assert sent["temperature"] == 0.2 and sent["max_completion_tokens"] == 100


def test_responses_only_models_go_to_responses(gw: Gateway, fakes: Fakes) -> None:
    fakes.openai.script(Reply(text="pro answer"), Reply(text="codex answer"))
    status, _, body = messages(gw, _ask("openai/gpt-5-pro", temperature=0.5))
    assert status == 200, body
    assert body["content"][-1]["text"] == "pro answer"
    status, _, events = chat(gw, _chat("openai/gpt-5-codex", stream=True))
    assert status == 200, events
    assert openai_stream_text(events) == "codex answer"
    first, second = fakes.openai.requests()
    assert first.path == second.path == "/v1/responses"
    assert "temperature" not in first.json  # a reasoning model refuses it on /responses too


def test_tool_loop_both_dialects(gw: Gateway, fakes: Fakes) -> None:
    fakes.openai.script(Reply(calls=[ToolCall("bash", {"cmd": "ls"})]), Reply(text="done"),
                        Reply(calls=[ToolCall("bash", {"cmd": "id"})]))
    status, _, events = messages(gw, _ask("openai/gpt-4.1", tools=[BASH_ANTHROPIC],
                                          stream=True))
    assert status == 200
    call_id, name, args = anthropic_stream_tool(events)
    assert (name, args) == ("bash", {"cmd": "ls"})
    status, _, body = messages(gw, _ask("openai/gpt-4.1", tools=[BASH_ANTHROPIC], messages=[
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": call_id, "name": "bash", "input": args}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call_id, "content": "a b"}]}]))
    assert status == 200 and body["content"][0]["text"] == "done"
    tool_msg = fakes.openai.chats()[1].json["messages"][-1]
    assert tool_msg == {"role": "tool", "tool_call_id": call_id, "content": "a b"}
    status, _, events = chat(gw, _chat("openai/gpt-4.1", tools=[BASH_OPENAI], stream=True))
    assert status == 200
    assert openai_stream_tool(events)[1:] == ("bash", {"cmd": "id"})


def test_rate_limit_in_each_dialect(gw: Gateway, fakes: Fakes) -> None:
    limited = Reply(error=(429, {"error": {"message": "Rate limit reached for o3",
                                           "type": "requests", "code": "rate_limit_exceeded"}}),
                    headers={"retry-after": "7"})
    fakes.openai.script(limited)
    status, headers, body = messages(gw, _ask("openai-limited/gpt-4.1"))
    assert status == 429 and body["error"]["type"] == "rate_limit_error"
    assert "Rate limit reached" in body["error"]["message"]
    assert headers.get("retry-after") == "7"


def test_refused_key_names_the_variable(gw: Gateway, fakes: Fakes) -> None:
    status, _, data = chat(gw, _chat("openai-old/gpt-4.1"))
    assert status == 502, data
    assert "OPENAI_OLD_API_KEY" in data["error"]["message"]
    assert "Incorrect API key" in data["error"]["message"]


def _listed(gw: Gateway, wanted: set[str], timeout: float = 10.0) -> set[str]:
    """GET /v1/models until every `wanted` id appears (listings are read in the background,
    one backend after another)."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, raw = request(gw, "GET", "/v1/models?all=1")
        assert status == 200
        ids = {m["id"] for m in json.loads(raw)["data"]}
        if wanted <= ids or time.monotonic() > deadline:
            return ids
        time.sleep(0.1)


def test_upstream_listings_feed_the_catalog(gw: Gateway, fakes: Fakes) -> None:
    wanted = {"openai/o3", "openai/gpt-5", "zai/glm-5.1", "ollama/llama3.2"}
    assert wanted <= _listed(gw, wanted)
    # Azure lists nothing with a key: its configured deployments are what it serves
    assert {"azure/chat-prod", "azure/reasoner"} <= _listed(gw, set())
    status, _, data = chat(gw, _chat("ollama:llama3.2"))
    assert status == 200, data


# ---------------------------------------------------------------- Z.ai, OpenRouter, Ollama


def test_zai_always_thinking_model_is_not_told_to_stop(gw: Gateway, fakes: Fakes) -> None:
    fakes.zai.script(Reply(text="ok", reasoning="I always think"))
    status, _, body = messages(gw, _ask("zai/glm-5.1", thinking={"type": "disabled"}))
    assert status == 200, body
    assert body["content"][-1]["text"] == "ok"
    assert "thinking" not in fakes.zai.chats()[0].json
    assert fakes.zai.chats()[0].path == "/api/coding/paas/v4/chat/completions"


def test_zai_1210_is_explained(gw: Gateway, fakes: Fakes) -> None:
    fakes.zai.script(Reply(error=(400, {"error": {"code": "1210", "message":
                                                  "[1210] thinking cannot be disabled"}})))
    status, _, body = messages(gw, _ask("zai/glm-5.1"))
    assert status == 400, body
    assert "always thinks" in body["error"]["message"]


def test_openrouter_reasoning_object_and_headers(gw: Gateway, fakes: Fakes) -> None:
    fakes.openrouter.script(Reply(text="answer", reasoning="routed thoughts"),
                            Reply(text="plain", reasoning="more thoughts"))
    status, _, events = chat(gw, _chat("openrouter/openai/gpt-oss-120b",
                                       reasoning_effort="high", stream=True))
    assert status == 200, events
    # same dialect both sides: OpenRouter's own field reaches the client as it was sent
    assert "".join(d["choices"][0]["delta"].get("reasoning") or "" for _, d in events
                   if isinstance(d, dict) and d.get("choices")) == "routed thoughts"
    sent = fakes.openrouter.chats()[0]
    assert "reasoning_effort" not in sent.json and sent.json["reasoning"] == {"effort": "high"}
    assert sent.headers["http-referer"] == "https://example.test/app"
    assert sent.headers["x-title"] == "my app"
    # OpenRouter's `reasoning` answer field reaches an Anthropic client as thinking
    status, _, body = messages(gw, _ask("openrouter/openai/gpt-oss-120b"))
    assert status == 200, body
    assert body["content"][0] == {"type": "thinking", "thinking": "more thoughts",
                                  "signature": body["content"][0].get("signature", "")}
    assert body["content"][-1]["text"] == "plain"


def test_ollama_needs_no_key(gw: Gateway, fakes: Fakes) -> None:
    fakes.ollama.script(Reply(text="local answer"))
    status, _, data = chat(gw, _chat("ollama/llama3.2"))
    assert status == 200, data
    assert data["choices"][0]["message"]["content"] == "local answer"
    assert "authorization" not in fakes.ollama.chats()[0].headers


def test_deepseek_gets_reasoning_content_back(gw: Gateway, fakes: Fakes) -> None:
    fakes.deepseek.script(Reply(text="third", reasoning="more"))
    history = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "first thoughts", "signature": ""},
            {"type": "text", "text": "first"}]},
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "second, said without thinking"},
        {"role": "user", "content": "three"}]
    status, _, body = messages(gw, _ask("deepseek/deepseek-v4-pro", messages=history))
    assert status == 200, body  # the fake refuses an assistant turn without reasoning_content
    assert body["content"][0] == {"type": "thinking", "thinking": "more",
                                  "signature": body["content"][0].get("signature", "")}
    sent = [m for m in fakes.deepseek.chats()[0].json["messages"] if m["role"] == "assistant"]
    assert [m["reasoning_content"] for m in sent] == ["first thoughts", ""]


def test_opencode_console_endpoint_per_family(gw: Gateway, fakes: Fakes) -> None:
    fakes.console.script(Reply(text="via the console"))
    status, _, body = messages(gw, _ask("opencode-zen/glm-5.1"))
    assert status == 200, body
    assert body["content"][-1]["text"] == "via the console"
    (sent,) = fakes.console.chats()
    assert sent.path == "/inference/openai/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-console"


# ---------------------------------------------------------------- Azure


def test_azure_deployment_both_dialects(gw: Gateway, fakes: Fakes) -> None:
    fakes.azure.script(Reply(text="from azure"), Reply(text="azure stream"))
    status, _, body = messages(gw, _ask("azure/chat-prod"))
    assert status == 200, body
    assert body["content"][0]["text"] == "from azure"
    sent = fakes.azure.chats()[0]
    assert sent.path == "/openai/deployments/chat-prod/chat/completions"
    assert sent.query["api-version"] == "2024-10-21"
    assert sent.headers["api-key"] == "az-key" and "authorization" not in sent.headers
    status, _, events = chat(gw, _chat("azure/chat-prod", stream=True))
    assert status == 200 and openai_stream_text(events) == "azure stream"


def test_azure_reasoning_deployment(gw: Gateway, fakes: Fakes) -> None:
    status, _, data = chat(gw, _chat("azure/reasoner", max_tokens=64, temperature=0.5))
    assert status == 200, data
    assert fakes.azure.chats()[0].json["max_completion_tokens"] == 64


def test_azure_unknown_deployment_and_api_version(gw: Gateway, fakes: Fakes) -> None:
    status, _, body = messages(gw, _ask("azure-any/missing"))
    assert status == 404, body
    assert "deployment for this resource does not exist" in body["error"]["message"]
    status, _, data = chat(gw, _chat("azure-old/chat-prod"))
    assert status == 400, data
    assert "API version not supported" in data["error"]["message"]
    assert fakes.azure.requests()[-1].path == "/openai/deployments/chat-prod/chat/completions"
