"""Gemini native dialect (`generateContent`, `streamGenerateContent?alt=sse`), upstream side.

The same codec surface as the other dialects (crossway.dialects): encode_request,
decode_response, StreamDecoder; plus error_body, parse_error and map_error for Gemini's
google.rpc error bodies. The model id and the method travel in the URL, which providers
build (`{base}/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`).
There is no Gemini front door yet, so decode_request / encode_response / StreamEncoder are
not here; they would be request_decode.py, response_encode.py and stream_encode.py.
"""

from __future__ import annotations

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

__all__ = [
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
