"""The routing half of the running gateway, built once at start-up: the router, the health
object it consults, the fallback policy the relay asks, and their start/stop (shared state,
background refreshes, the catalog read). server/app.py only calls this.

Environment: `CROSSWAY_REDIS_URL` shares cooldowns, breakers, learned dialects and
stickiness between processes (state.py); `CROSSWAY_CATALOG_REFRESH` is the number of seconds
between reads of each OpenCode backend's model listing (default 6 hours; `0` reads it only at
start-up, `off` never).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from crossway.config.routing import RoutingSettings, validate_models
from crossway.config.settings import Settings
from crossway.errors import ConfigError
from crossway.providers import Instance, Provider
from crossway.providers.discovery import DEFAULT_INTERVAL, discover_forever
from crossway.routing.auto import AutoRouter
from crossway.routing.breaker import Breaker
from crossway.routing.claude_names import ClaudeMapping
from crossway.routing.keypool import KeyPool
from crossway.routing.plan import Router, drop_unkeyed_zen
from crossway.routing.policy import FallbackPolicy, Health
from crossway.routing.resilience import DialectBook, RoutingHealth, RoutingPolicy
from crossway.routing.state import Refreshable, State, WriteBehind, refresh_forever, state_from_env

log = logging.getLogger("crossway.routing")

CATALOG_REFRESH_ENV = "CROSSWAY_CATALOG_REFRESH"
REFRESH_INTERVAL = 1.0  # seconds between pulls of other replicas' cooldowns and breakers


@dataclass(slots=True)
class RoutingRuntime:
    router: Router
    health: Health
    policy: FallbackPolicy
    state: State | None = None
    writer: WriteBehind | None = None
    parts: tuple[Refreshable, ...] = ()
    providers: tuple[Provider, ...] = ()
    catalog_interval: float | None = None  # None: read once; negative: never
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings, providers: Sequence[Provider],
               env: Mapping[str, str] | None = None) -> RoutingRuntime:
        """Raises ConfigError when the routing section names what no backend can route."""
        env = os.environ if env is None else env
        routing = settings.routing()
        state = state_from_env(env)
        writer = WriteBehind()
        breaker = Breaker(state, routing.breaker, writer=writer)
        pools: dict[str, KeyPool[Instance]] = {
            p.name: KeyPool(p.name, p.instances, state, writer=writer)
            for p in providers if p.instances}
        auto = AutoRouter(state, tables=routing.auto, traits=routing.models, writer=writer)
        drop_unkeyed_zen(auto, providers, configured=any(
            k.startswith("auto.zen-auto") for k in routing.origins))
        dialects = DialectBook(providers, state, writer)
        health = RoutingHealth(breaker, pools, dialects, auto)
        router = Router(providers, health, aliases=routing.aliases,
                        fallbacks=routing.fallbacks, claude=_claude_mapping(routing, providers),
                        auto=auto, pools=pools)
        validate_models(routing, router.is_routable)
        policy = RoutingPolicy(health, routing.budget, auto.traits)
        return cls(router, health, policy, state, writer,
                   (breaker, *pools.values(), dialects), tuple(providers),
                   _catalog_interval(env))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.state is not None and self.parts:
            self._tasks.append(loop.create_task(
                refresh_forever(self.parts, REFRESH_INTERVAL), name="crossway-routing-refresh"))
        interval = self.catalog_interval
        if interval is None or interval > 0:
            # Not awaited: start-up never waits on an upstream's listing.
            self._tasks.append(loop.create_task(
                discover_forever(self.providers, interval), name="crossway-catalog"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.writer is not None:
            await self.writer.flush()
        if self.state is not None:
            await self.state.close()


def _claude_mapping(routing: RoutingSettings, providers: Sequence[Provider]) -> ClaudeMapping:
    """The configured mapping; by default Go's, but Zen's when only Zen has a key (Claude
    names Zen does not serve, like Claude Code's newest default, go to zen-auto then)."""
    keyed = {p.name for p in providers if p.instances}
    if any(k.startswith("claude.") for k in routing.origins) or "opencode-go" in keyed or \
            "opencode-zen" not in keyed:
        return routing.claude
    return dataclasses.replace(routing.claude, opus="zen-auto", sonnet="zen-auto",
                               haiku="opencode-zen/deepseek-v4-flash")


def build_router(settings: Settings, providers: Sequence[Provider]) -> Router:
    """The router as the gateway builds it (aliases, fallbacks, auto routers), with
    in-process state: for offline commands (`crossway models`, client configs)."""
    return RoutingRuntime.create(settings, providers, env={}).router


def _catalog_interval(env: Mapping[str, str]) -> float | None:
    raw = (env.get(CATALOG_REFRESH_ENV) or "").strip().lower()
    if not raw:
        return DEFAULT_INTERVAL
    if raw in ("off", "no", "false", "never"):
        return -1.0
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"{CATALOG_REFRESH_ENV} must be a number of seconds, 0 (read at "
                          f"start-up only) or off (got {raw!r})") from None
    if seconds < 0:
        raise ConfigError(f"{CATALOG_REFRESH_ENV} must not be negative (got {raw!r})")
    return None if seconds == 0 else seconds
