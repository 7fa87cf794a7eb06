"""Anthropic Messages: `/v1/messages` bodies and event streams <-> crossway.ir.

Client side (requests from Claude Code and the anthropic SDK, answers to them) and upstream
side (MiniMax/Qwen on OpenCode, real Claude) share the wire helpers in `wire.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossway import ir
from crossway.dialects.anthropic import passthrough, preflight
from crossway.dialects.anthropic.request_decode import decode_request
from crossway.dialects.anthropic.request_encode import encode_request
from crossway.dialects.anthropic.response import decode_response, encode_response
from crossway.dialects.anthropic.stream_decode import StreamDecoder
from crossway.dialects.anthropic.stream_encode import PING, StreamEncoder
from crossway.dialects.anthropic.wire import error_body
from crossway.dialects.base import Dialect, PassthroughStream, Preflight
from crossway.dialects.caps import Capabilities
from crossway.errors import CrosswayError

__all__ = [
    "DIALECT",
    "StreamDecoder",
    "StreamEncoder",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "error_body",
]

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicMessages(Dialect):
    name = "anthropic"
    client_paths = ("/v1/messages", "/anthropic/")
    client_header = "anthropic-version"
    keepalive = PING

    def preflight(self, body: dict[str, Any]) -> Preflight:
        return preflight.preflight(body)

    def error_body(self, err: CrosswayError, request_id: str) -> tuple[int, dict[str, Any]]:
        body = error_body(err.anthropic_type, err.message)
        body["request_id"] = request_id
        return err.status, body

    def decode_request(self, body: dict[str, Any]) -> ir.Request:
        return decode_request(body)

    def encode_request(self, req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
        return encode_request(req, model, caps)

    def decode_response(self, body: dict[str, Any], caps: Capabilities) -> ir.Response:
        return decode_response(body, caps)

    def encode_response(self, resp: ir.Response, model: str,
                        request: ir.Request | None = None) -> dict[str, Any]:
        return encode_response(resp, model)

    def stream_decoder(self, caps: Capabilities) -> StreamDecoder:
        return StreamDecoder(caps)

    def stream_encoder(self, model: str, *, include_usage: bool,
                       request: ir.Request | None = None) -> StreamEncoder:
        return StreamEncoder(model, include_usage=include_usage)

    def passthrough_ok(self, body: dict[str, Any], caps: Capabilities) -> bool:
        return passthrough.passthrough_ok(body, caps)

    def passthrough_body(self, body: dict[str, Any], *, model: str, caps: Capabilities,
                         stream: bool) -> dict[str, Any]:
        return passthrough.passthrough_body(body, model=model, caps=caps, stream=stream)

    def passthrough_unary(self, data: dict[str, Any], requested: str) -> ir.Usage:
        return passthrough.passthrough_unary(data, requested)

    def passthrough_stream(self, *, requested: str, upstream_model: str,
                           include_usage: bool) -> PassthroughStream:
        return passthrough.MessagesPassthrough(
            requested=requested, upstream_model=upstream_model, include_usage=include_usage)

    def upstream_headers(self, key: str, *, client_headers: Mapping[str, str],
                         caps: Capabilities) -> dict[str, str]:
        h = {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
        if caps.anthropic_native:
            # A real Anthropic upstream gets the client's version and betas (prompt caching,
            # 1M context, ...); nothing else of the client's headers.
            h["anthropic-version"] = client_headers.get("anthropic-version") or ANTHROPIC_VERSION
            beta = client_headers.get("anthropic-beta")
            if beta:
                h["anthropic-beta"] = beta
        return h


DIALECT = AnthropicMessages()
