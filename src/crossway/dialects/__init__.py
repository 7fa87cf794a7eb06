"""Sans-I/O codecs, one module per wire dialect: wire dict / SSE <-> canonical model (ir).

Every dialect module exposes the same surface, so the relay can pair any client dialect
with any upstream dialect:

    decode_request(body: dict) -> ir.Request
        Validate a client request body (already parsed JSON) and convert it.
        Bad input raises crossway.errors.InvalidRequest with a message naming the field.
    encode_request(req: ir.Request, model: str, caps: Capabilities) -> dict
        Build the upstream request body for `model` (the bare upstream id).
    decode_response(body: dict, caps: Capabilities | None = None) -> ir.Response
        Convert a non-streaming upstream response body.
    encode_response(resp: ir.Response, model: str) -> dict
        Build the non-streaming client response; `model` is what the client asked for.
    class StreamDecoder(caps: Capabilities | None = None)
        .feed(event: SSEEvent) -> list[ir.StreamEvent]   one upstream SSE event in
        .finish() -> list[ir.StreamEvent]                at upstream EOF
        .done: bool                                      a terminal event was produced
        Guarantees the stream contract of crossway.ir: MessageStart first, block-structured
        content, exactly one terminal event (MessageEnd or StreamError); nothing after it
        (Zen's trailing cost frames are dropped). EOF or an error before the terminal event
        yields StreamError, never a fake MessageEnd.
    class StreamEncoder(model: str, *, include_usage: bool = True)
        .encode(event: ir.StreamEvent) -> bytes          SSE bytes for the client (may be b"")
        Emits nothing after the terminal event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the upstream model accepts, as far as request encoding is concerned."""

    # Send assistant reasoning back as `reasoning_content` (DeepSeek/Kimi-style interleaved models).
    reasoning_replay: bool = False
    # The upstream accepts `parallel_tool_calls` (some OSS routes 422 on it).
    parallel_tool_calls: bool = True
    # The upstream is a real Anthropic model that validates thinking signatures.
    anthropic_native: bool = False
    # Chat upstreams that take a `thinking: {"type": "enabled"|"disabled"}` switch
    # (DeepSeek, Kimi, GLM, MiMo; spec B1.11). Kimi and GLM on OpenCode Go ignore "disabled".
    thinking_switch: bool = False
    # The upstream accepts `reasoning_effort` (GLM console routes reject it, spec A10).
    reasoning_effort: bool = False
    # The model sometimes writes `<tool_call>` envelopes into its text (Qwen / Hermes style).
    text_tool_calls: bool = False
    # The model's output can need repair even for a same-dialect client (Kimi leaks raw
    # tool-call tokens into content), so it never takes the passthrough fast path.
    repair_output: bool = False
    # Clamp for max_tokens, when known.
    max_output_tokens: int | None = None
    # Output tokens to ask for when the client gave no max_tokens (Anthropic requires it).
    default_max_tokens: int = 32000
