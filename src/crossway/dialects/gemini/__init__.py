"""Gemini native dialect (`generateContent`, `streamGenerateContent?alt=sse`), upstream side.

The same codec surface as the other dialects (crossway.dialects): encode_request,
decode_response, StreamDecoder; plus error_body, parse_error and map_error for Gemini's
google.rpc error bodies. The model id and the method travel in the URL, which providers
build (`{base}/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`).
There is no Gemini front door yet, so decode_request / encode_response / StreamEncoder are
not here; they would be request_decode.py, response_encode.py and stream_encode.py.
`DIALECT` is the upstream-side Dialect object the relay uses (registered automatically).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossway import ir
from crossway.dialects.base import Dialect
from crossway.dialects.caps import Capabilities
from crossway.dialects.gemini.request_encode import encode_request
from crossway.dialects.gemini.response import decode_response
from crossway.dialects.gemini.schema import clean_parameters, clean_schema
from crossway.dialects.gemini.stream_decode import StreamDecoder
from crossway.dialects.gemini.wire import (
    SKIP_SIGNATURE,
    GeminiError,
    error_body,
    map_error,
    model_ids,
    parse_error,
    request_path,
    unwrap_signature,
    usage_from_wire,
    wrap_signature,
)
from crossway.errors import CrosswayError

__all__ = [
    "DIALECT",
    "SKIP_SIGNATURE",
    "GeminiError",
    "StreamDecoder",
    "clean_parameters",
    "clean_schema",
    "decode_response",
    "encode_request",
    "error_body",
    "map_error",
    "model_ids",
    "parse_error",
    "request_path",
    "unwrap_signature",
    "usage_from_wire",
    "wrap_signature",
]


class GeminiGenerateContent(Dialect):
    """Gemini as an upstream: no client paths (clients reach Gemini models through the
    Anthropic and OpenAI doors), never the fast path, function names of at most 64 chars."""

    name = "gemini"
    tool_name_limit = 64

    def error_body(self, err: CrosswayError, request_id: str) -> tuple[int, dict[str, Any]]:
        return err.status, error_body(err.status, err.message)

    def encode_request(self, req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
        return encode_request(req, model, caps)

    def decode_response(self, body: dict[str, Any], caps: Capabilities) -> ir.Response:
        return decode_response(body, caps)

    def stream_decoder(self, caps: Capabilities) -> StreamDecoder:
        return StreamDecoder(caps)

    def upstream_headers(self, key: str, *, client_headers: Mapping[str, str],
                         caps: Capabilities) -> dict[str, str]:
        # AI Studio's key header; Vertex replaces it with an OAuth bearer token.
        return {"x-goog-api-key": key}


DIALECT = GeminiGenerateContent()
