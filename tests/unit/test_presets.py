"""Provider presets and discovery from the environment, tested with plain mappings."""

from __future__ import annotations

import pytest

from crossway.providers.presets import PRESETS, EnvKey, discover, preset

# Every provider of seed 003 / issue 12, with the variables that alone register it.
MINIMAL_ENV: dict[str, dict[str, str]] = {
    "openai": {"OPENAI_API_KEY": "sk-o"},
    "anthropic": {"ANTHROPIC_API_KEY": "sk-ant"},
    "gemini": {"GEMINI_API_KEY": "gk"},
    "vertex": {"VERTEX_PROJECT": "proj", "VERTEX_LOCATION": "us-central1"},
    "deepseek": {"DEEPSEEK_API_KEY": "sk-d"},
    "groq": {"GROQ_API_KEY": "gsk"},
    "openrouter": {"OPENROUTER_API_KEY": "sk-or"},
    "zai": {"ZAI_API_KEY": "z"},
    "xai": {"XAI_API_KEY": "x"},
    "bailian": {"BAILIAN_API_KEY": "b"},
    "minimax": {"MINIMAX_API_KEY": "m"},
    "xiaomi": {"XIAOMI_API_KEY": "mi"},
    "opencode-go": {"OPENCODE_GO_API_KEY": "go"},
    "opencode-zen": {"OPENCODE_API_KEY": "zen"},
    "azure": {"AZURE_API_KEY": "az", "AZURE_BASE_URL": "https://r.openai.azure.com/openai"},
    "oracle": {"ORACLE_API_KEY": "oc", "ORACLE_BASE_URL": "https://inference.oci.example/v1"},
    "ollama": {"OLLAMA_BASE_URL": "http://localhost:11434/v1"},
    "vllm": {"VLLM_BASE_URL": "http://gpu:8000/v1/"},
    "bedrock": {"BEDROCK_BASE_URL": "us-east-1"},
}

EXPECTED_URL = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
    "vertex": "https://us-central1-aiplatform.googleapis.com/v1/projects/proj/locations/"
              "us-central1/publishers/google",
    "deepseek": "https://api.deepseek.com",
    "groq": "https://api.groq.com/openai/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "zai": "https://api.z.ai/api/paas/v4",
    "xai": "https://api.x.ai/v1",
    "bailian": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "minimax": "https://api.minimax.io/v1",
    "xiaomi": "https://api.xiaomimimo.com/v1",
    "opencode-go": "https://opencode.ai/zen/go/v1",
    "opencode-zen": "https://opencode.ai/zen/v1",
    "azure": "https://r.openai.azure.com/openai",
    "oracle": "https://inference.oci.example/v1",
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://gpu:8000/v1",
    "bedrock": "https://bedrock-runtime.us-east-1.amazonaws.com",
}


def test_table_covers_every_provider_once() -> None:
    names = [p.name for p in PRESETS]
    assert sorted(names) == sorted(MINIMAL_ENV)
    assert len({p.env_prefix for p in PRESETS}) == len(PRESETS)


@pytest.mark.parametrize("name", sorted(MINIMAL_ENV))
def test_each_provider_from_its_variables(name: str) -> None:
    found = discover(MINIMAL_ENV[name])
    assert found.problems == ()
    assert [b.name for b in found.backends] == [name]
    backend = found.backends[0]
    assert backend.type == name and backend.preset is preset(name)
    assert backend.base_url == EXPECTED_URL[name]
    assert backend.models == () and backend.models_mode == "discover"
    assert set(backend.sources) == set(MINIMAL_ENV[name])


def test_everything_at_once_and_nothing() -> None:
    env = {k: v for e in MINIMAL_ENV.values() for k, v in e.items()}
    found = discover(env)
    assert found.problems == ()
    assert [b.name for b in found.backends] == [p.name for p in PRESETS]
    assert discover({}).backends == ()
    assert discover({"PATH": "/bin", "OPENAI_ORG_ID": "org"}) == discover({})


