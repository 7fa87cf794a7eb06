"""Read and parse a request body once, with a size limit; errors in the client's terms."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from crossway.errors import InvalidRequest, PayloadTooLarge


async def read_json_object(request: web.Request, limit: int) -> dict[str, Any]:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes") from exc
    if not raw:
        raise InvalidRequest("request body is empty; a JSON object is required")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, not a {type(body).__name__}")
    return body
