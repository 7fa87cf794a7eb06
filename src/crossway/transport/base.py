"""The transport seam: how the relay sends one upstream request and reads the answer.

The relay sees only these types, so it runs unchanged over aiohttp (transport/http.py) or in
memory (transport/memory.py, for tests). Implementations raise `TransportFailure` with the
phase that failed (crossway.failures.FailureKind), never library exceptions.
"""

from __future__ import annotations

import email.utils
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

# Error bodies are small; a huge one is a misbehaving upstream, not information.
MAX_ERROR_BODY = 1 << 20
# Non-streaming responses can be large (long completions), but not unbounded.
MAX_RESPONSE_BODY = 64 << 20


@dataclass(slots=True)
class UpstreamRequest:
    """One request, final: what is signed is what is sent."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""
    # Sent as query parameters (Azure's api-version, Gemini's alt=sse) when a provider
    # prefers them apart from the URL.
    params: dict[str, str] = field(default_factory=dict)


class UpstreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]

    async def read(self, limit: int) -> bytes:
        """The whole body; TransportFailure(PROTOCOL) past `limit` bytes."""
        ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        ...

    def release(self) -> None: ...


class Transport(Protocol):
    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send and wait for the status line and headers."""
        ...

    async def close(self) -> None: ...


def retry_after_seconds(value: str | float | None, now: float) -> float | None:
    """A `retry-after` value (delta seconds or an HTTP date) as seconds from `now` (unix
    time); None when absent or unreadable."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value))
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass  # not a number: an HTTP date, or nothing usable
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