def test_dialects_auth_and_quirks() -> None:
    assert preset("gemini").dialect == "gemini" and preset("gemini").auth == "x-goog-api-key"
    assert preset("vertex").auth == "google-oauth" and preset("vertex").extra == "vertex"
    assert preset("bedrock").auth == "aws-sigv4" and preset("bedrock").extra == "bedrock"
    assert preset("azure").auth == "api-key" and preset("azure").quirks.deployment_in_path
    assert preset("anthropic").quirks.anthropic_native
    assert preset("openai").quirks.max_completion_tokens
    assert preset("openai").quirks.reasoning_rejects_sampling
    assert preset("deepseek").quirks.reasoning_replay
    assert preset("zai").quirks.always_thinking
    assert preset("openrouter").quirks.optional_headers == ("HTTP-Referer", "X-Title")
    assert preset("ollama").key == "optional" and preset("vllm").key == "optional"


def test_keys_plain_and_numbered() -> None:
    one = discover({"DEEPSEEK_API_KEY": "k"}).backends[0]
    assert one.keys == (EnvKey("k", "DEEPSEEK_API_KEY"),)
    many = discover({"DEEPSEEK_API_KEY": "ignored", "DEEPSEEK_API_KEY_2": "b",
                     "DEEPSEEK_API_KEY_1": "a", "DEEPSEEK_API_KEY_10": "c"}).backends[0]
    assert many.keys == (EnvKey("a", "DEEPSEEK_API_KEY_1", 1), EnvKey("b", "DEEPSEEK_API_KEY_2", 2),
                         EnvKey("c", "DEEPSEEK_API_KEY_10", 10))
    only_numbered = discover({"GROQ_API_KEY_1": "a"}).backends
    assert [b.name for b in only_numbered] == ["groq"]


def test_base_url_and_models_overrides() -> None:
    env = {"ZAI_API_KEY": "z", "ZAI_BASE_URL": "https://api.z.ai/api/coding/paas/v4/",
           "ZAI_MODELS": " glm-5.1 , glm-5,, "}
    backend = discover(env).backends[0]
    assert backend.base_url == "https://api.z.ai/api/coding/paas/v4"
    assert backend.models == ("glm-5.1", "glm-5") and backend.models_mode == "fallback"


def test_suffixed_instances() -> None:
    env = {
        "OPENAI_API_KEY": "main",
        "OPENAI_EAST_API_KEY": "east", "OPENAI_EAST_BASE_URL": "https://east.example/v1",
        "OPENAI_EAST_MODELS": "gpt-5",
        "OPENAI_US_WEST_API_KEY_1": "w1", "OPENAI_US_WEST_API_KEY_2": "w2",
        "OPENAI_REGION_2_API_KEY": "r2",
        "VERTEX_US_PROJECT": "p", "VERTEX_US_LOCATION": "global",
        "OLLAMA_GPU_BASE_URL": "http://gpu:11434/v1",
    }
    found = discover(env)
    assert found.problems == ()
    by_name = {b.name: b for b in found.backends}
    assert list(by_name) == ["openai", "openai-east", "openai-region-2", "openai-us-west",
                             "vertex-us", "ollama-gpu"]
    east = by_name["openai-east"]
    assert east.type == "openai" and east.base_url == "https://east.example/v1"
    assert east.models == ("gpt-5",) and east.keys == (EnvKey("east", "OPENAI_EAST_API_KEY"),)
    assert [k.number for k in by_name["openai-us-west"].keys] == [1, 2]
    assert by_name["openai-region-2"].base_url == "https://api.openai.com/v1"
    assert by_name["vertex-us"].base_url == ("https://aiplatform.googleapis.com/v1/projects/p/"
                                             "locations/global/publishers/google")
    assert by_name["vertex-us"].options == {"PROJECT": "p", "LOCATION": "global",
                                            "AUTH_TYPE": "gcp_adc"}


