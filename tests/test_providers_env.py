"""Providers by environment alone: every variable of seed 003's table becomes the backend it
names, with the URL a request for its example model goes to; suffixed and numbered instances;
configured model lists as fallback or allowlist; a base URL pointing at crossway itself; the
YAML file winning over the environment; OpenCode's console endpoints per API family."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crossway.config.loader import load_settings
from crossway.config.settings import Settings
from crossway.providers import build_provider
from crossway.providers.base import Provider
from tests.gateway import Gateway, request

# (environment, backend, type, example model, the URL a non-stream request goes to)
TABLE = [
    ({"OPENAI_API_KEY": "k"}, "openai", "openai", "gpt-5.5",
     "https://api.openai.com/v1/chat/completions"),
    ({"ANTHROPIC_API_KEY": "k"}, "anthropic", "anthropic", "claude-sonnet-4-20250514",
     "https://api.anthropic.com/v1/messages"),
    ({"GEMINI_API_KEY": "k"}, "gemini", "gemini", "gemini-2.5-flash",
     "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"),
    ({"VERTEX_PROJECT": "proj", "VERTEX_LOCATION": "us-central1"}, "vertex", "vertex",
     "gemini-2.5-flash", "https://us-central1-aiplatform.googleapis.com/v1/projects/proj/"
     "locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"),
    ({"DEEPSEEK_API_KEY": "k"}, "deepseek", "deepseek", "deepseek-v4-pro",
     "https://api.deepseek.com/chat/completions"),
    ({"GROQ_API_KEY": "k"}, "groq", "groq", "llama-3.3-70b-versatile",
     "https://api.groq.com/openai/v1/chat/completions"),
    ({"OPENROUTER_API_KEY": "k"}, "openrouter", "openrouter", "google/gemini-2.5-flash",
     "https://openrouter.ai/api/v1/chat/completions"),
    ({"ZAI_API_KEY": "k"}, "zai", "zai", "glm-5.1",
     "https://api.z.ai/api/paas/v4/chat/completions"),
    ({"ZAI_API_KEY": "k", "ZAI_BASE_URL": "https://api.z.ai/api/coding/paas/v4"}, "zai", "zai",
     "glm-5.1", "https://api.z.ai/api/coding/paas/v4/chat/completions"),
    ({"XAI_API_KEY": "k"}, "xai", "xai", "grok-4", "https://api.x.ai/v1/chat/completions"),
    ({"BAILIAN_API_KEY": "k"}, "bailian", "bailian", "qwen3-max",
     "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions"),
    ({"BAILIAN_API_KEY": "k", "BAILIAN_BASE_URL": "https://dashscope-intl.aliyuncs.com/"
      "compatible-mode/v1"}, "bailian", "bailian", "qwen3-max",
     "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"),
    ({"MINIMAX_API_KEY": "k"}, "minimax", "minimax", "MiniMax-M3",
     "https://api.minimax.io/v1/chat/completions"),
    ({"XIAOMI_API_KEY": "k"}, "xiaomi", "xiaomi", "mimo-v2.5-pro",
     "https://api.xiaomimimo.com/v1/chat/completions"),
    ({"OPENCODE_GO_API_KEY": "k"}, "opencode-go", "opencode-go", "glm-5.1",
     "https://opencode.ai/zen/go/v1/chat/completions"),
    ({"OPENCODE_GO_API_KEY": "k", "OPENCODE_GO_BASE_URL": "https://proxy.example/go/v1"},
     "opencode-go", "opencode-go", "glm-5.1", "https://proxy.example/go/v1/chat/completions"),
    ({"AZURE_API_KEY": "k", "AZURE_BASE_URL": "https://res.openai.azure.com"}, "azure",
     "azure", "gpt-5", "https://res.openai.azure.com/openai/deployments/gpt-5/chat/completions"),
    ({"ORACLE_API_KEY": "k", "ORACLE_BASE_URL": "https://inference.generativeai.us-chicago-1."
      "oci.oraclecloud.com/20231130/actions/v1"}, "oracle", "oracle", "openai.gpt-oss-120b",
     "https://inference.generativeai.us-chicago-1.oci.oraclecloud.com/20231130/actions/v1/"
     "chat/completions"),
    ({"OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1"}, "ollama", "ollama", "llama3.2",
     "http://127.0.0.1:11434/v1/chat/completions"),
    ({"VLLM_BASE_URL": "http://gpu-box:8001/v1"}, "vllm", "vllm",
     "meta-llama/Llama-3.1-8B-Instruct", "http://gpu-box:8001/v1/chat/completions"),
    ({"BEDROCK_BASE_URL": "us-east-1"}, "bedrock", "bedrock",
     "anthropic.claude-3-5-haiku-20241022-v1:0", "https://bedrock-runtime.us-east-1."
     "amazonaws.com/model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke"),
]


def _load(env: dict[str, str], **kw: int) -> Settings:
    return load_settings(None, env, **kw)


def _provider(settings: Settings, name: str) -> Provider:
    backend = settings.backend(name)
    assert backend is not None, [b.name for b in settings.backends]
    return build_provider(backend)


@pytest.mark.parametrize(("env", "name", "btype", "model", "url"), TABLE,
                         ids=[f"{row[1]}-{i}" for i, row in enumerate(TABLE)])
def test_every_variable_of_the_table(env: dict[str, str], name: str, btype: str, model: str,
                                     url: str) -> None:
    settings = _load(env)
    provider = _provider(settings, name)
    assert provider.settings.type == btype and provider.instances, provider.settings
    info = provider.lookup(model, explicit=True)
    assert info is not None
    assert provider.url_for(info.dialect, model, stream=False) == url
    assert settings.notices == ()


def test_keyless_backends_get_one_instance_without_a_key() -> None:
    settings = _load({"OLLAMA_BASE_URL": "http://127.0.0.1:11434/v1",
                      "VLLM_BASE_URL": "http://gpu:8001/v1", "VLLM_API_KEY": "vk"})
    (ollama,) = _provider(settings, "ollama").instances
    assert ollama.name == "ollama" and ollama.key.key == ""
    (vllm,) = _provider(settings, "vllm").instances
    assert vllm.key.key == "vk" and vllm.key.source == "VLLM_API_KEY"


def test_required_companions_and_their_absence() -> None:
    settings = _load({"AZURE_API_KEY": "k", "ORACLE_API_KEY": "k", "VERTEX_PROJECT": "p"})
    assert {b.name for b in settings.backends} == {"opencode-go", "opencode-zen"}
    text = " ".join(settings.notices)
    assert "AZURE_BASE_URL" in text and "ORACLE_BASE_URL" in text
    assert "VERTEX_LOCATION" in text


def test_azure_api_version_and_v1_base() -> None:
    settings = _load({"AZURE_API_KEY": "k", "AZURE_BASE_URL": "https://r.openai.azure.com/openai",
                      "AZURE_API_VERSION": "2025-04-01-preview",
                      "AZURE_NEXT_API_KEY": "k2",
                      "AZURE_NEXT_BASE_URL": "https://r.openai.azure.com/openai/v1"})
    azure = _provider(settings, "azure")
    assert azure.settings.options["API_VERSION"] == "2025-04-01-preview"
    assert azure.url_for("openai_chat", "dep", stream=False) == \
        "https://r.openai.azure.com/openai/deployments/dep/chat/completions"
    nxt = _provider(settings, "azure-next")
    assert nxt.url_for("openai_chat", "dep", stream=True) == \
        "https://r.openai.azure.com/openai/v1/chat/completions"


def test_suffixed_and_numbered_instances() -> None:
    settings = _load({"OPENAI_API_KEY": "main", "OPENAI_EAST_API_KEY": "east",
                      "OPENAI_EAST_BASE_URL": "https://east.example/v1",
                      "OPENAI_EAST_MODELS": "gpt-4.1, o3",
                      "DEEPSEEK_API_KEY_1": "d1", "DEEPSEEK_API_KEY_2": "d2",
                      "VERTEX_US_PROJECT": "p", "VERTEX_US_LOCATION": "global"})
    east = _provider(settings, "openai-east")
    assert east.settings.type == "openai" and east.base_url == "https://east.example/v1"
    assert {m.id for m in east.models()} == {"gpt-4.1", "o3"}
    assert east.instances[0].key.source == "OPENAI_EAST_API_KEY"
    deepseek = _provider(settings, "deepseek")
    assert [i.name for i in deepseek.instances] == ["deepseek.1", "deepseek.2"]
    assert deepseek.settings.key_hint.startswith("DEEPSEEK_API_KEY")
    vertex = _provider(settings, "vertex-us")
    assert vertex.base_url == ("https://aiplatform.googleapis.com/v1/projects/p/locations/"
                               "global/publishers/google")


def test_models_fallback_mode() -> None:
    settings = _load({"GROQ_API_KEY": "k", "GROQ_MODELS": "llama-3.3-70b-versatile"})
    groq = _provider(settings, "groq")
    assert groq.settings.models_mode == "fallback" and groq.lists_models
    assert groq.models_request(groq.instances[0]) is not None
    listing = json.dumps({"data": [{"id": "qwen3-32b"}]}).encode()
    assert groq.parse_models(listing) == ["qwen3-32b"]
    assert groq.parse_models(b'{"data": []}') == ["llama-3.3-70b-versatile"]
    # a model named explicitly is still served (the listing may lag the service)
    assert groq.lookup("new-model", explicit=True) is not None


def test_models_allowlist_mode() -> None:
    settings = _load({"GROQ_API_KEY": "k", "GROQ_MODELS": "llama-3.3-70b-versatile",
                      "XAI_API_KEY": "k", "CONFIGURED_PROVIDER_MODELS_MODE": "allowlist"})
    groq = _provider(settings, "groq")
    assert groq.settings.models_mode == "allowlist" and not groq.lists_models
    assert groq.models_request(groq.instances[0]) is None
    assert [m.id for m in groq.models()] == ["llama-3.3-70b-versatile"]
    assert groq.lookup("other-model", explicit=True) is None
    xai = _provider(settings, "xai")  # no list: the upstream listing decides
    assert xai.settings.models_mode == "discover" and xai.lists_models


def test_a_wrong_models_mode_is_reported() -> None:
    settings = _load({"GROQ_API_KEY": "k", "CONFIGURED_PROVIDER_MODELS_MODE": "sometimes"})
    assert any("CONFIGURED_PROVIDER_MODELS_MODE" in n for n in settings.notices)


def test_base_url_pointing_at_crossway_itself() -> None:
    settings = _load({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://localhost:8123",
                      "OLLAMA_BASE_URL": "http://127.0.0.1:8123/v1",
                      "VLLM_BASE_URL": "http://127.0.0.1:9999/v1"}, port=8123)
    anthropic = settings.backend("anthropic")
    assert anthropic is not None and anthropic.api_url == "https://api.anthropic.com/v1"
    assert settings.backend("ollama") is None
    assert settings.backend("vllm") is not None  # another port: another server
    assert len([n for n in settings.notices if "points at crossway itself" in n]) == 2


def test_the_config_file_wins(tmp_path: Path) -> None:
    config = tmp_path / "crossway.yaml"
    config.write_text("backends:\n  openai: {type: openai, api_url: 'http://127.0.0.1:9/v1', "
                      "api_key: file-key}\n")
    settings = load_settings(str(config), {"OPENAI_API_KEY": "env-key"})
    openai = settings.backend("openai")
    assert openai is not None and openai.keys[0].key == "file-key"
    assert any("declared in the config file" in n for n in settings.notices)


def test_file_backend_of_a_preset_type(tmp_path: Path) -> None:
    config = tmp_path / "crossway.yaml"
    config.write_text("backends:\n  work-llm:\n    type: zai\n    api_url: "
                      "https://api.z.ai/api/coding/paas/v4\n    api_key: k\n"
                      "    models_mode: allowlist\n    models: [glm-5.1]\n")
    zai = _provider(load_settings(str(config), {}), "work-llm")
    info = zai.lookup("glm-5.1", explicit=False)
    assert info is not None and info.caps.always_thinking
    assert zai.lookup("glm-4", explicit=True) is None


def test_opencode_console_endpoints_per_api_family() -> None:
    settings = _load({"OPENCODE_API_KEY": "k",
                      "OPENCODE_ZEN_BASE_URL": "https://opencode.ai/inference"})
    zen = settings.backend("opencode-zen")
    assert zen is not None
    assert zen.dialect_urls == {
        "openai_chat": "https://opencode.ai/inference/openai/v1",
        "openai_responses": "https://opencode.ai/inference/openai/v1",
        "anthropic": "https://opencode.ai/inference/anthropic/v1",
        "gemini": "https://opencode.ai/inference/google/v1beta",
    }
    go = settings.backend("opencode-go")
    assert go is not None and go.dialect_urls == {}  # /zen/go/v1 serves every family
    provider = build_provider(zen)
    assert provider.url_for("anthropic", "claude-sonnet-4-6", stream=True) == \
        "https://opencode.ai/inference/anthropic/v1/messages"
    assert provider.url_for("openai_responses", "gpt-5.5", stream=False) == \
        "https://opencode.ai/inference/openai/v1/responses"
    listing = provider.models_request(provider.instances[0])
    assert listing is not None and listing.url == "https://opencode.ai/inference/v1/models"
    assert build_provider(go).url_for("anthropic", "minimax-m3", stream=False) == \
        "https://opencode.ai/zen/go/v1/messages"


def test_crossway_models_lists_env_backends() -> None:
    env = {"PATH": "/usr/bin:/bin", "GEMINI_API_KEY": "k", "GEMINI_MODELS": "gemini-2.5-pro",
           "CONFIGURED_PROVIDER_MODELS_MODE": "allowlist"}
    out = subprocess.run([sys.executable, "-m", "crossway", "models"], env=env, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    line = next(x for x in out.splitlines() if x.startswith("gemini/gemini-2.5-pro"))
    assert line.split()[2:] == ["gemini", "config"]  # dialect, where it came from


def test_v1_models_shows_configured_models() -> None:
    with Gateway({"GROQ_API_KEY": "k", "GROQ_MODELS": "llama-3.3-70b-versatile",
                  "CONFIGURED_PROVIDER_MODELS_MODE": "allowlist"}) as g:
        status, _, raw = request(g, "GET", "/v1/models?all=1")
    assert status == 200
    ids = {m["id"] for m in json.loads(raw)["data"]}
    assert "groq/llama-3.3-70b-versatile" in ids
