"""Dialect name -> codec module, typed as a Protocol so the relay can pair any two."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from crossway import ir
from crossway.dialects import Capabilities, anthropic, openai_chat
from crossway.dialects.sse import SSEEvent
from crossway.errors import NotImplementedYet


class StreamDecoder(Protocol):
    done: bool

    def feed(self, event: SSEEvent) -> list[ir.StreamEvent]: ...

    def finish(self) -> list[ir.StreamEvent]: ...


class StreamEncoder(Protocol):
    def encode(self, event: ir.StreamEvent) -> bytes: ...


class Codec(Protocol):
    def decode_request(self, body: dict[str, Any]) -> ir.Request: ...

    def encode_request(
        self, req: ir.Request, model: str, caps: Capabilities
    ) -> dict[str, Any]: ...

    def decode_response(
        self, body: dict[str, Any], caps: Capabilities | None = ...
    ) -> ir.Response: ...

    def encode_response(self, resp: ir.Response, model: str) -> dict[str, Any]: ...

    @property
    def StreamDecoder(self) -> Callable[..., StreamDecoder]: ...

    @property
    def StreamEncoder(self) -> Callable[..., StreamEncoder]: ...


_CODECS: dict[str, Codec] = {"anthropic": anthropic, "openai_chat": openai_chat}


def codec(dialect: str) -> Codec:
    found = _CODECS.get(dialect)
    if found is None:
        raise NotImplementedYet(
            f"the {dialect} upstream dialect is not supported by this crossway version yet "
            "(OpenAI Responses upstreams come with the Responses issue)",
            code="dialect_not_supported",
        )
    return found
