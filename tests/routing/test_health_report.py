"""What routing reports to observability (ObservabilityRuntime.register_health): open and
half-open breakers per key and model, resting and refused keys."""

from __future__ import annotations

import asyncio

from crossway.config.loader import load_settings
from crossway.providers import build_provider
from crossway.routing.resilience import RoutingHealth
from crossway.routing.setup import RoutingRuntime


def test_report_lists_open_breakers_and_resting_keys() -> None:
    env = {"OPENCODE_GO_API_KEY_1": "sk-go-1111111111111111",
           "OPENCODE_GO_API_KEY_2": "sk-go-2222222222222222",
           "CROSSWAY_ROUTING": '{"breaker": {"failures": 2, "cooldown": 60}}'}
    settings = load_settings(None, env)
    rt = RoutingRuntime.create(settings, [build_provider(b) for b in settings.backends],
                               env={})
    health = rt.health
    assert isinstance(health, RoutingHealth)

    async def run() -> None:
        assert health.report() == []
        for _ in range(2):
            health.breaker.observe("opencode-go.1", "kimi-k2.6", "read_timeout")
        pool = health.pools["opencode-go"]
        one, two = pool.members
        pool.limited(one, retry_after="600", window="5 hour", error_class="GoUsageLimitError")
        pool.auth_failed(two)
        assert rt.writer is not None
        await rt.writer.flush()

    asyncio.run(run())
    report = {(h.instance, h.model): h for h in health.report()}
    breaker = report[("opencode-go.1", "kimi-k2.6")]
    assert breaker.breaker == "open" and breaker.reason == "2 consecutive upstream failures"
    limited = report[("opencode-go.1", None)]
    assert limited.breaker == "closed" and limited.reason == "GoUsageLimitError: 5 hour"
    assert limited.cooldown_until is not None
    refused = report[("opencode-go.2", None)]
    assert refused.cooldown_until is None
    assert refused.reason == "the upstream refused the key from OPENCODE_GO_API_KEY_2"
