"""The observability half of the running gateway, built once at start-up: the record sinks
every finished request goes to (the access log, then the recorder feeding the live figures,
the usage store and the Go quota meter), and their start/stop. server/app.py only calls this.

Environment (read once here): CROSSWAY_USAGE, CROSSWAY_DATABASE_URL,
CROSSWAY_USAGE_RETENTION_DAYS (store/__init__.py), CROSSWAY_GO_LIMIT_5H / _WEEKLY / _MONTHLY
(quota.py), CROSSWAY_LOG_FORMAT (text | json).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from crossway.config.settings import Settings
from crossway.errors import ConfigError
from crossway.observability.live import LiveStats
from crossway.observability.quota import GO_BACKEND_TYPE, GoLimits, QuotaMeter
from crossway.observability.recorder import Recorder
from crossway.observability.sinks import AccessLog, RecordSink
from crossway.observability.stats import TTLCache
from crossway.observability.store import writer_from_env
from crossway.observability.store.writer import UsageWriter
from crossway.server.auth import AdminAccess

log = logging.getLogger("crossway")

BreakerState = Literal["closed", "half_open", "open"]


@dataclass(frozen=True, slots=True)
class InstanceHealth:
    """What routing knows about one upstream instance (or one model on it, since breakers
    trip per instance and model), for /metrics, /admin and the dashboard.
    `cooldown_until` is a unix time (None: not cooling down)."""

    instance: str
    model: str | None = None  # None: the whole instance (a key's cooldown)
    breaker: BreakerState = "closed"
    cooldown_until: float | None = None
    reason: str | None = None  # why it is open or cooling down, in plain words


# The routing runtime registers one of these (ObservabilityRuntime.register_health): called
# at each scrape or dashboard refresh, never on the request path; must return at once.
HealthSource = Callable[[], Iterable[InstanceHealth]]


def log_format(env: Mapping[str, str]) -> str:
    value = env.get("CROSSWAY_LOG_FORMAT", "text").strip().lower() or "text"
    if value not in ("text", "json"):
        raise ConfigError(f"CROSSWAY_LOG_FORMAT must be text or json (got {value!r})")
    return value


def go_instances(settings: Settings) -> list[str]:
    """The configured OpenCode Go key ids (`opencode-go`, `opencode-go.2`, ...)."""
    names = []
    for b in settings.backends:
        if b.type != GO_BACKEND_TYPE:
            continue
        for k in b.keys:
            names.append(b.name if k.number is None else f"{b.name}.{k.number}")
    return names


@dataclass(slots=True)
class ObservabilityRuntime:
    sinks: list[RecordSink] = field(default_factory=list)
    live: LiveStats = field(default_factory=LiveStats)
    writer: UsageWriter | None = None
    meter: QuotaMeter = field(default_factory=lambda: QuotaMeter(None))
    health_sources: list[HealthSource] = field(default_factory=list)
    admin: AdminAccess = field(default_factory=lambda: AdminAccess((), "", loopback=True))
    log_json: bool = False
    cache: TTLCache = field(default_factory=TTLCache)

    @classmethod
    def create(cls, settings: Settings,
               env: Mapping[str, str] | None = None) -> ObservabilityRuntime:
        env = os.environ if env is None else env
        writer = writer_from_env(env)
        meter = QuotaMeter(writer.store if writer else None, limits=GoLimits.from_env(env),
                           instances=go_instances(settings), cache_s=10.0,
                           version=(lambda: writer.counters.rows_written) if writer else None)
        live = LiveStats()
        as_json = log_format(env) == "json"
        return cls(sinks=[AccessLog(as_json=as_json), Recorder(live, writer, meter)],
                   live=live, writer=writer, meter=meter,
                   admin=AdminAccess.create(env, settings.api_keys, settings.host),
                   log_json=as_json)

    def flush(self) -> None:
        """Make rows of the records waiting in the recorder's batch (before reading figures:
        a request answered a moment ago is counted)."""
        for sink in self.sinks:
            if isinstance(sink, Recorder):
                sink.flush()

    def register_health(self, source: HealthSource) -> None:
        """Routing calls this once at start-up with a function listing every instance's
        breaker and cooldown state; /metrics, /admin/stats and the dashboard call it."""
        self.health_sources.append(source)

    def health(self) -> list[InstanceHealth]:
        out: list[InstanceHealth] = []
        for source in self.health_sources:
            try:
                out.extend(source())
            except Exception:
                # A broken source must not take /metrics down with it; said loudly.
                log.exception("a routing health source failed")
        return sorted(out, key=lambda h: (h.instance, h.model or ""))

    async def start(self) -> None:
        if self.writer is not None:
            await self.writer.start()
            log.info("usage store: %s", self.writer.store.description)
        else:
            log.info("usage store: off (CROSSWAY_USAGE=off)")

    async def close(self) -> None:
        self.flush()
        if self.writer is not None:
            await self.writer.close()
