"""Why an upstream attempt failed, typed by the phase it failed in, and the one place where a
failure becomes the error a client sees.

The relay records the kind on the Attempt; the fallback policy (routing/policy.py) decides
from it whether another target may be tried; the health object learns from it.
"""

from __future__ import annotations

import enum

from crossway.errors import (
    CrosswayError,
    InvalidRequest,
    PayloadTooLarge,
    UpstreamError,
    UpstreamTimeout,
    error_class_for_status,
)


class FailureKind(enum.StrEnum):
    CONNECT = "connect"                  # no connection (refused, DNS, TLS, reset before a reply)
    CONNECT_TIMEOUT = "connect_timeout"  # the connection was not accepted in time
    READ_TIMEOUT = "read_timeout"        # connected, then silent for longer than the read limit
    DISCONNECTED = "disconnected"        # the connection dropped while the answer was read
    PROTOCOL = "protocol"                # an answer crossway cannot use: bad framing, not JSON,
                                         # wrong content type, a stream without its terminal event
    UPSTREAM_STATUS = "upstream_status"  # the upstream answered an error (HTTP or in-stream)
    CLIENT_ERROR = "client_error"        # the client's own request is at fault (never retried)
    UNSUPPORTED = "unsupported"          # crossway cannot talk to this target (its dialect)


class AttemptFailed(Exception):
    """One upstream attempt failed; `error` is what the client gets if nothing else answers."""

    def __init__(self, kind: FailureKind, error: CrosswayError, *, status: int | None = None,
                 error_class: str | None = None, retry_after: str | None = None,
                 limit_name: str | None = None) -> None:
        super().__init__(error.message)
        self.kind = kind
        self.error = error
        self.status = status  # the upstream's HTTP status, when it answered one
        self.error_class = error_class  # the provider's error class (Zen's `ModelError`, ...)
        self.retry_after = retry_after
        self.limit_name = limit_name  # a usage window the upstream named (Go's "5 hour")


class TransportFailure(Exception):
    """The transport could not complete an exchange; `kind` says in which phase."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


_WORDS = {
    FailureKind.CONNECT_TIMEOUT: "did not accept a connection in time",
    FailureKind.READ_TIMEOUT: "sent no data for too long",
    FailureKind.DISCONNECTED: "dropped the connection mid-answer",
    FailureKind.PROTOCOL: "answered something crossway cannot use",
}


def from_transport(exc: TransportFailure, name: str, base_url: str) -> AttemptFailed:
    """A transport failure as the error the client sees: 504 for timeouts, 502 otherwise."""
    if exc.kind is FailureKind.CONNECT:
        message = f"cannot reach {name} at {base_url}: {exc.detail}"
    else:
        message = f"{name} {_WORDS.get(exc.kind, 'failed')} ({exc.detail})"
    timeout = exc.kind in (FailureKind.CONNECT_TIMEOUT, FailureKind.READ_TIMEOUT)
    error: CrosswayError = UpstreamTimeout(message) if timeout else UpstreamError(message)
    return AttemptFailed(exc.kind, error)


def protocol(message: str) -> AttemptFailed:
    return AttemptFailed(FailureKind.PROTOCOL, UpstreamError(message))


def from_upstream(error: CrosswayError, *, status: int | None, error_class: str | None,
                  retry_after: str | None, limit_name: str | None = None) -> AttemptFailed:
    """An error the upstream answered (mapped by its provider). A rejection of the client's
    own request (bad request, context overflow, too large) is the client's error."""
    client_fault = isinstance(error, InvalidRequest | PayloadTooLarge)
    kind = FailureKind.CLIENT_ERROR if client_fault else FailureKind.UPSTREAM_STATUS
    return AttemptFailed(kind, error, status=status, error_class=error_class,
                         retry_after=retry_after, limit_name=limit_name)


def from_stream_error(message: str, status: int, *, protocol_error: bool) -> AttemptFailed:
    """A stream that failed before any content reached the client: a real HTTP error, which
    SDKs retry and the relay may still fall back from (spec B3.1)."""
    error = error_class_for_status(status)(message, status=status)
    if protocol_error:
        return AttemptFailed(FailureKind.PROTOCOL, error, status=status)
    return from_upstream(error, status=status, error_class=None, retry_after=None)


def unsupported(error: CrosswayError) -> AttemptFailed:
    return AttemptFailed(FailureKind.UNSUPPORTED, error)


def client_error(error: CrosswayError) -> AttemptFailed:
    """Building the upstream request failed on the client's input (e.g. a history the
    target's dialect cannot express)."""
    return AttemptFailed(FailureKind.CLIENT_ERROR, error)
