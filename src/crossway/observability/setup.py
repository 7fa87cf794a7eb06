"""The observability half of the running gateway, built once at start-up: the record sinks
every finished request goes to, and their start/stop. server/app.py only calls this."""

from __future__ import annotations

from dataclasses import dataclass, field

from crossway.config.settings import Settings
from crossway.observability.sinks import AccessLog, RecordSink


@dataclass(slots=True)
class ObservabilityRuntime:
    sinks: list[RecordSink] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings) -> ObservabilityRuntime:
        return cls(sinks=[AccessLog()])

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
