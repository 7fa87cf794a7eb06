"""Render crossway errors in the client's own dialect, with the status and headers SDKs act on."""

from __future__ import annotations

import orjson
from aiohttp import web

from crossway.dialects.base import Dialect
from crossway.errors import CrosswayError


def error_response(err: CrosswayError, dialect: Dialect, request_id: str) -> web.Response:
    headers = dict(err.headers)
    headers["request-id"] = request_id
    if err.should_retry is not None:
        headers["x-should-retry"] = "true" if err.should_retry else "false"
    status, body = dialect.error_body(err, request_id)
    return web.Response(status=status, body=orjson.dumps(body), headers=headers,
                        content_type="application/json")
