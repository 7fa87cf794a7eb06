"""Wire dialects: one package per dialect, each exposing one registered `Dialect` object.

Every dialect package has the same layout, so a new one (openai_responses, gemini) has an
obvious shape to copy:

    wire.py            the dialect's small wire facts: stop reasons, usage, ids, error types
    request_decode.py  a client body -> ir.Request (validation naming the field) + preflight
    request_encode.py  ir.Request -> an upstream body
    response.py        upstream body -> ir.Response; ir.Response -> client body
    stream_decode.py   StreamDecoder: upstream SSE events -> ir stream events
    stream_encode.py   StreamEncoder: ir stream events -> client SSE bytes
    passthrough.py     the same-dialect fast path: body edits, frame forwarding, usage read
    __init__.py        the codec names above, re-exported, and the `Dialect` object

The codec surface (plain functions and classes, sans-I/O, tested as data):

    decode_request(body: dict) -> ir.Request
    encode_request(req: ir.Request, model: str, caps: Capabilities) -> dict
    decode_response(body: dict, caps: Capabilities | None = None) -> ir.Response
    encode_response(resp: ir.Response, model: str) -> dict       (model: what the client asked)
    StreamDecoder(caps)  .feed(SSEEvent) -> list[ir.StreamEvent], .finish(), .done
        Guarantees the stream contract of crossway.ir: MessageStart first, block-structured
        content, exactly one terminal event (MessageEnd or StreamError), nothing after it
        (Zen's trailing cost frames are dropped). EOF or an error before the terminal event
        yields StreamError, never a fake MessageEnd.
    StreamEncoder(model, *, include_usage=True)  .encode(ir.StreamEvent) -> bytes
        Emits nothing after the terminal event.

`crossway.dialects.registry` maps names to Dialect objects (`dialects.base.Dialect`), which is
all the rest of crossway sees: nothing outside this package compares dialect names.
"""

from __future__ import annotations

from crossway.dialects.caps import Capabilities

__all__ = ["Capabilities"]
