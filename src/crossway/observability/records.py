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

import orjson

from crossway import ir
from crossway.observability import logsetup

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
    ended: float | None = None  # the client's answer complete (stream closed, body handed over)
    attempts: list[Attempt] = field(default_factory=list)

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()

    def mark_ended(self) -> None:
        if self.ended is None:
            self.ended = time.perf_counter()

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

    @property
    def cost(self) -> float | None:
        """What the upstreams said this request cost (USD), when any attempt carried it."""
        costs = [a.cost for a in self.attempts if a.cost is not None]
        return sum(costs) if costs else None

    def timings(self, now: float) -> dict[str, float | None]:
        """Milliseconds: total (to the end of the client's answer), ttfb (to its first
        byte), forward (first upstream request to the end of the last one: fallbacks
        included) and upstream_ttfb (the answering attempt's wait for its first byte)."""
        end = self.ended or now
        out: dict[str, float | None] = {
            "total": (end - self.started) * 1000.0,
            "ttfb": (self.first_byte - self.started) * 1000.0 if self.first_byte else None,
            "forward": None, "upstream_ttfb": None}
        if self.attempts:
            first, last = self.attempts[0], self.attempts[-1]
            out["forward"] = ((last.ended or end) - first.started) * 1000.0
            if last.first_byte is not None:
                out["upstream_ttfb"] = (last.first_byte - last.started) * 1000.0
        return out

    def log(self, as_json: bool = False) -> None:
        # One access line per request is on every request's path: build the message once
        # and, under `crossway serve`, put it on the log writer's queue as it is (the writer
        # thread writes the line); else hand a ready record to the handlers, skipping
        # Logger._log's caller lookup and %-formatting (docs/benchmarks.md).
        if not access_log.isEnabledFor(logging.INFO):
            return
        message = self.json_line() if as_json else self.text_line()
        if logsetup.access(message):  # crossway serve: straight to the log writer's queue
            return
        access_log.handle(access_log.makeRecord(
            access_log.name, logging.INFO, __file__, 0, message, (), None, "log"))

    def text_line(self) -> str:
        """`req=... total=...ms ttfb=...ms forward=...ms`: key=value pairs that grep well."""
        t = self.timings(time.perf_counter())
        parts = ["req=", self.request_id, " ", self.method, " ", self.path,
                 " model=", str(self.model)]
        if self.target:
            parts += [" target=", self.target, " dialects=", self.client_dialect, "->",
                      str(self.upstream_dialect), " fast" if self.fast_path else " translated"]
        if self.stream:
            parts.append(" stream")
        parts.append(f" status={self.status} outcome={self.outcome} total={t['total']:.1f}ms")
        for name in ("ttfb", "forward", "upstream_ttfb"):
            value = t[name]
            if value is not None:
                parts.append(f" {name}={value:.1f}ms")
        parts.append(f" attempts={len(self.attempts)}")
        if len(self.attempts) > 1:
            parts.append(" tried=" + ",".join(_attempt_word(a) for a in self.attempts))
        u = self.usage
        if u is not None:
            parts.append(f" in={u.input_tokens} cache_read={u.cache_read_tokens} "
                         f"cache_write={u.cache_creation_tokens} out={u.output_tokens}")
        cost = self.cost
        if cost is not None:
            parts.append(f" cost=${cost:.6f}")
        if self.key_id:
            parts.append(" key=" + self.key_id)
        if self.error:
            parts.append(f" error={self.error!r}")
        return "".join(parts)

    def json_line(self) -> str:
        """The same facts as one JSON object (CROSSWAY_LOG_FORMAT=json)."""
        t = self.timings(time.perf_counter())
        u = self.usage
        obj: dict[str, object] = {
            "ts": self.wall_started, "request_id": self.request_id, "method": self.method,
            "path": self.path, "client_dialect": self.client_dialect, "model": self.model,
            "target": self.target,
            "upstream_dialect": self.upstream_dialect, "fast_path": self.fast_path,
            "stream": self.stream, "status": self.status, "outcome": self.outcome,
            "total_ms": _r(t["total"]), "ttfb_ms": _r(t["ttfb"]),
            "forward_ms": _r(t["forward"]), "upstream_ttfb_ms": _r(t["upstream_ttfb"]),
            "attempts": [attempt_dict(a) for a in self.attempts],
            "key_id": self.key_id, "session_id": self.session_id, "cost_usd": self.cost,
            "error": self.error}
        if u is not None:
            obj["usage"] = {"input": u.input_tokens, "output": u.output_tokens,
                            "cache_read": u.cache_read_tokens,
                            "cache_write": u.cache_creation_tokens,
                            "reasoning": u.reasoning_tokens}
        return orjson.dumps(obj).decode()


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _attempt_word(a: Attempt) -> str:
    return f"{a.target.label}:{a.failure.value if a.failure else a.status or 'ok'}"


def attempt_dict(a: Attempt) -> dict[str, object]:
    """One attempt as the log, the store (attempts_json) and /admin show it."""
    return {"target": a.target.label, "dialect": a.target.dialect, "fast": a.fast,
            "status": a.status, "failure": a.failure.value if a.failure else None,
            "error_class": a.error_class,
            "duration_ms": round(a.duration * 1000.0, 2),
            "ttfb_ms": round((a.first_byte - a.started) * 1000.0, 2)
            if a.first_byte is not None else None,
            "cost_usd": a.cost}
