"""The floor: the least an aiohttp proxy can do. Forwards the body untouched to the same
route of the upstream and the answer back untouched (streams chunk by chunk).

    python -m bench.floor --port 9200 --upstream http://127.0.0.1:9100/v1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
ROUTES = {"/v1/chat/completions": "/chat/completions", "/v1/messages": "/messages"}


def make_app(upstream: str) -> web.Application:
    app = web.Application()

    async def startup(app: web.Application) -> None:
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def cleanup(app: web.Application) -> None:
        await app[SESSION].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"content-type": "application/json"}
        async with request.app[SESSION].post(
                upstream + ROUTES[request.path], data=body, headers=headers) as up:
            ctype = up.headers.get("content-type", "application/json")
            if not ctype.startswith("text/event-stream"):
                return web.Response(status=up.status, body=await up.read(),
                                    headers={"content-type": ctype})
            out = web.StreamResponse(status=up.status, headers={"content-type": ctype})
            await out.prepare(request)
            async for chunk in up.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    for path in ROUTES:
        app.router.add_post(path, forward)
    app.on_startup.append(startup)
    app.on_cleanup.append(cleanup)
    return app


def main() -> None:
    ap = argparse.ArgumentParser(description="minimal aiohttp passthrough (the bench floor)")
    ap.add_argument("--port", type=int, default=9200)
    ap.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:9100/v1")
    a = ap.parse_args()
    with contextlib.suppress(ImportError):
        import uvloop  # as crossway does
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(make_app(a.upstream), host="127.0.0.1", port=a.port, access_log=None,
                print=None)


if __name__ == "__main__":
    main()
