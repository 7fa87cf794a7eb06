"""Regression guard for what routing adds to every request, counted, not timed (as
tests/test_codec_cost.py does for the codecs): the plan for a model on a one-key backend, the
fallback policy's admission of its target and the health record of its answer.

Python bytecode instructions (sys.settrace with f_trace_opcodes) and C calls (sys.setprofile)
are deterministic for a codebase and Python version, so this does not flake on a busy machine.
Measured when written (Python 3.11): 685 opcodes and 18 C calls per request, against 315 and
10 before routing was wired into the gateway (about 2 us more per request, ~1% of a fast-path
request's CPU; docs/benchmarks.md). The bounds are ~2.5x that: a real regression (a regex or
a shared-state call per request, a scan over every model) fails, ordinary changes pass.
"""

from __future__ import annotations

import asyncio
import sys
from types import FrameType
from typing import Any

from crossway.config.loader import load_settings
from crossway.exchange import Attempt
from crossway.providers import build_provider
from crossway.routing.setup import RoutingRuntime

MAX_OPCODES = 1700
MAX_C_CALLS = 45


def count_per_request(model: str, runs: int = 10) -> tuple[float, float]:
    settings = load_settings(None, {"OPENCODE_GO_API_KEY": "sk-go-0123456789abcdef"})
    rt = RoutingRuntime.create(settings, [build_provider(b) for b in settings.backends],
                               env={})

    def one() -> None:
        plan = rt.router.plan(model, "ses_0123456789abcdef")
        target = plan.targets[0]
        assert rt.policy.admits(target, [], [])
        rt.health.record(Attempt(target, fast=True))

    counts = [0, 0]

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            counts[0] += 1
        return trace

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            counts[1] += 1

    async def run() -> None:
        one()  # warm the caches a running gateway has warm
        old_trace, old_profile = sys.gettrace(), sys.getprofile()
        sys.settrace(trace)
        sys.setprofile(profile)
        try:
            for _ in range(runs):
                one()
        finally:
            sys.settrace(old_trace)
            sys.setprofile(old_profile)

    asyncio.run(run())
    return counts[0] / runs, counts[1] / runs


def test_routing_adds_little_per_request() -> None:
    opcodes, c_calls = count_per_request("opencode-go/glm-5.1")
    assert opcodes <= MAX_OPCODES, opcodes
    assert c_calls <= MAX_C_CALLS, c_calls
    bare, _ = count_per_request("glm-5.1")  # a bare id resolves through the same cache
    assert bare <= MAX_OPCODES, bare


if __name__ == "__main__":
    for name in ("opencode-go/glm-5.1", "glm-5.1"):
        opcodes, c_calls = count_per_request(name)
        print(f"{name}: {opcodes:.0f} opcodes, {c_calls:.0f} C calls per request")