def test_opencode_variables_do_not_collide() -> None:
    env = {"OPENCODE_API_KEY": "zen", "OPENCODE_ZEN_BASE_URL": "http://127.0.0.1:9/zen/v1",
           "OPENCODE_GO_API_KEY_1": "go1", "OPENCODE_GO_BASE_URL": "http://127.0.0.1:9/go/v1",
           "OPENCODE_GO_MESSAGES_MODELS": "qwen3.7-max", "OPENCODE_GO_EU_API_KEY": "eu"}
    found = discover(env)
    assert found.problems == ()
    by_name = {b.name: b for b in found.backends}
    assert sorted(by_name) == ["opencode-go", "opencode-go-eu", "opencode-zen"]
    assert by_name["opencode-zen"].base_url == "http://127.0.0.1:9/zen/v1"
    assert by_name["opencode-go"].base_url == "http://127.0.0.1:9/go/v1"
    assert by_name["opencode-go"].options == {"MESSAGES_MODELS": "qwen3.7-max"}
    assert by_name["opencode-go-eu"].type == "opencode-go"


def test_models_mode() -> None:
    env = {"OPENROUTER_API_KEY": "k", "OPENROUTER_MODELS": "openai/gpt-oss-120b",
           "GROQ_API_KEY": "g"}
    modes = {b.name: b.models_mode for b in discover(env).backends}
    assert modes == {"openrouter": "fallback", "groq": "discover"}
    modes = {b.name: b.models_mode
             for b in discover({**env, "CONFIGURED_PROVIDER_MODELS_MODE": "Allowlist"}).backends}
    assert modes == {"openrouter": "allowlist", "groq": "discover"}
    bad = discover({**env, "CONFIGURED_PROVIDER_MODELS_MODE": "sometimes"})
    assert bad.problems == ("CONFIGURED_PROVIDER_MODELS_MODE='sometimes' is not fallback or "
                            "allowlist; using fallback",)
    # Without a listing endpoint, a configured list is all there is.
    azure = discover({**MINIMAL_ENV["azure"], "AZURE_MODELS": "gpt-5"}).backends[0]
    assert azure.models_mode == "allowlist"


def test_azure_options_and_requirements() -> None:
    backend = discover(MINIMAL_ENV["azure"]).backends[0]
    assert backend.options == {"API_VERSION": "2024-10-21"}
    custom = discover({**MINIMAL_ENV["azure"], "AZURE_API_VERSION": "2025-04-01-preview"})
    assert custom.backends[0].options == {"API_VERSION": "2025-04-01-preview"}
    missing = discover({"AZURE_API_KEY": "az"})
    assert missing.backends == ()
    assert missing.problems == ("backend azure needs AZURE_BASE_URL; it is not registered",)
    no_location = discover({"VERTEX_PROJECT": "p"})
    assert no_location.problems == ("backend vertex needs VERTEX_LOCATION; it is not registered",)


def test_orphan_variables_are_reported_not_guessed() -> None:
    found = discover({"OPENAI_EAST_BASE_URL": "https://east.example/v1",
                      "VLLM_API_KEY": "k"})
    assert found.backends == ()
    assert found.problems == (
        "OPENAI_EAST_BASE_URL set without OPENAI_EAST_API_KEY: backend openai-east is not "
        "registered",
        "VLLM_API_KEY set without VLLM_BASE_URL: backend vllm is not registered",
    )


def test_optional_and_unused_keys() -> None:
    vllm = discover({"VLLM_BASE_URL": "http://gpu/v1", "VLLM_API_KEY": "secret"}).backends[0]
    assert vllm.keys == (EnvKey("secret", "VLLM_API_KEY"),)
    ollama = discover(MINIMAL_ENV["ollama"]).backends[0]
    assert ollama.keys == ()
    bedrock = discover({"BEDROCK_BASE_URL": "https://vpce.example/bedrock",
                        "BEDROCK_API_KEY": "x"})
    assert bedrock.backends[0].keys == ()
    assert bedrock.backends[0].base_url == "https://vpce.example/bedrock"
    assert bedrock.problems == ("BEDROCK_API_KEY is ignored: bedrock does not use API keys",)


def test_blank_values_count_as_unset() -> None:
    assert discover({"OPENAI_API_KEY": "  ", "GROQ_API_KEY": ""}).backends == ()
