"""Built-in OpenCode model tables and per-family capabilities.

Snapshot of the newest published catalogs (spec A4: go.mdx@b73203b4, zen.mdx@e33d5b41, plus
ids seen in a live Go /models listing). The catalog changes weekly, so every entry can be
overridden (and new ids added) per backend with `extra.model_protocol_overrides`.
"""

from __future__ import annotations

import dataclasses

from crossway.config.settings import Dialect
from crossway.dialects import Capabilities

_R: Dialect = "openai_responses"
_A: Dialect = "anthropic"
_O: Dialect = "openai_chat"


def _table(**routes: tuple[str, ...]) -> dict[str, Dialect]:
    words: dict[str, Dialect] = {"responses": _R, "messages": _A, "chat": _O}
    return {m: words[route] for route, ids in routes.items() for m in ids}


GO_MODELS: dict[str, Dialect] = _table(
    responses=("grok-4.5", "gpt-5.6-luna", "muse-spark-1.2-contributor"),
    messages=("minimax-m3", "minimax-m2.7", "minimax-m2.5", "qwen3.8-max", "qwen3.7-max",
              "qwen3.7-plus", "qwen3.6-plus", "qwen3.5-plus"),
    chat=("glm-5.3", "glm-5.2", "glm-5.1", "glm-5", "kimi-k3", "kimi-k2.7-code", "kimi-k2.6",
          "kimi-k2.5", "deepseek-v4-pro", "deepseek-v4-flash", "deepseek-v4-flash-vision-exp",
          "mimo-v2.5", "mimo-v2.5-pro", "mimo-v2-pro", "mimo-v2-omni", "hy3"),
)

ZEN_MODELS: dict[str, Dialect] = _table(
    responses=("gpt-5.6-sol-fast", "gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna", "gpt-5.5",
               "gpt-5.5-pro", "gpt-5.4", "gpt-5.4-pro", "gpt-5.4-mini", "gpt-5.4-nano",
               "gpt-5.2", "gpt-5.1", "gpt-5", "gpt-5-nano"),
    messages=("claude-fable-5", "claude-opus-5", "claude-opus-4-8", "claude-opus-4-7",
              "claude-opus-4-6", "claude-opus-4-5", "claude-sonnet-5", "claude-sonnet-4-6",
              "claude-sonnet-4-5", "claude-haiku-4-5", "qwen3.7-max", "qwen3.7-plus",
              "qwen3.6-plus", "qwen3.5-plus"),
    chat=("grok-4.5", "grok-build-0.1", "deepseek-v4-pro", "deepseek-v4-flash", "minimax-m3",
          "minimax-m2.7", "minimax-m2.5", "glm-5.2", "glm-5.1", "glm-5", "kimi-k2.5",
          "kimi-k2.6", "kimi-k2.7-code", "kimi-k3", "big-pickle"),
    # Free models (spec A3) are reserved for the official OpenCode client; not listed.
)

# Model family (by id prefix) -> what its upstream accepts. Families not listed get defaults.
# reasoning_replay: DeepSeek needs reasoning_content on every assistant message, Kimi on
# tool-call messages (always thinking on Go), MiniMax/MiMo declare interleaved
# reasoning_content (spec A10, B1.6); GLM console routes reject it (spec A6: [1210]/[1214]).
_FAMILIES: tuple[tuple[str, Capabilities], ...] = (
    ("claude-", Capabilities(anthropic_native=True, reasoning_replay=False)),
    ("deepseek-", Capabilities(reasoning_replay=True, thinking_switch=True,
                               reasoning_effort=True)),
    ("kimi-", Capabilities(reasoning_replay=True, thinking_switch=True, repair_output=True)),
    ("minimax-", Capabilities(reasoning_replay=True)),
    ("mimo-", Capabilities(reasoning_replay=True, thinking_switch=True)),
    ("glm-", Capabilities(reasoning_replay=False, thinking_switch=True)),
    ("gpt-", Capabilities(reasoning_effort=True)),
    ("qwen", Capabilities(reasoning_replay=True, text_tool_calls=True, repair_output=True)),
)

_DEFAULT = Capabilities(reasoning_replay=False)

# Output-token limits (models.dev `limit.output`, providers opencode-go / opencode and the
# base model files they point to, read 2026-11). max_tokens above these is clamped: Claude
# Code asks for 32000-128000 whatever the model.
OUTPUT_LIMITS: dict[str, int] = {
    "grok-4.5": 500000, "gpt-5.6-luna": 128000, "gpt-5.5": 128000,
    "minimax-m3": 131072, "minimax-m2.7": 131072, "minimax-m2.5": 65536,
    "qwen3.8-max": 131072, "qwen3.7-max": 65536, "qwen3.7-plus": 65536,
    "qwen3.6-plus": 65536, "qwen3.5-plus": 65536,
    "glm-5.3": 131072, "glm-5.2": 131072, "glm-5.1": 131072, "glm-5": 131072,
    "kimi-k3": 262144, "kimi-k2.7-code": 262144, "kimi-k2.6": 65536, "kimi-k2.5": 65536,
    "deepseek-v4-pro": 384000, "deepseek-v4-flash": 384000,
    "mimo-v2.5": 128000, "mimo-v2.5-pro": 128000, "mimo-v2-pro": 128000,
    "mimo-v2-omni": 65536, "hy3": 128000, "big-pickle": 128000,
    "claude-opus-5": 128000, "claude-sonnet-5": 128000, "claude-opus-4-7": 128000,
    "claude-sonnet-4-6": 64000, "claude-sonnet-4-5": 64000, "claude-haiku-4-5": 64000,
}


def family_capabilities(model: str, dialect: Dialect) -> Capabilities:
    caps = _DEFAULT
    for prefix, family in _FAMILIES:
        if model.startswith(prefix):
            caps = _DEFAULT if family.anthropic_native and dialect != "anthropic" else family
            break
    limit = OUTPUT_LIMITS.get(model)
    return dataclasses.replace(caps, max_output_tokens=limit) if limit else caps
