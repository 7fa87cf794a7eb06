"""Objects created at start-up and shared by the routes (no module-level mutable state)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from crossway.config.settings import Settings
from crossway.relay import Relay
from crossway.routing.plan import Router
from crossway.tokens import TokenCounter


@dataclass(slots=True)
class AppState:
    settings: Settings
    router: Router
    api_keys: tuple[bytes, ...]
    relay: Relay | None = None  # created on start-up, inside the event loop
    tokens: TokenCounter | None = None  # loaded on start-up, off the event loop

    def get_relay(self) -> Relay:
        assert self.relay is not None, "relay used before application start-up"
        return self.relay


STATE = web.AppKey("crossway_state", AppState)
