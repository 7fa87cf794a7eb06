"""One record per request: what was asked, where it went, how it ended, tokens and timings.

Records are logged on completion (logger `crossway.access`); stats, metrics and the usage
store consume the same record later. Keys never appear here: targets are named by instance.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from crossway import ir

access_log = logging.getLogger("crossway.access")


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    method: str
    path: str
    client_dialect: str
    started: float = field(default_factory=time.perf_counter)
    model: str | None = None
    target: str | None = None
    upstream_dialect: str | None = None
    fast_path: bool = False
    stream: bool = False
    status: int = 0
    error: str | None = None
    outcome: str = "ok"  # ok | error | upstream_error_mid_stream | client_closed
    usage: ir.Usage | None = None
    first_byte: float | None = None
    attempts: int = 0

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()

    def log(self) -> None:
        elapsed = (time.perf_counter() - self.started) * 1000
        ttfb = f" ttfb={(self.first_byte - self.started) * 1000:.1f}ms" if self.first_byte else ""
        route = ""
        if self.target:
            how = "fast" if self.fast_path else "translated"
            route = f" -> {self.target} [{self.client_dialect}->{self.upstream_dialect} {how}]"
        tokens = ""
        if self.usage is not None:
            u = self.usage
            tokens = (f" in={u.input_tokens} cache_read={u.cache_read_tokens} "
                      f"cache_write={u.cache_creation_tokens} out={u.output_tokens}")
        err = f" error={self.error!r}" if self.error else ""
        access_log.info(
            "%s %s %s model=%s%s%s %d %s %.1fms%s%s",
            self.request_id, self.method, self.path, self.model, route,
            " stream" if self.stream else "", self.status, self.outcome, elapsed, ttfb,
            tokens + err,
        )
