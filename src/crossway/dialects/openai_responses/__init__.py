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
(prepending the stored turns) is the response store's job, before encoding for an upstream.
"""

from __future__ import annotations

from crossway.dialects.openai_responses.request_decode import decode_request
from crossway.dialects.openai_responses.request_encode import encode_request
from crossway.dialects.openai_responses.response import decode_response, encode_response
from crossway.dialects.openai_responses.stream_decode import StreamDecoder
from crossway.dialects.openai_responses.stream_encode import StreamEncoder
from crossway.dialects.openai_responses.wire import decode_usage, encode_usage, error_body

__all__ = [
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
