"""GET /metrics: the Prometheus text format, written by prometheus-client.

Nothing here runs on the request path. Requests update LiveStats (live.py) once each; a
scrape turns those figures into metric families (a custom collector, per scrape), so the
request path pays for plain additions, not for prometheus-client's locks and label lookups.

Labels are bounded: models and instances come from the configuration (a request no route
took is `model="none", instance="none"`), statuses are HTTP codes, outcomes and kinds are
fixed words. No request ids, sessions, keys or key ids. Every name is documented in the
README ("Metrics").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from crossway.observability.live import LATENCY_BUCKETS, NONE_LABEL, Agg
from crossway.observability.quota import WINDOWS, KeyQuota

if TYPE_CHECKING:
    from crossway.observability.setup import InstanceHealth, ObservabilityRuntime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BREAKER_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
TOKEN_KINDS = (("input", "input_tokens"), ("output", "output_tokens"),
               ("cache_read", "cache_read_tokens"), ("cache_write", "cache_write_tokens"),
               ("reasoning", "reasoning_tokens"))


def _model_label(model: str, instance: str) -> str:
    # A request no route took names only what the client typed, which could be anything:
    # such requests share the label `none` (their instance is `none` too).
    return NONE_LABEL if instance == NONE_LABEL else model


def _buckets(counts: Sequence[int]) -> list[tuple[str, float]]:
    out, total = [], 0
    for bound, n in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
        total += n
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(total)))
    return out


class _Scrape(Collector):
    """One scrape's families, from figures gathered just before (the quota needs the
    store, which is async; collect() is not)."""

    def __init__(self, rt: ObservabilityRuntime, quota: list[KeyQuota],
                 health: list[InstanceHealth], now: float) -> None:
        self.rt, self.quota, self.health, self.now = rt, quota, health, now

    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        yield from self._by_model()
        yield from self._attempts()
        yield from self._gauges()
        yield from self._quota()
        yield from self._store()

    def _requests(self) -> Iterable[Metric]:
        live = self.rt.live
        req = CounterMetricFamily("crossway_requests", "Requests answered, by the model and "
                                  "instance that answered (or were last tried), HTTP status "
                                  "and outcome.", labels=["model", "instance", "status",
                                                          "outcome"])
        counts: dict[tuple[str, str, str, str], int] = {}
        for (model, instance, status, outcome), agg in live.groups.items():
            key = (_model_label(model, instance), instance, str(status), outcome)
            counts[key] = counts.get(key, 0) + agg.requests
        for labels, n in sorted(counts.items()):
            req.add_metric(list(labels), n)
        yield req
        fb = CounterMetricFamily("crossway_fallbacks", "Requests answered after more than "
                                 "one attempt, by final outcome.", labels=["outcome"])
        for outcome, n in live.fallbacks.items():
            fb.add_metric([outcome], n)
        yield fb

    def _by_model(self) -> Iterable[Metric]:
        by_key: dict[tuple[str, str], Agg] = {}
        for (model, instance, _status, _outcome), agg in self.rt.live.groups.items():
            key = (_model_label(model, instance), instance)
            into = by_key.get(key)
            if into is None:
                into = by_key[key] = Agg()
            into.merge(agg)
        latency = HistogramMetricFamily(
            "crossway_request_duration_seconds", "Time from the request's arrival to the end "
            "of its answer (a stream's last byte).", labels=["model", "instance"])
        ttfb = HistogramMetricFamily(
            "crossway_time_to_first_byte_seconds", "Time from the request's arrival to the "
            "first byte of its answer (a stream's first content).", labels=["model", "instance"])
        tokens = CounterMetricFamily("crossway_tokens", "Tokens reported by the upstreams, "
                                     "by kind (input excludes cache reads and writes; "
                                     "reasoning is part of output).",
                                     labels=["model", "instance", "kind"])
        cost = CounterMetricFamily("crossway_cost_usd", "US dollars spent: the upstream's own "
                                   "figure (source=upstream) or crossway's price table "
                                   "(source=estimated).", labels=["model", "instance", "source"])
        for (model, instance), a in sorted(by_key.items()):
            labels = [model, instance]
            latency.add_metric(labels, _buckets(a.latency_buckets), a.latency_sum)
            ttfb.add_metric(labels, _buckets(a.ttfb_buckets), a.ttfb_sum)
            for kind, attr in TOKEN_KINDS:
                tokens.add_metric([*labels, kind], getattr(a, attr))
            cost.add_metric([*labels, "upstream"], a.cost_usd - a.estimated_cost_usd)
            cost.add_metric([*labels, "estimated"], a.estimated_cost_usd)
        return (latency, ttfb, tokens, cost)

    def _attempts(self) -> Iterable[Metric]:
        fam = CounterMetricFamily("crossway_attempts", "Upstream attempts, by instance, "
                                  "upstream model and result (ok or the failure kind).",
                                  labels=["instance", "model", "result"])
        for (instance, model, result), n in sorted(self.rt.live.attempts.items()):
            fam.add_metric([instance, model, result], n)
        return (fam,)

    def _gauges(self) -> Iterable[Metric]:
        live = self.rt.live
        yield GaugeMetricFamily("crossway_uptime_seconds", "Seconds since this process "
                                "started.", value=live.uptime)
        yield GaugeMetricFamily("crossway_requests_in_flight", "Requests being answered now.",
                                value=len(live.in_flight))
        yield GaugeMetricFamily("crossway_open_streams", "Streams being sent to clients now.",
                                value=live.open_streams)
        breaker = GaugeMetricFamily("crossway_instance_breaker_state", "Circuit breaker of "
                                    "an upstream instance and model (model=\"*\": the whole "
                                    "instance): 0 closed, 1 half-open, 2 open.",
                                    labels=["instance", "model"])
        cooldown = GaugeMetricFamily("crossway_instance_cooldown_seconds", "Seconds until an "
                                     "instance's (or model's) cooldown ends (0: none).",
                                     labels=["instance", "model"])
        seen: set[tuple[str, str]] = set()
        for h in self.health:
            labels = (h.instance, h.model or "*")
            if labels in seen:
                continue  # two sources naming one target: the first one speaks
            seen.add(labels)
            breaker.add_metric(list(labels), BREAKER_VALUES.get(h.breaker, 2.0))
            left = (h.cooldown_until - self.now) if h.cooldown_until else 0.0
            cooldown.add_metric(list(labels), max(left, 0.0))
        yield breaker
        yield cooldown

    def _quota(self) -> Iterable[Metric]:
        spent = GaugeMetricFamily("crossway_go_quota_spent_usd", "US dollars recorded for an "
                                  "OpenCode Go key in a rolling window (5h, weekly, monthly).",
                                  labels=["instance", "window"])
        limit = GaugeMetricFamily("crossway_go_quota_limit_usd", "OpenCode Go's dollar limit "
                                  "for the window.", labels=["instance", "window"])
        share = GaugeMetricFamily("crossway_go_quota_used_ratio", "Spent / limit (1 or more "
                                  "when Go itself reported the limit reached).",
                                  labels=["instance", "window"])
        reported = GaugeMetricFamily("crossway_go_quota_limit_reported", "1 while Go's own "
                                     "GoUsageLimitError for this window is in force.",
                                     labels=["instance", "window"])
        for key in self.quota:
            for w in key.windows:
                labels = [key.instance, w.window]
                spent.add_metric(labels, w.spent_usd)
                limit.add_metric(labels, w.limit_usd)
                share.add_metric(labels, w.share)
                reported.add_metric(labels, 1.0 if w.reported else 0.0)
        return (spent, limit, share, reported)

    def _store(self) -> Iterable[Metric]:
        w = self.rt.writer
        if w is None:
            return ()
        c = w.counters
        return (
            CounterMetricFamily("crossway_usage_rows_written", "Usage rows written to the "
                                "store.", value=c.rows_written),
            CounterMetricFamily("crossway_usage_rows_dropped", "Usage rows lost (store "
                                "unavailable or not keeping up).", value=c.rows_dropped),
            CounterMetricFamily("crossway_usage_write_errors", "Failed writes to the usage "
                                "store.", value=c.write_errors),
            GaugeMetricFamily("crossway_usage_queue_rows", "Usage rows waiting to be "
                              "written.", value=w.queued),
            GaugeMetricFamily("crossway_usage_store_healthy", "1 while the usage store "
                              "accepts writes.", value=1.0 if w.healthy else 0.0),
        )


def render(rt: ObservabilityRuntime, quota: list[KeyQuota], now: float) -> bytes:
    """The whole exposition, for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(rt, quota, rt.health(), now))
    # prometheus-client's standard process_* (CPU, memory, file descriptors) and python_gc_*
    # families, which every Prometheus user's dashboards already know.
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    return generate_latest(registry)


__all__ = ["CONTENT_TYPE", "WINDOWS", "render"]
