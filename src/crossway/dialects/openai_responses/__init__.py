"""OpenAI Responses: `/v1/responses` bodies and event streams <-> crossway.ir.

Client side for Codex and the openai SDK's `client.responses`; upstream side for OpenCode
Go's Responses-only models (grok-4.5, gpt-5.6-luna, muse-spark) and Zen's GPT models.

Beyond the codec surface every dialect shares (crossway.dialects), the client-side encoders
take the decoded client request, `encode_response(resp, model, request=req)` and
`StreamEncoder(model, request=req)`: with it, calls of the client's custom tools come back as
`custom_tool_call` items, the response echoes the request's settings, and encrypted
reasoning is included only when the client asked for it (`include`). Without it they still
produce valid answers (function calls only for tools not flagged custom in ir).

The same-dialect fast path (body edits for a stateless upstream, frame forwarding, usage read)
and the door's cheap pre-routing checks are in `passthrough.py`.

`ir.Request.previous_response_id` carries the client's `previous_response_id`; resolving it
(prepending the stored turns) is the response store's job (crossway.server.routes.responses),
done on the body before routing, so the relay and this codec never see an unresolved id.
"""

from __future__ import annotations

from typing import Any

from crossway import ir
from crossway.dialects.base import Dialect, PassthroughStream, Preflight
from crossway.dialects.caps import Capabilities
from crossway.dialects.openai_responses import passthrough
from crossway.dialects.openai_responses.request_decode import decode_request
from crossway.dialects.openai_responses.request_encode import encode_request
from crossway.dialects.openai_responses.response import decode_response, encode_response
from crossway.dialects.openai_responses.stream_decode import StreamDecoder
from crossway.dialects.openai_responses.stream_encode import StreamEncoder
from crossway.dialects.openai_responses.wire import decode_usage, encode_usage, error_body
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


class OpenAIResponses(Dialect):
    name = "openai_responses"
    client_paths = ("/v1/responses", "/responses")
    # Responses function names share OpenAI's 64-character limit.
    tool_name_limit = 64
    keepalive = b": keep-alive\n\n"  # the openai SDK and Codex skip SSE comments

    def preflight(self, body: dict[str, Any]) -> Preflight:
        model, stream = passthrough.preflight_fields(body)
        return Preflight(model, stream, include_usage=True)  # Responses streams carry usage

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
        return encode_response(resp, model, request=request)

    def stream_decoder(self, caps: Capabilities) -> StreamDecoder:
        return StreamDecoder(caps)

    def stream_encoder(self, model: str, *, include_usage: bool,
                       request: ir.Request | None = None) -> StreamEncoder:
        return StreamEncoder(model, include_usage=include_usage, request=request)

    def passthrough_ok(self, body: dict[str, Any], caps: Capabilities) -> bool:
        return passthrough.passthrough_ok(body, caps)

    def passthrough_body(self, body: dict[str, Any], *, model: str, caps: Capabilities,
                         stream: bool) -> dict[str, Any]:
        return passthrough.passthrough_body(body, model=model, caps=caps, stream=stream)

    def passthrough_unary(self, data: dict[str, Any], requested: str) -> ir.Usage:
        return passthrough.passthrough_unary(data, requested)

    def passthrough_stream(self, *, requested: str, upstream_model: str,
                           include_usage: bool) -> PassthroughStream:
        return passthrough.ResponsesPassthrough(
            requested=requested, upstream_model=upstream_model, include_usage=include_usage)


DIALECT = OpenAIResponses()
