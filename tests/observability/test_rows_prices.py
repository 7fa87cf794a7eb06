"""The client classifier on real User-Agent strings, the row round trip, and the price table."""

from __future__ import annotations

import pytest

from crossway.observability.prices import GO_PRICES, ZEN_PRICES, estimate_cost, price_table
from crossway.observability.rows import (
    CLIENT_FAMILIES,
    COLUMNS,
    RowBatch,
    client_family,
    row_from_values,
)
from tests.observability.rowkit import make_row

# Agents as the clients sent them to a local gateway (docs spec/clients.md, e2e logs) and as
# their sources build them (Codex: `<originator>/<version> (<os> <version>; <arch>) <term>`).
USER_AGENTS = [
    ("claude-cli/2.1.329 (external, sdk-cli)", "claude-code"),
    ("claude-cli/2.0.14 (external, cli)", "claude-code"),
    ("opencode/1.18.33 ai-sdk/provider-utils/4.0.23 runtime/bun/1.3.14", "opencode"),
    ("codex_cli_rs/0.169.0 (Ubuntu 24.4.0; x86_64) xterm-256color", "codex"),
    ("codex_exec/0.169.0 (Debian 12.0.0; x86_64) dumb (codex-exec; 0.169.0)", "codex"),
    ("OpenAI/Python 1.109.1", "sdk-openai"),
    ("OpenAI/Python 3.52.0", "sdk-openai"),
    ("AsyncOpenAI/Python 1.109.1", "sdk-openai"),
    ("OpenAI/JS 5.23.2", "sdk-openai"),
    ("Anthropic/Python 0.125.0", "sdk-anthropic"),
    ("Anthropic/Python 2.11.0", "sdk-anthropic"),
    ("ai-sdk/openai-compatible/2.0.87 ai-sdk/provider-utils/4.0.23 runtime/node.js/20",
     "sdk-openai"),
    ("ai-sdk-anthropic/3.0.138 ai-sdk-provider-utils/4.0.23 runtime-node.js/20",
     "sdk-anthropic"),
    ("curl/8.5.0", "other"),
    ("python-httpx/0.28.1", "other"),
    ("", "other"),
]


@pytest.mark.parametrize(("agent", "family"), USER_AGENTS)
def test_client_family(agent: str, family: str) -> None:
    assert client_family(agent) == family
    assert family in CLIENT_FAMILIES


def test_row_values_round_trip() -> None:
    row = make_row(fast_path=True, cost_estimated=True, key_id="team-a")
    values = tuple(row)
    assert len(values) == len(COLUMNS)
    # SQLite hands booleans back as integers.
    as_sqlite = tuple(int(v) if isinstance(v, bool) else v for v in values)
    assert row_from_values(as_sqlite) == row
    assert row.attempt_list()[0]["status"] == 200


def test_a_batch_of_columns_hands_back_the_rows_it_was_made_of() -> None:
    """RowBatch: the same rows as tuples, in order, however it is cut or joined."""
    rows = [make_row(request_id=f"req_{i}", ts=1.7e9 + i, input_tokens=i,
                     cost_usd=None if i % 3 else i / 100) for i in range(7)]
    batch = RowBatch.of(rows)
    assert len(batch) == 7 and list(batch) == rows and batch[3] == rows[3]
    assert batch.column("input_tokens") == list(range(7))
    assert list(batch[-2:]) == rows[-2:] and list(batch.take([5, 0])) == [rows[5], rows[0]]
    assert list(RowBatch.concat([batch[:2], batch[2:], RowBatch.of([])])) == rows
    assert RowBatch.of(batch) is batch and len(RowBatch.of([])) == 0
    assert type(batch[0]).__name__ == "UsageRow" and batch[0].input_tokens == 0
    with pytest.raises(ValueError, match="columns"):
        RowBatch([[1], [2]])


@pytest.mark.parametrize("cached", [(True, True), (True, False), (False, True),
                                    (False, False)])
