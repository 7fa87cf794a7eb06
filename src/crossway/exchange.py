"""One client request on its way through the gateway (`Exchange`), and one upstream try of it
(`Attempt`). The relay creates an Attempt per target it tries and the pumps write to it; the
finished request record holds the list of them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossway import ir
from crossway.dialects.base import Dialect
from crossway.failures import AttemptFailed, FailureKind

if TYPE_CHECKING:
    from crossway.observability.records import RequestRecord
    from crossway.routing.plan import Plan, Target


@dataclass(slots=True)
class Attempt:
    target: Target
    fast: bool  # same-dialect passthrough (else translated through the codecs)
    started: float = field(default_factory=time.perf_counter)
    # Tool names shortened for this target: upstream name -> the client's name.
    restore_names: dict[str, str] = field(default_factory=dict)
    first_byte: float | None = None  # first byte of the upstream's answer
    ended: float | None = None
    status: int | None = None  # the upstream's HTTP status
    failure: FailureKind | None = None
    error: str | None = None
    error_class: str | None = None  # the provider's error class (Zen's `ModelError`, ...)
    retry_after: str | None = None
    limit_name: str | None = None  # a usage window the upstream named (Go's "5 hour")
    committed: bool = False  # bytes of this attempt reached the client
    usage: ir.Usage | None = None
    cost: float | None = None  # what the upstream said this attempt cost (USD), when it does

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()

    def fail(self, failure: AttemptFailed) -> None:
        self.failure = failure.kind
        self.error = failure.error.message
        self.error_class = failure.error_class
        self.retry_after = failure.retry_after
        self.limit_name = failure.limit_name
        if failure.status is not None:
            self.status = failure.status
        self.ended = time.perf_counter()

    @property
    def duration(self) -> float:
        return (self.ended or time.perf_counter()) - self.started


@dataclass(slots=True)
class Exchange:
    """One client request: its dialect, body, plan, and the record it fills."""

    client: Dialect
    body: dict[str, Any]
    headers: Mapping[str, str]
    plan: Plan
    record: RequestRecord
    stream: bool
    include_usage: bool  # the client wants usage in its stream
    _ir: ir.Request | None = None
    reasoning_restored: bool = False  # tokens from the reasoning cache put back (once)

    def ir_request(self) -> ir.Request:
        """The body decoded once, for every translated attempt."""
        if self._ir is None:
            self._ir = self.client.decode_request(self.body)
        return self._ir
