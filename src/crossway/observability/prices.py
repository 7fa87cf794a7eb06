"""Prices of the OpenCode Go and Zen models, for requests whose upstream sent no cost.

OpenCode's own answers carry the exact cost of a request (a trailing cost frame on streams, a
top-level `cost` on non-stream bodies; spec A8). That figure always wins. When it is missing
(the client left before the cost frame, a non-OpenCode upstream, an older Zen build), the
cost is estimated from this table and the row is flagged `cost_estimated`.

Source, read 2026-12-01: models.dev `providers/opencode-go/models/*.toml` and
`providers/opencode/models/*.toml` (the repository snapshot of 2026-07-02, plus the newer
stored versions of kimi-k3, deepseek-v4.1-flash and hy3-preview, and qwen3.8-max from a
models.dev fork citing the Go docs), cross-checked against spec A9 (Zen: Claude Opus 5
$5/$25, cache read $0.50, write $6.25; Sonnet 4.6 $3/$15; Haiku 4.5 $1/$5; GPT 5.5 $5/$30 up
to 272K; Kimi K2.6 $0.95/$4; GLM 5.1 $1.40/$4.40; DeepSeek V4 Flash $0.14/$0.28; MiniMax M2.7
$0.30/$1.20; Qwen3.6 Plus $0.50/$3). Go models with no published price (glm-5.3, hy3,
grok-4.5, gpt-5.6-luna, muse-spark-1.2-contributor, deepseek-v4-flash-vision-exp) are absent:
their cost is unknown (None), never guessed. Free models cost 0.

Units: US dollars per million tokens. Assumptions, stated because the sources are silent:
reasoning tokens are part of output tokens (as every dialect reports them) and are not
charged again; a model with no cache-read or cache-write price is charged its input price
for those tokens (the upstream counted them as prompt, and an over-estimate is the safe
side for a quota meter).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    # Long-context tier: prompts above `tier_above` tokens are charged `tier` prices.
    tier_above: int | None = None
    tier: Price | None = None

    def cost(self, input_tokens: int, output_tokens: int, cache_read_tokens: int,
             cache_write_tokens: int) -> float:
        prompt = input_tokens + cache_read_tokens + cache_write_tokens
        p = self.tier if self.tier and self.tier_above and prompt > self.tier_above else self
        read = p.cache_read if p.cache_read is not None else p.input
        write = p.cache_write if p.cache_write is not None else p.input
        return (input_tokens * p.input + output_tokens * p.output
                + cache_read_tokens * read + cache_write_tokens * write) / 1_000_000


def _p(i: float, o: float, r: float | None = None, w: float | None = None) -> Price:
    return Price(i, o, r, w)


def _tiered(base: Price, above: int, tier: Price) -> Price:
    return Price(base.input, base.output, base.cache_read, base.cache_write, above, tier)


GO_PRICES: dict[str, Price] = {
    "deepseek-v4-flash": _p(0.14, 0.28, 0.0028),
    "deepseek-v4.1-flash": _p(0.3, 1.2, 0.01),
    "deepseek-v4-pro": _p(1.74, 3.48, 0.0145),
    "glm-5": _p(1.0, 3.2, 0.2),
    "glm-5.1": _p(1.4, 4.4, 0.26),
    "glm-5.2": _p(1.4, 4.4, 0.26),
    "kimi-k2.5": _p(0.6, 3.0, 0.1),
    "kimi-k2.6": _p(0.95, 4.0, 0.16),
    "kimi-k2.7-code": _p(0.95, 4.0, 0.19),
    "kimi-k3": _p(3.0, 15.0, 0.3),
    "mimo-v2-omni": _p(0.4, 2.0, 0.08),
    "mimo-v2-pro": _tiered(_p(1.0, 3.0, 0.2), 256_000, _p(2.0, 6.0, 0.4)),
    "mimo-v2.5": _p(0.14, 0.28, 0.0028),
    "mimo-v2.5-pro": _p(1.74, 3.48, 0.0145),
    "minimax-m2.5": _p(0.3, 1.2, 0.03),
    "minimax-m2.7": _p(0.3, 1.2, 0.06),
    "minimax-m3": _tiered(_p(0.3, 1.2, 0.06), 512_000, _p(0.6, 2.4, 0.12)),
    "qwen3.5-plus": _p(0.2, 1.2, 0.02, 0.25),
    "qwen3.6-plus": _tiered(_p(0.5, 3.0, 0.05, 0.625), 256_000, _p(2.0, 6.0, 0.2, 2.5)),
    "qwen3.7-plus": _tiered(_p(0.4, 1.6, 0.04, 0.5), 256_000, _p(1.2, 4.8, 0.12, 1.5)),
    "qwen3.7-max": _p(2.5, 7.5, 0.5, 3.125),
    "qwen3.8-max": _p(2.0, 6.0, 0.25, 2.5),
    "hy3-preview": _p(0.285714, 1.142857, 0.114286),
    "ox-alpha-free": _p(0.0, 0.0, 0.0, 0.0),
}

_OPUS = _p(5.0, 25.0, 0.5, 6.25)
_SONNET_4 = _tiered(_p(3.0, 15.0, 0.3, 3.75), 200_000, _p(6.0, 22.5, 0.6, 7.5))
_FREE = _p(0.0, 0.0, 0.0, 0.0)

ZEN_PRICES: dict[str, Price] = {
    "claude-fable-5": _p(10.0, 50.0, 1.0, 12.5),
    "claude-opus-5": _OPUS,
    "claude-opus-4-8": _OPUS,
    "claude-opus-4-7": _OPUS,
    "claude-opus-4-6": _OPUS,
    "claude-opus-4-5": _OPUS,
    "claude-opus-4-1": _p(15.0, 75.0, 1.5, 18.75),
    "claude-sonnet-5": _p(2.0, 10.0, 0.2, 2.5),
    "claude-sonnet-4-6": _p(3.0, 15.0, 0.3, 3.75),
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-haiku-4-5": _p(1.0, 5.0, 0.1, 1.25),
    "claude-3-5-haiku": _p(0.8, 4.0, 0.08, 1.0),
    "gpt-5.5": _tiered(_p(5.0, 30.0, 0.5), 272_000, _p(10.0, 45.0, 1.0)),
    "gpt-5.5-pro": _p(30.0, 180.0, 30.0),
    "gpt-5.4": _tiered(_p(2.5, 15.0, 0.25), 272_000, _p(5.0, 22.5, 0.5)),
    "gpt-5.4-pro": _p(30.0, 180.0, 30.0),
    "gpt-5.4-mini": _p(0.75, 4.5, 0.075),
    "gpt-5.4-nano": _p(0.2, 1.25, 0.02),
    "gpt-5.3-codex": _p(1.75, 14.0, 0.175),
    "gpt-5.3-codex-spark": _p(1.75, 14.0, 0.175),
    "gpt-5.2": _p(1.75, 14.0, 0.175),
    "gpt-5.2-codex": _p(1.75, 14.0, 0.175),
    "gpt-5.1": _p(1.07, 8.5, 0.107),
    "gpt-5.1-codex": _p(1.07, 8.5, 0.107),
    "gpt-5.1-codex-max": _p(1.25, 10.0, 0.125),
    "gpt-5.1-codex-mini": _p(0.25, 2.0, 0.025),
    "gpt-5": _p(1.07, 8.5, 0.107),
    "gpt-5-codex": _p(1.07, 8.5, 0.107),
    "gpt-5-nano": _p(0.05, 0.4, 0.005),
    "gemini-3.5-flash": _p(1.5, 9.0, 0.15),
    "gemini-3.1-pro": _tiered(_p(2.0, 12.0, 0.2), 200_000, _p(4.0, 18.0, 0.4)),
    "gemini-3-pro": _tiered(_p(2.0, 12.0, 0.2), 200_000, _p(4.0, 18.0, 0.4)),
    "gemini-3-flash": _p(0.5, 3.0, 0.05),
    "grok-build-0.1": _p(1.0, 2.0, 0.2),
    "deepseek-v4-flash": _p(0.14, 0.28, 0.028),
    "deepseek-v4-pro": _p(1.74, 3.84, 0.145),
    "glm-5": _p(1.0, 3.2, 0.2),
    "glm-5.1": _p(1.4, 4.4, 0.26),
    "glm-5.2": _p(1.4, 4.4, 0.26),
    "kimi-k2.5": _p(0.6, 3.0, 0.08),
    "kimi-k2.6": _p(0.95, 4.0, 0.16),
    "kimi-k2.7-code": _p(0.95, 4.0, 0.19),
    "minimax-m3": _p(0.3, 1.2, 0.06),
    "minimax-m2.7": _p(0.3, 1.2, 0.06),
    "minimax-m2.5": _p(0.3, 1.2, 0.06),
    "qwen3.7-max": _p(2.5, 7.5, 0.5, 3.125),
    "qwen3.7-plus": _tiered(_p(0.4, 1.6, 0.04, 0.5), 256_000, _p(1.2, 4.8, 0.12, 1.5)),
    "qwen3.6-plus": _p(0.5, 3.0, 0.05, 0.625),
    "qwen3.5-plus": _p(0.2, 1.2, 0.02, 0.25),
    "big-pickle": _FREE,
    "deepseek-v4-flash-free": _FREE,
    "mimo-v2.5-free": _FREE,
    "north-mini-code-free": _FREE,
    "nemotron-3-ultra-free": _FREE,
    "nemotron-3-super-free": _FREE,
    "minimax-m3-free": _FREE,
}


def price_table(backend: str) -> dict[str, Price] | None:
    """The table for a backend type, or for an instance / backend named after one.

    `opencode-go`, `opencode-go.2` and `go` select Go; `opencode-zen`, `opencode` and `zen`
    select Zen. Any other backend has no shipped prices.
    """
    base = backend.split(".", 1)[0].lower()
    if base in ("opencode-go", "go"):
        return GO_PRICES
    if base in ("opencode-zen", "opencode", "zen"):
        return ZEN_PRICES
    return None


def price_of(backend: str, model: str) -> Price | None:
    table = price_table(backend)
    if table is None:
        return None
    # OpenCode's config syntax prefixes the tier (`opencode-go/kimi-k2.6`); the wire id is bare.
    return table.get(model.rsplit("/", 1)[-1])


def estimate_cost(backend_type_or_name: str, model: str, *, input_tokens: int,
                  output_tokens: int, cache_read_tokens: int = 0,
                  cache_write_tokens: int = 0) -> float | None:
    """Estimated US dollars for one request, or None when the model has no known price.

    `input_tokens` excludes cache reads and writes (crossway's Usage semantics).
    """
    price = price_of(backend_type_or_name, model)
    if price is None:
        return None
    return price.cost(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
