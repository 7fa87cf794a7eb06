"""What a wire dialect is, to the rest of crossway: one `Dialect` object per dialect.

The server asks it to preflight a client body and to word errors; the relay asks it for its
codec (to translate) or its passthrough (to forward a same-dialect request with minimal
edits); providers ask it for the auth headers its upstreams expect. Nothing outside
`dialects/` compares dialect names: it asks the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from crossway import ir
from crossway.dialects.caps import Capabilities
from crossway.dialects.sse import SSEEvent
from crossway.errors import CrosswayError


@dataclass(frozen=True, slots=True)
class Preflight:
    """What the edge needs from a client body before routing, checked cheaply (no decode)."""

    model: str
    stream: bool
    include_usage: bool  # the client wants usage in its stream


class StreamDecoder(Protocol):
    done: bool

    def feed(self, event: SSEEvent) -> list[ir.StreamEvent]: ...

    def finish(self) -> list[ir.StreamEvent]: ...


class StreamEncoder(Protocol):
    def encode(self, event: ir.StreamEvent) -> bytes: ...


class PassthroughStream(Protocol):
    """Forwards a same-dialect upstream stream frame by frame, parsing each frame once.

    `content` turns True at the first frame that carries content or ends the stream
    successfully (the relay commits the client response there, not before); `error` is set
    when the upstream reported an error or sent a frame that cannot be parsed, and `done`
    when the stream is over (terminal frame, error or unparseable frame).
    """

    done: bool
    content: bool
    error: ir.StreamError | None
    protocol_error: bool  # the error is a frame crossway could not parse
    usage: ir.Usage | None

    def feed(self, event: SSEEvent) -> bytes: ...

    def error_frame(self, message: str, *, status: int = 502,
                    error_type: str = "api_error") -> bytes:
        """The in-stream error that ends this forwarded stream after its commit (a dialect
        whose streams carry ids and sequence numbers continues them)."""
        ...


class Dialect:
    """Base of every dialect object; each dialect package subclasses it once."""

    name: str = ""
    # Front-door path prefixes that speak this dialect (errors on them use its shape).
    client_paths: tuple[str, ...] = ()
    # A request header that marks a client of this dialect on shared paths (/v1/models).
    client_header: str | None = None
    # The longest tool name its upstreams accept (None: no limit crossway must enforce).
    tool_name_limit: int | None = None
    # Sent while a committed stream is silent, so clients and proxies do not time out.
    keepalive: bytes = b": keep-alive\n\n"
    # The client round-trips reasoning tokens (a thinking signature, encrypted_content). When
    # it cannot (OpenAI chat), the relay keeps them for its next turn (reasoning_cache.py).
    carries_reasoning_tokens: bool = True

    # ------------------------------------------------------------ client side

    def preflight(self, body: dict[str, Any]) -> Preflight:
        raise NotImplementedError

    def error_body(self, err: CrosswayError, request_id: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, body) for an error answered to a client of this dialect."""
        raise NotImplementedError

    def error_frame(self, message: str, *, status: int = 502,
                    error_type: str = "api_error") -> bytes:
        """An in-stream error event, for a stream that fails after it was committed."""
        return self.stream_encoder("", include_usage=False).encode(
            ir.StreamError(message, error_type, status))

    # ------------------------------------------------------------ codec

    def decode_request(self, body: dict[str, Any]) -> ir.Request:
        raise NotImplementedError

    def encode_request(self, req: ir.Request, model: str, caps: Capabilities) -> dict[str, Any]:
        raise NotImplementedError

    def decode_response(self, body: dict[str, Any], caps: Capabilities) -> ir.Response:
        raise NotImplementedError

    def encode_response(self, resp: ir.Response, model: str,
                        request: ir.Request | None = None) -> dict[str, Any]:
        """`request`: the client's decoded request, for dialects whose answers depend on it
        (Responses: custom tools come back as custom_tool_call)."""
        raise NotImplementedError

    def stream_decoder(self, caps: Capabilities) -> StreamDecoder:
        raise NotImplementedError

    def stream_encoder(self, model: str, *, include_usage: bool,
                       request: ir.Request | None = None) -> StreamEncoder:
        raise NotImplementedError

    # ------------------------------------------------------------ same-dialect fast path

    def passthrough_ok(self, body: dict[str, Any], caps: Capabilities) -> bool:
        """Whether a body of this dialect may go to an upstream of this dialect untranslated."""
        return False

    def passthrough_body(self, body: dict[str, Any], *, model: str, caps: Capabilities,
                         stream: bool) -> dict[str, Any]:
        """The forwarded body: a copy with the edits this upstream needs (never mutates
        `body`, which another target may still need)."""
        raise NotImplementedError

    def passthrough_unary(self, data: dict[str, Any], requested: str) -> ir.Usage:
        """Edit a forwarded non-stream answer in place (the client's model name) and read
        its usage, without decoding the rest."""
        raise NotImplementedError

    def passthrough_stream(self, *, requested: str, upstream_model: str,
                           include_usage: bool) -> PassthroughStream:
        raise NotImplementedError

    # ------------------------------------------------------------ upstream wire

    def upstream_headers(self, key: str, *, client_headers: Mapping[str, str],
                         caps: Capabilities) -> dict[str, str]:
        """Auth (and version) headers the dialect's upstreams expect; nothing of the
        client's credentials."""
        return {"authorization": "Bearer " + key}
