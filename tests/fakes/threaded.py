"""A fake upstream's plumbing: an aiohttp server on 127.0.0.1 in a thread of its own, a
FIFO script of replies and a record of every request. Subclasses implement `route`.

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

R = TypeVar("R")


@dataclass
class Recorded:
    method: str
    path: str  # as sent, percent-encoding kept
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any
    status: int | None = None


class Rejected(Exception):
    """Raised by a route: answer `status` with `body` (JSON) and `headers`."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class ServerThread:
    """An aiohttp server on 127.0.0.1, on a free port, in a thread with its own event loop;
    every request goes to `_dispatch`. Start and stop it, or use it as a context manager."""

    name = "fake"

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._startup_error: BaseException | None = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=self.name,
                                        daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.name} did not start within 10 s")
        if self._startup_error is not None:
            raise RuntimeError(f"{self.name} failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None and loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop)
            with contextlib.suppress(TimeoutError):
                fut.result(timeout=5)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        self._thread = self._loop = self._runner = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self._startup_error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])


class ThreadedFake(ServerThread, Generic[R]):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._script: deque[R] = deque()
        self._requests: list[Recorded] = []

    @property
    def origin(self) -> str:
        if not self.port:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: R) -> Self:
        with self._lock:
            self._script.extend(replies)
        return self

    def next_reply(self, default: R) -> R:
        with self._lock:
            return self._script.popleft() if self._script else default

    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()

    async def route(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        raise NotImplementedError

    # ------------------------------------------------------------------ requests

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        rec = Recorded(request.method, request.raw_path.split("?", 1)[0],
                       dict(parse_qsl(request.query_string, keep_blank_values=True)),
                       {k.lower(): v for k, v in request.headers.items()}, raw, parsed)
        with self._lock:
            self._requests.append(rec)
        try:
            resp = await self.route(request, rec)
        except Rejected as r:
            resp = web.json_response(r.body, status=r.status, headers=r.headers)
        rec.status = resp.status
        return resp
