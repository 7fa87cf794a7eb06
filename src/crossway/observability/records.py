"""One record per request: what was asked, where it went, how it ended, tokens and timings.

Records are logged on completion (logger `crossway.access`); stats, metrics and the usage
store consume the same record later. Keys never appear here: targets are named by instance.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crossway import ir

if TYPE_CHECKING:
    from crossway.exchange import Attempt

access_log = logging.getLogger("crossway.access")


class RequestIds:
    """`req_` + 16 hex digits, unique per process: a random prefix drawn at start-up and a
    counter. Not secret (they are echoed to clients and logged), so no getrandom(2) per
    request as secrets.token_hex would make."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = "req_" + secrets.token_hex(4)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFF:08x}"


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    client_dialect: str
    started: float = field(default_factory=time.perf_counter)
    wall_started: float = field(default_factory=time.time)  # unix seconds, for stores
    user_agent: str | None = None
    key_id: str | None = None  # which inbound key was presented (`key2`), never the key
    model: str | None = None
    session_id: str | None = None
    stream: bool = False
    status: int = 0
    error: str | None = None
    outcome: str = "ok"  # ok | error | upstream_error_mid_stream | client_closed
    first_byte: float | None = None  # first byte to the client
    attempts: list[Attempt] = field(default_factory=list)

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()

    def served_headers(self) -> dict[str, str]:
        """What served (or last failed) this request, for its response headers."""
        last = self.last
        if last is None:
            return {}
        return {"x-crossway-target": last.target.label,
                "x-crossway-attempts": str(len(self.attempts))}

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def target(self) -> str | None:
        last = self.last
        return last.target.label if last is not None else None

    @property
    def upstream_dialect(self) -> str | None:
        last = self.last
        return last.target.dialect if last is not None else None

    @property
    def fast_path(self) -> bool:
        last = self.last
        return last.fast if last is not None else False

    @property
    def usage(self) -> ir.Usage | None:
        last = self.last
        return last.usage if last is not None else None

    def log(self) -> None:
        # One access line per request is on every request's path: build the message once
        # and hand a ready record to the handlers, skipping Logger._log's caller lookup (a
        # stack walk) and %-formatting: ~15 us/request less CPU (docs/benchmarks.md).
        if not access_log.isEnabledFor(logging.INFO):
            return
        now = time.perf_counter()
        parts = [self.request_id, " ", self.method, " ", self.path, " model=", str(self.model)]
        if self.target:
            parts += [" -> ", self.target, " [", self.client_dialect, "->",
                      str(self.upstream_dialect), " fast]" if self.fast_path else " translated]"]
            if len(self.attempts) > 1:
                parts.append(f" attempts={len(self.attempts)}")
        if self.stream:
            parts.append(" stream")
        parts.append(f" {self.status} {self.outcome} {(now - self.started) * 1000:.1f}ms")
        if self.first_byte:
            parts.append(f" ttfb={(self.first_byte - self.started) * 1000:.1f}ms")
        if self.usage is not None:
            u = self.usage
            parts.append(f" in={u.input_tokens} cache_read={u.cache_read_tokens} "
                         f"cache_write={u.cache_creation_tokens} out={u.output_tokens}")
        if self.error:
            parts.append(f" error={self.error!r}")
        access_log.handle(access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, "".join(parts), (), None,
            "log"))
