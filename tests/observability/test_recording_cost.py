"""Regression guard for recording's per-request cost, counted, not timed.

Recording (recorder.py, rowbatch.py, live.py) and the SQLite writer (store/sqlite.py) work a
batch at a time so that no Python statement runs per request: the columns of a batch are
read, folded and bound by C loops, and the Python around them runs once per batch. A Python
loop over a batch's rows (a list comprehension, a `for` per row, a per-value helper) is what
made recording cost several microseconds a request before (docs/benchmarks.md), and it is
easy to bring back unseen. So this counts the Python bytecode instructions executed
(sys.settrace with f_trace_opcodes) for batches of 150 and 600 plain requests: deterministic
for a given codebase and Python version, so it does not flake on a busy machine. The rows
beyond the first 150 must cost (almost) nothing in Python, and a batch's fixed part stays
within SLACK of what it was when this guard was written (BASELINE; measure with
`python tests/observability/test_recording_cost.py` and raise it in the same commit, saying
why, when a change makes a batch legitimately dearer).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from crossway import ir
from crossway.config.loader import load_settings
from crossway.exchange import Attempt
from crossway.observability.live import LiveStats
from crossway.observability.quota import QuotaMeter
from crossway.observability.recorder import Recorder
from crossway.observability.records import RequestRecord
from crossway.observability.rows import RowBatch
from crossway.observability.store.sqlite import SQLiteStore
from crossway.providers import build_provider
from crossway.routing.setup import RoutingRuntime

# Two batch sizes, both above live.RECENT (a batch's last 100 rows are kept as a slice).
SMALL, LARGE = 150, 600
# Python bytecodes per batch of SMALL plain requests, when the guard was written (3.11).
BASELINE = {"recorder flush": 2550, "sqlite values": 1810}
SLACK = 2.5
PER_EXTRA_ROW = 0.5  # bytecodes each request beyond the first SMALL may add, at most
T0 = 1_790_000_000.0  # a wall clock time well inside a minute: no batch spans two


def _records(n: int) -> list[RequestRecord]:
    """n plain requests (one clean attempt with usage) to one Go target, with timings set
    so that no latency lies next to a Prometheus bound (those are placed one by one)."""
    settings = load_settings(None, {"OPENCODE_GO_API_KEY": "sk-go-0123456789abcdef"})
    rt = RoutingRuntime.create(settings, [build_provider(b) for b in settings.backends],
                               env={})
    out = []
    for i in range(n):
        started = 100.0 + i
        r = RequestRecord(f"req_{i:08x}", "POST", "/v1/chat/completions", "openai",
                          started=started, wall_started=T0 + i / 1000,
                          user_agent="OpenAI/Python 1.99.0")
        r.model, r.status = "glm-5.1", 200
        a = Attempt(rt.router.plan("glm-5.1", None).targets[0], fast=True, started=started)
        a.status, a.first_byte, a.ended = 200, started + 0.006, started + 0.012 + i * 1e-5
        a.usage = ir.Usage(input_tokens=20 + i % 7, output_tokens=50 + i % 3,
                           cache_read_tokens=0, cache_creation_tokens=0,
                           reasoning_tokens=None)
        r.attempts.append(a)
        r.first_byte, r.ended = started + 0.007, started + 0.013 + i * 1e-5
        out.append(r)
    return out


def _bytecodes(fn: Callable[[], Any]) -> int:
    count = [0]

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            count[0] += 1
        return trace
    old = sys.gettrace()
    sys.settrace(trace)
    try:
        fn()
    finally:
        sys.settrace(old)
    return count[0]


def _flush_cost(n: int) -> int:
    """Bytecodes of Recorder.flush for a batch of n (records accepted as the edge does)."""
    recorder = Recorder(LiveStats(clock=lambda: T0), None, QuotaMeter(None))
    recorder.flush()  # nothing pending: returns at once
    warm = _records(5)

    async def go() -> int:
        for r in warm:
            recorder.accept(r)
        recorder.flush()  # the first batch learns client families and prices
        for r in _records(n):
            recorder.accept(r)
        return _bytecodes(recorder.flush)
    cost = asyncio.run(go())
    assert recorder.live.merged(None)["total"].requests == n + 5
    return cost


def _values_cost(n: int, path: Path) -> int:
    """Bytecodes of the SQLite writer making one batch's INSERT values (writer thread)."""
    recorder = Recorder(LiveStats(clock=lambda: T0), None, QuotaMeter(None))
    batch, _ = recorder._rows(_records(n))
    assert isinstance(batch, RowBatch)

    async def go() -> int:
        store = SQLiteStore(path)
        await store.open()
        try:
            await store.write(batch[:5])  # the route is known from here on
            return await store._run(lambda conn: _bytecodes(lambda: store._values(conn, batch)))
        finally:
            await store.close()
    return asyncio.run(go())


def measure(tmp: Path) -> dict[str, tuple[int, int]]:
    return {"recorder flush": (_flush_cost(SMALL), _flush_cost(LARGE)),
            "sqlite values": (_values_cost(SMALL, tmp / "a.db"),
                              _values_cost(LARGE, tmp / "b.db"))}


def test_recording_runs_no_python_per_request(tmp_path: Path) -> None:
    for name, (small, large) in measure(tmp_path).items():
        assert (large - small) / (LARGE - SMALL) <= PER_EXTRA_ROW, (
            f"{name}: {large - small} more bytecodes for {LARGE - SMALL} more requests: a "
            "Python loop "
            "over a batch's rows (see the module docstring)")
        assert small <= BASELINE[name] * SLACK, (
            f"{name}: {small} bytecodes per batch, baseline {BASELINE[name]}")


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for name, (small, large) in measure(Path(tmp)).items():
            print(f"{name}: {small} bytecodes for {SMALL} requests, {large} for {LARGE}")
