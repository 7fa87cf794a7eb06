"""The routing half of the running gateway, built once at start-up: the router, the health
object it consults, the fallback policy the relay asks, and their start/stop (shared state,
background refreshes). server/app.py only calls this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossway.config.settings import Settings
from crossway.providers import Provider
from crossway.routing.plan import Router
from crossway.routing.policy import FallbackPolicy, Health


@dataclass(slots=True)
class RoutingRuntime:
    router: Router
    health: Health
    policy: FallbackPolicy

    @classmethod
    def create(cls, settings: Settings, providers: Sequence[Provider]) -> RoutingRuntime:
        health = Health()
        return cls(Router(providers, health), health, FallbackPolicy())

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
