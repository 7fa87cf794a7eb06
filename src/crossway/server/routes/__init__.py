"""One module per API. A module that defines `ROUTES` (a list of (method, path, handler)) is
registered by `register_declared`, so adding an endpoint touches only its own module."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Routes = list[tuple[str, str, Handler]]


def register_declared(app: web.Application) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        routes: Routes | None = getattr(module, "ROUTES", None)
        for method, path, handler in routes or ():
            app.router.add_route(method, path, handler)
