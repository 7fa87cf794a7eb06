"""OpenAI Chat Completions: `/v1/chat/completions` bodies and chunk streams <-> crossway.ir."""

from __future__ import annotations

from typing import Any

from crossway import ir
from crossway.dialects.base import Dialect, PassthroughStream, Preflight
from crossway.dialects.caps import Capabilities
from crossway.dialects.openai_chat import passthrough, preflight
from crossway.dialects.openai_chat.request_decode import decode_request
from crossway.dialects.openai_chat.request_encode import encode_request
from crossway.dialects.openai_chat.response import decode_response, encode_response
from crossway.dialects.openai_chat.stream_decode import StreamDecoder
from crossway.dialects.openai_chat.stream_encode import StreamEncoder
from crossway.dialects.openai_chat.wire import decode_usage, encode_usage, error_body
from crossway.errors import CrosswayError

__all__ = [
    "DIALECT",
    "StreamDecoder",
    "StreamEncoder",
    "decode_request",
    "decode_response",
    "decode_usage",
    "encode_request",
    "encode_response",
    "encode_usage",
    "error_body",
]


class OpenAIChat(Dialect):
    name = "openai_chat"
    client_paths = ("/v1/chat/completions", "/chat/completions")
    # OpenAI-style function names are limited to 64 characters (Claude Code's MCP tools
    # exceed that; crossway shortens and restores them, see crossway.adapt).
    tool_name_limit = 64
    keepalive = b": keep-alive\n\n"  # the openai SDKs and the AI SDK skip SSE comments
    # reasoning_content is text only: a signature or encrypted_content has no field here.
    carries_reasoning_tokens = False

    def preflight(self, body: dict[str, Any]) -> Preflight:
        return preflight.preflight(body)

    def error_body(self, err: CrosswayError, request_id: str) -> tuple[int, dict[str, Any]]:
        status = 503 if err.status == 529 else err.status  # OpenAI clients know no 529 (B8)
        return status, error_body(err.openai_type, err.message, err.code, err.param)

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
        return passthrough.ChatPassthrough(requested=requested, upstream_model=upstream_model,
                                           include_usage=include_usage)


DIALECT = OpenAIChat()