def test_column_wise_estimates_equal_price_cost_bit_for_bit(cached: tuple[bool, bool]) -> None:
    """rowbatch prices a one-model batch a column at a time, leaving out cache terms that
    are zero in every row: each cost must be the very float Price.cost makes."""
    import random

    from crossway.observability.prices import Price
    from crossway.observability.rowbatch import _costs
    rng = random.Random(11)
    price = Price(0.6, 2.2, 0.11, 0.75)
    n = 300
    tokens = [[rng.randrange(0, 200_000) for _ in range(n)],
              [rng.randrange(0, 20_000) for _ in range(n)],
              [rng.randrange(0, 90_000) if cached[0] else 0 for _ in range(n)],
              [rng.randrange(0, 9_000) if cached[1] else 0 for _ in range(n)],
              [0] * n]
    reported: list[float | None] = [None] * n
    reported[7] = 0.5  # the upstream's own figure wins
    costs, estimated = _costs(reported, ["opencode-go"] * n, ["kimi-k2.6"] * n, tokens,
                              lambda *_: price)
    for i in range(n):
        expect = 0.5 if i == 7 else price.cost(tokens[0][i], tokens[1][i], tokens[2][i],
                                               tokens[3][i])
        assert costs[i] == expect and estimated[i] is (i != 7)


def test_estimates_from_the_table() -> None:
    # Kimi K2.6 on Go: $0.95 in, $4 out, $0.16 cache read per million.
    cost = estimate_cost("opencode-go", "kimi-k2.6", input_tokens=10_000, output_tokens=2_000,
                         cache_read_tokens=50_000)
    assert cost == pytest.approx((10_000 * 0.95 + 2_000 * 4.0 + 50_000 * 0.16) / 1e6)
    # Claude Opus 5 on Zen (spec A9): $5 / $25, cache read $0.50, write $6.25.
    opus = estimate_cost("opencode-zen", "claude-opus-5", input_tokens=1_000_000,
                         output_tokens=1_000_000, cache_read_tokens=1_000_000,
                         cache_write_tokens=1_000_000)
    assert opus == pytest.approx(5 + 25 + 0.5 + 6.25)


def test_instance_names_prefixes_and_unknowns() -> None:
    assert price_table("opencode-go.2") is GO_PRICES
    assert price_table("zen") is ZEN_PRICES
    assert price_table("openrouter") is None
    same = dict(input_tokens=100, output_tokens=10)
    assert estimate_cost("opencode-go.3", "opencode-go/kimi-k2.6", **same) == estimate_cost(
        "opencode-go", "kimi-k2.6", **same)
    assert estimate_cost("opencode-go", "glm-5.3", **same) is None  # no published price
    assert estimate_cost("openai", "gpt-5.5", **same) is None
    assert estimate_cost("opencode-zen", "big-pickle", **same) == 0.0


def test_long_context_tier_and_missing_cache_prices() -> None:
    # MiniMax M3 on Go doubles above 512K prompt tokens (cache reads count toward the prompt).
    small = estimate_cost("opencode-go", "minimax-m3", input_tokens=100_000,
                          output_tokens=1_000)
    assert small == pytest.approx((100_000 * 0.3 + 1_000 * 1.2) / 1e6)
    large = estimate_cost("opencode-go", "minimax-m3", input_tokens=100_000,
                          output_tokens=1_000, cache_read_tokens=500_000)
    assert large == pytest.approx((100_000 * 0.6 + 1_000 * 2.4 + 500_000 * 0.12) / 1e6)
    # No cache-write price: those tokens are charged at the input price.
    kimi = estimate_cost("opencode-go", "kimi-k2.6", input_tokens=0, output_tokens=0,
                         cache_write_tokens=1_000_000)
    assert kimi == pytest.approx(0.95)


def test_every_go_catalog_model_is_priced_or_knowingly_unpriced() -> None:
    from crossway.providers.catalog import GO_MODELS
    unpriced = {m for m in GO_MODELS if m not in GO_PRICES}
    # Go lists these, but no public source gives their price yet (prices.py docstring).
    assert unpriced <= {"glm-5.3", "hy3", "grok-4.5", "gpt-5.6-luna",
                        "muse-spark-1.2-contributor", "deepseek-v4-flash-vision-exp"}
