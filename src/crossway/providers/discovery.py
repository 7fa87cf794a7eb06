"""The self-healing catalog: read each listing backend's `GET /models` (spec A5) so ids the
built-in tables lack become routable without a release.

Runs as a background task started by the routing runtime: never blocks start-up, and a
backend that cannot be read is logged and tried again at the next interval. New ids get their
family's likeliest dialect (Provider.guess_dialect); a wrong guess is corrected on the first
request by the dialect retry (routing/plan.py) and remembered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aiohttp
import orjson

from crossway.providers.base import Provider

log = logging.getLogger("crossway.providers.discovery")

DEFAULT_INTERVAL = 6 * 3600.0  # the catalog changes weekly; a few reads a day are plenty
_TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=5)


async def discover(provider: Provider, session: aiohttp.ClientSession) -> list[str]:
    """Read one backend's listing and add the ids it did not know; returns them."""
    if not provider.instances:
        return []
    request = provider.models_request(provider.instances[0])
    if request is None:
        return []
    async with session.request(request.method, request.url, headers=request.headers,
                               params=request.params or None) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}")
    added = provider.add_discovered(provider.parse_models(body))
    if added:
        log.info("backend %s lists %d model(s) the built-in catalog lacks, now routable: %s",
                 provider.name, len(added), ", ".join(sorted(added)))
    return added


async def discover_all(providers: Sequence[Provider], session: aiohttp.ClientSession) -> None:
    for provider in providers:
        if not provider.lists_models:
            continue
        try:
            await discover(provider, session)
        except (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError,
                orjson.JSONDecodeError, AttributeError) as exc:
            log.warning("backend %s: could not read its model listing at %s/models (%s); "
                        "the built-in catalog is used", provider.name, provider.base_url,
                        exc or type(exc).__name__)


async def discover_forever(providers: Sequence[Provider], interval: float | None) -> None:
    """Read every listing now, then every `interval` seconds (None: once)."""
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
        while True:
            await discover_all(providers, session)
            if interval is None:
                return
            await asyncio.sleep(interval)
