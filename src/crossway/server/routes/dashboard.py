"""GET /dashboard: one page of static files shipped in crossway.web (no build step, nothing
loaded from elsewhere). The page asks for the admin key when /admin/* wants one."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
# Nothing but these files is served, whatever the path says.
_FILES = ("index.html", "dashboard.js", "dashboard.css", "favicon.svg")
# The page loads only what crossway serves: no script, style or connection elsewhere.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")


def _file(name: str) -> web.Response:
    data = resources.files("crossway.web").joinpath(name).read_bytes()
    ctype = _TYPES[name[name.rindex("."):]]
    return web.Response(body=data, headers={"content-type": ctype,
                                            "cache-control": "no-cache",
                                            "content-security-policy": _CSP,
                                            "x-content-type-options": "nosniff"})


async def page(request: web.Request) -> web.Response:
    return _file("index.html")


async def asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _FILES:
        raise web.HTTPNotFound()
    return _file(name)


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/dashboard")


ROUTES = [
    ("GET", "/dashboard", page),
    ("GET", "/dashboard/", redirect),
    ("GET", "/dashboard/{name}", asset),
]
