"""Building UsageRows for tests."""

from __future__ import annotations

import itertools
from typing import Any

from crossway.observability.rows import UsageRow, attempts_json

# 2026-05-28 22:13:20 UTC: far from midnight, so day buckets are predictable.
T0 = 1_780_006_400.0

_ids = itertools.count(1)


def make_row(**kw: Any) -> UsageRow:
    fields: dict[str, Any] = dict(
        request_id=f"req_test{next(_ids):08x}", ts=T0, client_dialect="anthropic",
        client_family="claude-code", conversation="ses_a", model_requested="claude-sonnet-4-6",
        target="opencode-go:kimi-k2.6", instance="opencode-go", backend="opencode-go",
        backend_type="opencode-go", upstream_model="kimi-k2.6", upstream_dialect="openai_chat",
        fast_path=False, stream=True, status=200, outcome="ok", attempts=1, fallbacks=0,
        duration_ms=100.0, ttfb_ms=20.0, input_tokens=1000, output_tokens=100,
        cache_read_tokens=0, cache_write_tokens=0, reasoning_tokens=0, cost_usd=0.01,
        cost_estimated=False, key_id=None, error=None,
        attempts_json=attempts_json([{"target": "opencode-go:kimi-k2.6",
                                      "dialect": "openai_chat", "fast": False, "status": 200,
                                      "failure": None, "duration_ms": 100.0}]),
    )
    fields.update(kw)
    return UsageRow(**fields)
