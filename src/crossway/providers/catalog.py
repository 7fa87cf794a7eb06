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


# ---------------------------------------------------------------------------------------------
# What clients need to know about a model (context window, image input, reasoning), for the
# client config generators (`crossway config ...`) and `GET /v1/models`. models.dev
# `limit.context` and `modalities.input`, providers opencode-go / opencode and the base model
# files they point to (read 2026-12; kimi-k3 from its base model file). Where the two tiers
# disagree (minimax-m3: Go 1M, Zen 512K; glm-5.1: 202752 vs 204800) the smaller value is kept:
# a client that compacts a little early loses nothing, one that overshoots gets an error.
# Ids with no public figure are absent: clients then keep their own default.
CONTEXT_LIMITS: dict[str, int] = {
    "minimax-m3": 512000, "minimax-m2.7": 204800, "minimax-m2.5": 204800,
    "qwen3.7-max": 1000000, "qwen3.7-plus": 1000000, "qwen3.6-plus": 262144,
    "qwen3.5-plus": 262144,
    "glm-5.2": 1000000, "glm-5.1": 202752, "glm-5": 202752,
    "kimi-k3": 1048576, "kimi-k2.7-code": 262144, "kimi-k2.6": 262144, "kimi-k2.5": 262144,
    "deepseek-v4-pro": 1000000, "deepseek-v4-flash": 1000000,
    "mimo-v2.5": 1000000, "mimo-v2.5-pro": 1048576, "mimo-v2-pro": 1048576,
    "mimo-v2-omni": 262144, "big-pickle": 200000, "grok-build-0.1": 256000,
    "hy3": 256000,  # the figure published for hy3-preview
    "gpt-5.5": 1050000, "gpt-5.5-pro": 1050000, "gpt-5.4": 1050000, "gpt-5.4-pro": 1050000,
    "gpt-5.4-mini": 400000, "gpt-5.4-nano": 400000, "gpt-5.2": 400000, "gpt-5.1": 400000,
    "gpt-5": 400000, "gpt-5-nano": 400000,
    "claude-fable-5": 1000000, "claude-opus-4-8": 1000000, "claude-opus-4-7": 1000000,
    "claude-opus-4-6": 1000000, "claude-opus-4-5": 200000, "claude-sonnet-5": 1000000,
    "claude-sonnet-4-6": 1000000, "claude-sonnet-4-5": 1000000, "claude-haiku-4-5": 200000,
}

# Input modalities beyond text (models.dev `modalities.input`). Absent means text only.
INPUT_MODALITIES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("minimax-m3", "qwen3.7-plus", "qwen3.6-plus", "qwen3.5-plus", "kimi-k3",
                     "kimi-k2.7-code", "kimi-k2.6", "kimi-k2.5"), ("text", "image", "video")),
    "mimo-v2.5": ("text", "image", "audio", "video"),
    "mimo-v2-omni": ("text", "image", "audio", "pdf"),
    **dict.fromkeys(("gpt-5.5", "gpt-5.5-pro", "gpt-5.4", "gpt-5.4-pro", "gpt-5.4-mini",
                     "gpt-5.4-nano", "claude-fable-5", "claude-opus-4-8", "claude-opus-4-7",
                     "claude-opus-4-6", "claude-opus-4-5", "claude-sonnet-5",
                     "claude-sonnet-4-6", "claude-sonnet-4-5", "claude-haiku-4-5"),
                    ("text", "image", "pdf")),
    **dict.fromkeys(("gpt-5.2", "gpt-5.1", "gpt-5", "gpt-5-nano", "grok-build-0.1"),
                    ("text", "image")),
}

# Every model of the OpenCode catalogs takes tools and reasons (models.dev `tool_call`,
# `reasoning`); other backends' models are assumed to take tools and not to reason.
_REASONING_PREFIXES = ("claude-", "deepseek-", "kimi-", "minimax-", "mimo-", "glm-", "gpt-5",
                       "qwen3", "grok-", "hy3", "big-pickle", "muse-")

# Ids that are not chat models (embeddings, speech, images, moderation), for generic
# backends whose `models:` list may name them.
_NOT_CHAT = ("embed", "whisper", "tts", "dall-e", "gpt-image", "moderation", "rerank")


@dataclasses.dataclass(frozen=True, slots=True)
class ModelFacts:
    """What a client needs to use a model well; None where nothing public is known."""

    context: int | None
    output: int | None
    input_modalities: tuple[str, ...]
    tool_call: bool
    reasoning: bool
    chat: bool

    @property
    def image_input(self) -> bool:
        return "image" in self.input_modalities


def model_facts(model: str) -> ModelFacts:
    lowered = model.lower()
    return ModelFacts(
        context=CONTEXT_LIMITS.get(model),
        output=OUTPUT_LIMITS.get(model),
        input_modalities=INPUT_MODALITIES.get(model, ("text",)),
        tool_call=True,
        reasoning=lowered.startswith(_REASONING_PREFIXES),
        chat=not any(word in lowered for word in _NOT_CHAT),
    )


# ---------------------------------------------------------------------------------------------
# The likeliest route of an id OpenCode lists but the tables above lack (spec 0: name
# heuristics, since GET /models says nothing about routes). The relay retries once on
# `retry_dialect` when the guess (or a table entry gone stale) meets a ModelError.
_GEMINI = ("gemini-",)  # Google's route: no codec in this version, so not routable


def likely_dialect(model: str, tier: str) -> Dialect | None:
    lowered = model.lower()
    if lowered.startswith(_GEMINI):
        return None
    if lowered.startswith("gpt-"):
        return _R
    if lowered.startswith("claude-") or lowered.startswith("qwen3"):
        return _A
    if lowered.startswith("minimax"):
        return _A if tier == "go" else _O
    if lowered.startswith("grok-"):
        return _R if tier == "go" else _O
    return _O


def retry_dialect(dialect: Dialect) -> Dialect:
    """Where a model is tried when OpenCode says its route does not serve it: chat and
    messages are the routes models move between; a Responses model falls back to chat
    (Go's /responses adapts some chat models itself, spec A4)."""
    return _O if dialect != _O else _A
