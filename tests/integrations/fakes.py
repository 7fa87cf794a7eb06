"""OpenCode Go's key-checking usage endpoint on top of the shared fake upstream.

Real service (console `zen/go/v1/usage.ts`): `GET /zen/go/v1/usage` with `Authorization:
Bearer <key>` looks the key up; a missing key or an unknown one answers 401 with
`{"error": "..."}`, a known one 200 with the plan and its usage windows. It spends nothing,
which is why `crossway doctor` checks Go keys with it. The shared fake in tests/fakes does
not serve it yet; this subclass adds only that route.
"""

from __future__ import annotations

import email.utils
import time

from aiohttp import web

from tests.fakes.opencode import FakeOpenCode, Recorded


class FakeGoWithUsage(FakeOpenCode):
    def __init__(self, keys: tuple[str, ...], date_offset: float = 0.0) -> None:
        super().__init__(tier="go", keys=keys)
        self.date_offset = date_offset  # seconds added to the Date header (a skewed clock)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.path == self.prefix + "/usage":
            return self._usage(request)
        resp = await super()._dispatch(request)
        self._date(resp)
        return resp

    def _usage(self, request: web.Request) -> web.StreamResponse:
        rec = Recorded("GET", request.path, {}, {k.lower(): v for k, v in
                                                 request.headers.items()}, None, route="usage")
        with self._lock:
            self._state.requests.append(rec)
        parts = request.headers.get("authorization", "").split(" ")
        key = parts[1] if len(parts) == 2 else ""
        if not key or key == "public":
            body: dict[str, object] = {"error": "Missing API key. Set your OpenCode Go API "
                                                "key to view usage."}
            resp = web.json_response(body, status=401)
        elif key not in self.keys:
            resp = web.json_response({"error": "Invalid API key."}, status=401)
        else:
            resp = web.json_response({"plan": "lite", "windows": [], "useBalance": False})
        self._date(resp)
        return self._answer(rec, resp)

    def _date(self, resp: web.StreamResponse) -> None:
        if self.date_offset:
            resp.headers["date"] = email.utils.formatdate(time.time() + self.date_offset,
                                                          usegmt=True)
