"""Objects created at start-up and shared by the routes (no module-level mutable state)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from crossway.config.settings import Settings
from crossway.observability.records import RequestIds
from crossway.observability.setup import ObservabilityRuntime
from crossway.observability.sinks import RecordSink
from crossway.reasoning_cache import ReasoningCache
from crossway.relay import Relay
from crossway.routing.plan import Router
from crossway.routing.policy import Health
from crossway.routing.setup import RoutingRuntime
from crossway.server.response_store import ResponseStore
from crossway.tokens import TokenCounter


@dataclass(slots=True)
class AppState:
    settings: Settings
    router: Router
    api_keys: tuple[bytes, ...]
    health: Health = field(default_factory=Health)
    # Every finished request record goes to each sink (access log, stats, store, ...).
    sinks: list[RecordSink] = field(default_factory=list)
    routing: RoutingRuntime | None = None
    # Recent Responses answers, for previous_response_id (bounded, in memory).
    responses: ResponseStore = field(default_factory=ResponseStore)
    # Reasoning tokens OpenAI chat clients cannot carry, kept for their next turn (bounded).
    reasoning: ReasoningCache = field(default_factory=ReasoningCache)
    observability: ObservabilityRuntime | None = None
    relay: Relay | None = None  # created on start-up, inside the event loop
    # Loading the tokenizer takes ~0.3 s: started at start-up in a worker thread, awaited
    # by the first count_tokens request, so the gateway serves completions without waiting.
    tokens: asyncio.Future[TokenCounter] | None = None
    ids: RequestIds = field(default_factory=RequestIds)

    async def get_tokens(self) -> TokenCounter:
        assert self.tokens is not None, "token counter used before start-up"
        return await self.tokens

    def get_relay(self) -> Relay:
        assert self.relay is not None, "relay used before application start-up"
        return self.relay


STATE = web.AppKey("crossway_state", AppState)
