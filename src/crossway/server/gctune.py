"""The garbage collector, tuned for a gateway that serves many small requests.

CPython's defaults (a young-generation collection every 700 net allocations of container
objects, a full one whenever enough objects have survived) suit scripts, not a server with
64 requests in flight: every young collection finds those requests' objects still alive,
walks them, and promotes them, and the full collections then walk everything the process
ever loaded (modules, the model catalog, the tokenizer's vocabulary). Measured on the fast
path at c=64 (docs/benchmarks.md): ~70 µs of CPU per request went to the collector, none of
it finding garbage, since crossway's request objects do not form reference cycles: reference
counting frees them.

So, once crossway has started (and again once the tokenizer has loaded in its thread):
`gc.freeze()` moves every object alive by then out of the collector's sight for good, and the
young generation is collected every 50,000 net allocations instead of 700. Memory is not
at stake: objects without cycles are freed as before, the moment their last reference goes;
only cyclic garbage waits longer, and a request makes none.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from aiohttp import web

from crossway.server.state import STATE

log = logging.getLogger("crossway")

# gen0 every 50,000 net allocations (default 700); gen1 every 20 of those (default 10);
# gen2 considered every 100 gen1 collections (default 10), and still only once a quarter as
# many objects as it holds have survived since (CPython's own rule).
THRESHOLDS = (50_000, 20, 100)


def settle() -> None:
    """Everything alive now is start-up state: keep the collector off it. No collection
    first: a full one takes ~30 ms here, which start-up (the time to the first served
    request) should not pay; it runs once the tokenizer is loaded (_settle_after)."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


def _settle_after(fut: asyncio.Future[Any]) -> None:
    # The tokenizer's vocabulary is in: drop start-up's garbage, then freeze what stays.
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def on_started(app: web.Application) -> None:
    """An on_startup hook, appended after the gateway's own (cli._run does it, so tests
    that build an app in their own process keep the interpreter's defaults)."""
    settle()
    tokens = app[STATE].tokens
    if tokens is not None:
        tokens.add_done_callback(_settle_after)
    log.debug("garbage collector settled: %d objects frozen, thresholds %s",
              gc.get_freeze_count(), THRESHOLDS)
