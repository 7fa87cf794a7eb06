"""What recording costs: crossway as shipped against itself with recording taken out.

The `recording` phase of bench/run starts a second crossway (`bench/bare.py`: the same code
with only the access log as a record sink and no usage store), pinned to the same CPU as the
shipped one, and loads the two at the same time on the fast path: rounds of closed-loop
non-stream requests, one wrk per process at the same concurrency, CPU time per request read
from /proc for each process over the same seconds. The per-round ratio shipped ÷ bare is
what recording, the live figures, /metrics and the SQLite store cost together; measured side
by side, it does not move with the machine's speed as separate runs do. Then one request at
a time on each, alternately, for the added p50.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench import harness, load, procs
from bench.load import Lane


def bare(port: int, upstream_base: str, cpu: int | None) -> procs.Proc:
    return procs.crossway(port, upstream_base, cpu, name="crossway-bare", module="bench.bare",
                          env={"CROSSWAY_USAGE": "off"})


async def phase_recording(stack: harness.Stack, cfg: harness.Config) -> dict[str, Any]:
    await harness.set_profile(stack, reply_chars=cfg.c1_reply_chars, chunks=cfg.c1_chunks,
                              pace_ms=0, ttft_ms=0)
    proc = bare(procs.free_port(), stack.upstream_base, harness.PROXY_CPU)
    try:
        proc.wait_listening()
        shipped = stack.lanes["fast"]
        lanes = {"fast": (shipped, stack.crossway),
                 "fast-bare": (Lane("fast-bare", f"http://127.0.0.1:{proc.port}",
                                    shipped.client, shipped.model, "crossway"), proc)}
        c = cfg.rps_levels[0]
        together = await _together(lanes, c, cfg)
        alternate = await _alternate(lanes, c, cfg)
        expected = load.expected_text(cfg.c1_reply_chars)
        latency: dict[str, list[float]] = {name: [] for name in lanes}
        for _r, order in harness.rotations(list(lanes), cfg.rounds):
            for name in order:
                s = await load.latency_c1(lanes[name][0], cfg.c1_unary, 0, expected)
                latency[name].append(load.percentile(s.unary, 0.5) * 1e3)
        return {"concurrency": c, "seconds": cfg.rps_seconds, "rounds": together,
                "alternate": alternate, "unary_p50_ms": latency}
    finally:
        proc.stop()



Lanes = dict[str, tuple[Lane, procs.Proc]]
Rounds = dict[str, list[dict[str, float]]]


def _row(t: load.Throughput, cpu: float) -> dict[str, float]:
    return {"rps": t.rps, "errors": t.errors,
            "cpu_us_per_req": cpu / max(t.requests, 1) * 1e6}


async def _together(lanes: Lanes, c: int, cfg: harness.Config) -> Rounds:
    """Both at once: each gets half of CPU 0 from the scheduler, and both see the same
    machine in the same seconds (this VM's speed drifts by tens of percent within minutes,
    which one-after-the-other rounds cannot cancel out)."""
    rounds: Rounds = {name: [] for name in lanes}
    for r in range(cfg.recording_rounds):
        await asyncio.gather(*(harness.rps_warmup(lane, c) for lane, _ in lanes.values()))
        cpu0 = {name: server.cpu_seconds() for name, (_, server) in lanes.items()}
        runs = await asyncio.gather(*(harness.rps_load(lane, c, cfg.rps_seconds)
                                      for lane, _ in lanes.values()))
        for (name, (_, server)), t in zip(lanes.items(), runs, strict=True):
            rounds[name].append(_row(t, server.cpu_seconds() - cpu0[name]))
        if (r + 1) % 4 == 0:
            harness.log(f"recording, together: round {r + 1}/{cfg.recording_rounds} done")
    return rounds


async def _alternate(lanes: Lanes, c: int, cfg: harness.Config) -> Rounds:
    """One after the other, each alone on CPU 0 (as bench/run's rps phase), the order
    flipped every round: the same question without the two sharing a CPU's caches."""
    rounds: Rounds = {name: [] for name in lanes}
    for r, order in harness.rotations(list(lanes), cfg.recording_rounds):
        for name in order:
            lane, server = lanes[name]
            await harness.rps_warmup(lane, c)
            cpu0 = server.cpu_seconds()
            t = await harness.rps_load(lane, c, cfg.rps_seconds)
            rounds[name].append(_row(t, server.cpu_seconds() - cpu0))
        if (r + 1) % 4 == 0:
            harness.log(f"recording, alternate: round {r + 1}/{cfg.recording_rounds} done")
    return rounds
