"""Profile crossway under one bench load with py-spy (from bench/setup's tools venv).

    bench/profile --lane a2o --load rps --concurrency 64 --seconds 8
    bench/profile --lane o2a --load streams --concurrency 512
    bench/profile --lane fast --load c1

Starts the fake upstream and crossway pinned as in bench/run, samples crossway with
`py-spy record --format raw` while the load runs, and prints the functions with the most
samples, own (self) and with callees (total). The raw file (flamegraph.pl / speedscope input)
stays in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import subprocess
import time
from pathlib import Path

from bench import harness, load, procs
from bench.load import Lane

PY_SPY = procs.ROOT / "bench" / ".venv-tools" / "bin" / "py-spy"


IDLE = {"_worker (concurrent/futures/thread.py)", "_worker (thread.py)"}


def summarise(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";")]
        if frames[-1] in IDLE:
            continue  # an executor thread waiting for work (py-spy counts it as busy)
        samples += n
        own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    lines = [f"{samples} samples", "", "self %   function"]
    lines += [f"{100 * n / samples:6.1f}   {f}" for f, n in own.most_common(top)]
    lines += ["", "total %  function"]
    lines += [f"{100 * n / samples:6.1f}   {f}" for f, n in total.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (file.py)"; line numbers vary, files do not
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1:]
    elif "crossway" in parts:
        parts = parts[parts.index("crossway"):]
    else:
        parts = parts[-1:]
    return f"{name} ({'/'.join(parts)})"


async def drive(lane: Lane, kind: str, concurrency: int, seconds: float) -> str:
    if kind == "c1":
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            await load.latency_c1(lane, 200, 100, load.expected_text(1000), warmup=0)
            n += 300
        return f"{n} requests at concurrency 1"
    if kind == "rps":
        t = await harness.rps_load(lane, concurrency, seconds)
        return f"{t.rps:.0f} requests/s"
    s = await load.stream_load(lane, concurrency, seconds, load.expected_text(800))
    return f"{s.fps:.0f} frames/s, {s.streams_intact}/{s.streams_done} intact"


async def run(a: argparse.Namespace) -> None:
    harness.pin_self()
    cfg = harness.Config()
    stack = harness.start_stack(cfg)
    try:
        if a.load == "streams":
            await harness.set_profile(stack, reply_chars=800, chunks=40, pace_ms=20,
                                      ttft_ms=50)
        else:
            await harness.set_profile(stack, reply_chars=1000, chunks=50, pace_ms=0, ttft_ms=0)
        lane = stack.lanes[a.lane]
        server = stack.server_of(lane) or stack.crossway
        await drive(lane, a.load, a.concurrency, 1.0)  # warm up
        out_dir = procs.ROOT / "bench" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        raw = out_dir / f"profile-{a.lane}-{a.load}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        spy = subprocess.Popen([str(PY_SPY), "record", "--pid", str(server.pid), "--format",
                                "raw", "--output", str(raw), "--rate", str(a.rate),
                                "--duration", str(int(a.seconds)), *(["--native"]
                                                                    if a.native else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        await asyncio.sleep(0.5)
        what = await drive(lane, a.load, a.concurrency, a.seconds)
        spy.wait(timeout=60)
        print(f"{a.lane} under {a.load} (concurrency {a.concurrency}): {what}")
        print(summarise(raw, a.top))
        print(f"\nraw stacks: {raw}")
    finally:
        stack.stop()


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench/profile", description=__doc__.split("\n\n")[0])
    ap.add_argument("--lane", default="a2o",
                    choices=("fast", "a2o", "o2a", "floor-openai", "floor-anthropic"))
    ap.add_argument("--load", default="rps", choices=("c1", "rps", "streams"))
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--rate", type=int, default=500, help="py-spy samples per second")
    ap.add_argument("--native", action="store_true", help="include C frames (py-spy --native)")
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    if not PY_SPY.exists():
        raise SystemExit("py-spy is not set up: run bench/setup first")
    harness.run_async(run(a))


if __name__ == "__main__":
    main()
