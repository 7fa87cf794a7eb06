"""Provider quirks of OpenAI-compatible upstreams, applied to a final chat/completions body.

Each edit is driven by a capability flag of the target model (crossway.dialects.caps), never
by a provider or model name, and runs on the translated and the fast path alike (the
provider sees the final body either way). Pure: a dict in, a dict out; the input is never
mutated (another target of the plan may still need it).
"""

from __future__ import annotations

from typing import Any

from crossway.dialects.caps import Capabilities

# What OpenAI's reasoning models refuse while reasoning ("Unsupported parameter").
_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs",
             "top_logprobs", "logit_bias")


def needs_edit(caps: Capabilities) -> bool:
    return (caps.max_completion_tokens or caps.reasoning_rejects_sampling
            or caps.reasoning_field or caps.always_thinking)


def apply_chat_quirks(body: dict[str, Any], caps: Capabilities) -> dict[str, Any]:
    """The body as this model's upstream accepts it."""
    if not needs_edit(caps):
        return body
    out = dict(body)
    if caps.max_completion_tokens and "max_tokens" in out:
        # OpenAI o-series / GPT-5: "'max_tokens' is not supported with this model. Use
        # 'max_completion_tokens' instead."; every OpenAI chat model accepts the new name.
        value = out.pop("max_tokens")
        out.setdefault("max_completion_tokens", value)
    if caps.reasoning_rejects_sampling and out.get("reasoning_effort") != "none":
        for key in _SAMPLING:
            out.pop(key, None)
    if caps.reasoning_field and "reasoning_effort" in out:
        # OpenRouter normalises reasoning across its providers through one object.
        effort = out.pop("reasoning_effort")
        reasoning = out.get("reasoning")
        merged = dict(reasoning) if isinstance(reasoning, dict) else {}
        merged.setdefault("effort", effort)
        out["reasoning"] = merged
    if caps.always_thinking:
        thinking = out.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") == "disabled":
            # Z.ai's always-thinking GLM models answer 400 [1210] "thinking cannot be
            # disabled": let them think rather than fail the request.
            out.pop("thinking")
    return out


def apply_responses_quirks(body: dict[str, Any], caps: Capabilities) -> dict[str, Any]:
    """A Responses body as a reasoning model accepts it (no sampling while reasoning)."""
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if not caps.reasoning_rejects_sampling or effort == "none":
        return body
    return {k: v for k, v in body.items() if k not in ("temperature", "top_p")}
