"""Built-in OpenCode model tables and per-family capabilities.

Snapshot of the newest published catalogs (spec A4: go.mdx@b73203b4, zen.mdx@e33d5b41, plus
ids seen in a live Go /models listing). The catalog changes weekly, so every entry can be
overridden (and new ids added) per backend with `extra.model_protocol_overrides`.
"""

from __future__ import annotations

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


def family_capabilities(model: str, dialect: Dialect) -> Capabilities:
    for prefix, caps in _FAMILIES:
        if model.startswith(prefix):
            if caps.anthropic_native and dialect != "anthropic":
                return _DEFAULT
            return caps
    return _DEFAULT
