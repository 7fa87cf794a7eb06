"""The interface routing registers its breaker and cooldown state through
(ObservabilityRuntime.register_health): what /metrics and /admin/stats make of it, and a
source that fails not taking /metrics down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from crossway.config.settings import Settings
from crossway.observability import metrics, stats
from crossway.observability.setup import InstanceHealth, ObservabilityRuntime


def _runtime() -> ObservabilityRuntime:
    return ObservabilityRuntime.create(Settings(), env={"CROSSWAY_USAGE": "off"})


def test_registered_health_reaches_metrics_and_stats() -> None:
    rt = _runtime()
    now = time.time()

    def routing_health() -> Iterable[InstanceHealth]:
        return [InstanceHealth("opencode-go.2", cooldown_until=now + 90,
                               reason="GoUsageLimitError (5 hour)"),
                InstanceHealth("opencode-go", model="kimi-k2.6", breaker="open",
                               reason="5 failures in 60 s"),
                InstanceHealth("opencode-go", model="glm-5.1", breaker="half_open")]

    rt.register_health(routing_health)
    body = metrics.render(rt, [], now).decode()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    breaker = {(s.labels["instance"], s.labels["model"]): s.value
               for s in families["crossway_instance_breaker_state"].samples}
    assert breaker == {("opencode-go", "glm-5.1"): 1.0, ("opencode-go", "kimi-k2.6"): 2.0,
                       ("opencode-go.2", "*"): 0.0}
    cooldown = {(s.labels["instance"], s.labels["model"]): s.value
                for s in families["crossway_instance_cooldown_seconds"].samples}
    assert cooldown[("opencode-go.2", "*")] == pytest.approx(90, abs=1)
    assert cooldown[("opencode-go", "kimi-k2.6")] == 0.0
    health = asyncio.run(stats.stats(rt))["health"]
    assert [(h["instance"], h["model"], h["breaker"]) for h in health] == [
        ("opencode-go", "glm-5.1", "half_open"), ("opencode-go", "kimi-k2.6", "open"),
        ("opencode-go.2", None, "closed")]
    assert health[2]["reason"] == "GoUsageLimitError (5 hour)"


def test_a_failing_source_is_logged_and_the_others_still_count(
        caplog: pytest.LogCaptureFixture) -> None:
    rt = _runtime()

    def broken() -> Iterable[InstanceHealth]:
        raise RuntimeError("state backend gone")

    rt.register_health(broken)
    rt.register_health(lambda: [InstanceHealth("zen", breaker="open")])
    with caplog.at_level("ERROR"):
        body = metrics.render(rt, [], time.time()).decode()
    assert 'crossway_instance_breaker_state{instance="zen",model="*"} 2.0' in body
    assert "routing health source failed" in caplog.text
