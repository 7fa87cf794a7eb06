"""What recording costs in instructions: crossway and bench/bare.py under callgrind.

    .venv/bin/python -m bench.instructions [--requests 2000] [--src /tmp/head/src]

CPU time on this VM moves by tens of percent within minutes; instruction counts do not.
This runs the fake upstream natively and crossway under `valgrind --tool=callgrind` (about
50 times slower), once as shipped and once with recording taken out (bench/bare.py), sends
the same fast-path requests to each (16 at a time), and counts the instructions each thread
executed for them: the event loop, the log writer, the usage store's writer. Start-up,
the tokenizer's load and the warm-up are left out (callgrind's counters are zeroed after
them), and the rows of the counted requests are written before the count ends.

Under callgrind a request takes ~50 times longer, so the recorder's 250 ms batches would
hold a few requests instead of a few hundred: `bench.instructions serve` scales the
recorder's and the store writer's time windows by the same factor first (TIME_SCALE), so
per-batch work is shared by as many requests as at full speed.

Instructions are not time: they leave out the kernel, cache misses and the cost of the
two threads sharing a CPU, which `bench/run --only recording` measures. They are exact,
so they show what a change does to the work itself (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import harness, procs

TIME_SCALE = 40.0
CONCURRENCY = 16
DRAIN_S = 25.0  # > the scaled recorder batch + store writer interval, with room for writing


def serve(bare: bool) -> None:
    """crossway (or bench/bare.py's) with the recorder's and the writer's windows scaled."""
    from crossway import cli
    from crossway.observability import recorder
    from crossway.observability.store import writer

    recorder.BATCH_S *= TIME_SCALE
    init = writer.UsageWriter.__init__

    def scaled(self: writer.UsageWriter, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        self._flush_interval = min(self._flush_interval * TIME_SCALE, DRAIN_S / 3)

    writer.UsageWriter.__init__ = scaled  # type: ignore[method-assign]
    if bare:
        from bench import bare as bare_module
        from crossway.observability.setup import ObservabilityRuntime
        ObservabilityRuntime.create = bare_module._without_recording  # type: ignore[method-assign]
    cli.main()


async def _fire(port: int, n: int, concurrency: int = CONCURRENCY) -> None:
    body = {"model": harness.OPENAI_MODEL, "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}]}
    left = [n]
    async with aiohttp.ClientSession() as session:
        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                                        json=body) as r:
                    if r.status != 200:
                        raise RuntimeError(f"HTTP {r.status}: {(await r.text())[:200]}")
                    await r.read()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))


async def _ready(port: int, timeout: float = 900.0) -> None:
    """Listening, and the tokenizer loaded (count_tokens answers once it has)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await _fire(port, 1, 1)
            break
        except (aiohttp.ClientError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(2)
    body = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{port}/v1/messages/count_tokens", json=body,
            timeout=aiohttp.ClientTimeout(total=timeout)) as r:
        r.raise_for_status()


def _total(dump: str) -> int:
    with open(dump) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


async def measure(name: str, bare: bool, src: str, base: str, n: int) -> dict[int, float]:
    """Instructions per request of each thread (1: the event loop), for n requests."""
    out = tempfile.mkdtemp(prefix=f"bench-callgrind-{name}-")
    port = procs.free_port()
    env = procs.clean_env({
        "OPENCODE_GO_API_KEY": "bench-key", "OPENCODE_GO_BASE_URL": base,
        "XDG_DATA_HOME": tempfile.mkdtemp(prefix="crossway-bench-data-"),
        "PYTHONPATH": ":".join(p for p in (src, str(procs.ROOT)) if p),
        **({"CROSSWAY_USAGE": "off"} if bare else {})})
    argv = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--dump-instr=no",
            f"--callgrind-out-file={out}/cg.%p", procs.python(), "-m", "bench.instructions",
            "serve-bare" if bare else "serve", "--port", str(port)]
    with open(f"{out}/log", "w") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        await _ready(port)
        await _fire(port, 600)
        await asyncio.sleep(DRAIN_S)  # the warm-up's rows written before the count starts
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True,
                       capture_output=True)
        await _fire(port, n)
        await asyncio.sleep(DRAIN_S)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True,
                       capture_output=True)
        time.sleep(1)
        dumps = glob.glob(f"{out}/cg.{proc.pid}.1-*")
        if not dumps:
            raise RuntimeError(f"callgrind wrote no dump; see {out}/log")
        return {int(d.rsplit("-", 1)[1]): _total(d) / n for d in dumps}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def _line(name: str, threads: dict[int, float]) -> str:
    others = sum(v for t, v in threads.items() if t != 1)
    return (f"{name:9s} {sum(threads.values()):>11,.0f}   {threads.get(1, 0.0):>11,.0f}   "
            f"{others:>11,.0f}   " + ", ".join(f"thread {t}: {v:,.0f}"
                                              for t, v in sorted(threads.items())
                                              if t != 1 and v >= 1))


async def main(n: int, src: str) -> None:
    up = procs.upstream(procs.free_port(), None)
    try:
        up.wait_listening()
        base = f"http://127.0.0.1:{up.port}/v1"
        bare = await measure("bare", True, src, base, n)
        shipped = await measure("shipped", False, src, base, n)
    finally:
        up.stop()
    print(f"instructions per fast-path request ({n} requests, {CONCURRENCY} at a time, "
          "callgrind)\n")
    print(f"{'':9s} {'total':>11s}   {'event loop':>11s}   {'threads':>11s}")
    print(_line("bare", bare))
    print(_line("shipped", shipped))
    extra = sum(shipped.values()) - sum(bare.values())
    loop = shipped.get(1, 0.0) - bare.get(1, 0.0)
    print(f"\nrecording: +{extra:,.0f} instructions per request, "
          f"{100 * extra / sum(bare.values()):+.1f}% (event loop {loop:+,.0f}, "
          f"other threads {extra - loop:+,.0f})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "serve-bare"):
        bare_mode = sys.argv[1] == "serve-bare"
        sys.argv = [sys.argv[0], "serve", *sys.argv[2:]]
        serve(bare_mode)
    else:
        ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        ap.add_argument("--requests", type=int, default=2000)
        ap.add_argument("--src", default=procs.CROSSWAY_SRC,
                        help="the src/ directory to measure (default: the installed tree)")
        args = ap.parse_args()
        if shutil.which("valgrind") is None:
            raise SystemExit("bench.instructions needs valgrind: bench/setup installs it "
                             "(apt-get install valgrind)")
        asyncio.run(main(args.requests, str(Path(args.src).resolve()) if args.src else ""))
