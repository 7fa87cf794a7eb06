"""What an upstream model accepts, as far as request encoding and the fast path are concerned."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the upstream model accepts, as far as request encoding is concerned."""

    # Send assistant reasoning back as `reasoning_content` (DeepSeek/Kimi-style interleaved models).
    reasoning_replay: bool = False
    # The upstream accepts `parallel_tool_calls` (some OSS routes 422 on it).
    parallel_tool_calls: bool = True
    # The upstream is a real Anthropic model that validates thinking signatures.
    anthropic_native: bool = False
    # Chat upstreams that take a `thinking: {"type": "enabled"|"disabled"}` switch
    # (DeepSeek, Kimi, GLM, MiMo; spec B1.11). Kimi and GLM on OpenCode Go ignore "disabled".
    thinking_switch: bool = False
    # The upstream accepts `reasoning_effort` (GLM console routes reject it, spec A10).
    reasoning_effort: bool = False
    # The model sometimes writes `<tool_call>` envelopes into its text (Qwen / Hermes style).
    text_tool_calls: bool = False
    # The model's output can need repair even for a same-dialect client (Kimi leaks raw
    # tool-call tokens into content), so it never takes the passthrough fast path.
    repair_output: bool = False
    # The output limit travels as `max_completion_tokens` (OpenAI's newer models reject
    # `max_tokens`; Azure and Bailian prefer it).
    max_completion_tokens: bool = False
    # A reasoning model that rejects sampling parameters (temperature, top_p, penalties)
    # unless its reasoning is switched off (OpenAI o-series and GPT-5).
    reasoning_rejects_sampling: bool = False
    # Reasoning in and out through OpenRouter's `reasoning` request field.
    reasoning_field: bool = False
    # The model always thinks and rejects `thinking: {"type": "disabled"}` (Z.ai GLM: [1210]).
    always_thinking: bool = False
    # Clamp for max_tokens, when known.
    max_output_tokens: int | None = None
    # Output tokens to ask for when the client gave no max_tokens (Anthropic requires it).
    default_max_tokens: int = 32000

    def clamp_max_tokens(self, requested: int) -> int:
        """`requested` output tokens, capped at the model's limit (Claude Code asks for
        32000-128000 whatever the model; upstreams reject more than they serve)."""
        limit = self.max_output_tokens
        return requested if limit is None or requested <= limit else limit
