"""Amazon Bedrock's Converse API (`/model/{modelId}/converse`, `/converse-stream`), upstream
side: the one shape Bedrock serves every model family in (Llama, Nova, Mistral, DeepSeek,
Qwen, ...). Requests are signed and streams unframed by the Bedrock provider; this package
only knows the JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossway import ir
from crossway.dialects.base import Dialect
from crossway.dialects.bedrock_converse.request_encode import encode_request
from crossway.dialects.bedrock_converse.response import decode_response
from crossway.dialects.bedrock_converse.stream_decode import StreamDecoder
from crossway.dialects.caps import Capabilities
from crossway.errors import CrosswayError

__all__ = ["DIALECT", "StreamDecoder", "decode_response", "encode_request"]


class BedrockConverse(Dialect):
    """No client paths (clients reach Bedrock models through the other doors), never the
    fast path; tool names of at most 64 characters (`[a-zA-Z0-9_-]{1,64}`)."""

    name = "bedrock_converse"
    tool_name_limit = 64

    def error_body(self, err: CrosswayError, request_id: str) -> tuple[int, dict[str, Any]]:
        return err.status, {"message": err.message}

    def encode_request(self, req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
        return encode_request(req, model, caps)

    def decode_response(self, body: dict[str, Any], caps: Capabilities) -> ir.Response:
        return decode_response(body, caps)

    def stream_decoder(self, caps: Capabilities) -> StreamDecoder:
        return StreamDecoder(caps)

    def upstream_headers(self, key: str, *, client_headers: Mapping[str, str],
                         caps: Capabilities) -> dict[str, str]:
        return {}  # SigV4 over the final bytes, by the provider


DIALECT = BedrockConverse()
