"""Render crossway errors in the client's own dialect, with the status and headers SDKs act on."""

from __future__ import annotations

import secrets

import orjson
from aiohttp import web

from crossway.errors import CrosswayError

ANTHROPIC = "anthropic"
OPENAI = "openai_chat"


def error_response(err: CrosswayError, dialect: str) -> web.Response:
    status = err.status
    headers = dict(err.headers)
    request_id = "req_" + secrets.token_hex(12)
    headers["request-id"] = request_id
    if err.should_retry is not None:
        headers["x-should-retry"] = "true" if err.should_retry else "false"
    if dialect == ANTHROPIC:
        body: dict[str, object] = {
            "type": "error",
            "error": {"type": err.anthropic_type, "message": err.message},
            "request_id": request_id,
        }
    else:
        if status == 529:  # OpenAI clients know no 529 (spec B8)
            status = 503
        body = {"error": {"message": err.message, "type": err.openai_type,
                          "param": err.param, "code": err.code}}
    return web.Response(status=status, body=orjson.dumps(body), headers=headers,
                        content_type="application/json")


def dialect_for_path(path: str, has_anthropic_version: bool) -> str:
    if path.startswith(("/v1/messages", "/anthropic/")):
        return ANTHROPIC
    if path.startswith("/v1/models") and has_anthropic_version:
        return ANTHROPIC
    return OPENAI
