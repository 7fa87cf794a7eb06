"""The benchmark run: start the stack, run each measurement in interleaved rounds, report.

    bench/run            full run (about 9 minutes on the 2-core machine, 13 with LiteLLM)
    bench/run --quick    fewer, shorter rounds

Placement: crossway (and the floor, and LiteLLM) on CPU 0; this process (the load generator)
and the fake upstream on CPU 1 (`taskset`; skipped where there are fewer than 2 CPUs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import subprocess
import time
from collections.abc import Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bench import load, procs, report
from bench.load import Lane

T = TypeVar("T")

OPENAI_MODEL = "opencode-go/glm-5.1"  # served upstream over chat/completions
ANTHROPIC_MODEL = "opencode-go/minimax-m2.7"  # served upstream over /messages

# crossway lane -> (floor lane, direct lane) it is compared with: the same upstream dialect.
PAIRS = {
    "fast": ("floor-openai", "direct-openai"),
    "a2o": ("floor-openai", "direct-openai"),
    "o2a": ("floor-anthropic", "direct-anthropic"),
    "litellm-fast": ("floor-openai", "direct-openai"),
    "litellm-a2o": ("floor-openai", "direct-openai"),
    "litellm-o2a": ("floor-anthropic", "direct-anthropic"),
    "floor-openai": ("floor-openai", "direct-openai"),
    "floor-anthropic": ("floor-anthropic", "direct-anthropic"),
}


@dataclass
class Config:
    quick: bool = False
    rounds: int = 5
    c1_unary: int = 300
    c1_stream: int = 150
    rps_levels: tuple[int, ...] = (64, 256)
    rps_seconds: float = 3.0
    rps_rounds: int = 3
    stream_levels: tuple[int, ...] = (128, 512, 1000)
    stream_seconds: float = 2.5
    stream_rounds: int = 3
    # Paced stream profile for the throughput phase: 512 streams x 1 frame / 40 ms offer
    # 12,800 upstream frames/s (above the 10,000 frames/s budget), 1000 streams 25,000/s,
    # about what the Python load generator can take on its core.
    stream_chunks: int = 40
    stream_pace_ms: float = 40.0
    stream_ttft_ms: float = 50.0
    stream_reply_chars: int = 800
    # Latency phase: a 1,000-character reply in 20 chunks 0.5 ms apart, no think time: the
    # first frame leaves the upstream alone, so time to first byte is the first frame's.
    c1_reply_chars: int = 1000
    c1_chunks: int = 20
    c1_pace_ms: float = 0.5
    memory_streams: int = 1000
    memory_rounds: int = 3
    # The recording phase: short rounds, many of them (the ratio is read per round pair).
    recording_rounds: int = 16
    workers: int = 2
    litellm: bool = False
    only: tuple[str, ...] = ()

    @classmethod
    def quick_config(cls) -> Config:
        return cls(quick=True, rounds=3, c1_unary=150, c1_stream=80, rps_seconds=2.0,
                   rps_rounds=2, stream_seconds=2.0, stream_rounds=2, memory_rounds=2,
                   recording_rounds=10)


@dataclass
class Stack:
    upstream: procs.Proc
    crossway: procs.Proc
    floor: procs.Proc
    litellm: procs.Proc | None
    lanes: dict[str, Lane] = field(default_factory=dict)

    @property
    def upstream_base(self) -> str:
        return f"http://127.0.0.1:{self.upstream.port}/v1"

    def server_of(self, lane: Lane) -> procs.Proc | None:
        return {"crossway": self.crossway, "floor": self.floor,
                "litellm": self.litellm}.get(lane.group)

    def stop(self) -> None:
        for p in (self.litellm, self.floor, self.crossway, self.upstream):
            if p is not None:
                p.stop()


def make_lanes(cw: str, floor: str, up: str, lite: str | None) -> dict[str, Lane]:
    lanes = [
        Lane("direct-openai", up, "openai", "glm-5.1", "direct"),
        Lane("direct-anthropic", up, "anthropic", "minimax-m2.7", "direct"),
        Lane("floor-openai", floor, "openai", "glm-5.1", "floor"),
        Lane("floor-anthropic", floor, "anthropic", "minimax-m2.7", "floor"),
        Lane("fast", cw, "openai", OPENAI_MODEL, "crossway"),
        Lane("a2o", cw, "anthropic", OPENAI_MODEL, "crossway"),
        Lane("o2a", cw, "openai", ANTHROPIC_MODEL, "crossway"),
    ]
    if lite:
        lanes += [
            Lane("litellm-fast", lite, "openai", OPENAI_MODEL, "litellm", procs.LITELLM_KEY),
            Lane("litellm-a2o", lite, "anthropic", OPENAI_MODEL, "litellm", procs.LITELLM_KEY),
            Lane("litellm-o2a", lite, "openai", ANTHROPIC_MODEL, "litellm", procs.LITELLM_KEY),
        ]
    return {lane.name: lane for lane in lanes}


PROXY_CPU, LOAD_CPU = 0, 1


def start_stack(cfg: Config) -> Stack:
    up = procs.upstream(procs.free_port(), LOAD_CPU)
    up.wait_listening()
    base = f"http://127.0.0.1:{up.port}/v1"
    cw = procs.crossway(procs.free_port(), base, PROXY_CPU)
    fl = procs.floor(procs.free_port(), base, PROXY_CPU)
    lite = procs.litellm(procs.free_port(), base, PROXY_CPU) if cfg.litellm else None
    stack = Stack(up, cw, fl, lite)
    try:
        cw.wait_listening()
        fl.wait_listening()
        if lite is not None:
            lite.wait_listening(timeout=120)
    except Exception:
        stack.stop()
        raise
    stack.lanes = make_lanes(f"http://127.0.0.1:{cw.port}", f"http://127.0.0.1:{fl.port}",
                             f"http://127.0.0.1:{up.port}",
                             f"http://127.0.0.1:{lite.port}" if lite else None)
    return stack


async def set_profile(stack: Stack, **profile: Any) -> None:
    url = f"http://127.0.0.1:{stack.upstream.port}/_bench/config"
    async with aiohttp.ClientSession() as s, s.post(url, json=profile) as r:
        r.raise_for_status()


def rotations(names: list[str], rounds: int) -> Iterator[tuple[int, list[str]]]:
    """Interleaved rounds: every lane once per round, the order rotated each round."""
    for r in range(rounds):
        k = r % len(names)
        yield r, names[k:] + names[:k]


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


# ---------------------------------------------------------------- phases


async def phase_latency(stack: Stack, cfg: Config, names: list[str]) -> dict[str, Any]:
    await set_profile(stack, reply_chars=cfg.c1_reply_chars, chunks=cfg.c1_chunks,
                      pace_ms=cfg.c1_pace_ms, ttft_ms=0)
    expected = load.expected_text(cfg.c1_reply_chars)
    rows: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for r, order in rotations(names, cfg.rounds):
        for name in order:
            s = await load.latency_c1(stack.lanes[name], cfg.c1_unary, cfg.c1_stream, expected)
            rows[name].append({
                "unary_p50": load.percentile(s.unary, 0.5) * 1e3,
                "unary_p99": load.percentile(s.unary, 0.99) * 1e3,
                "ttfb_p50": load.percentile(s.ttfb, 0.5) * 1e3,
                "ttfb_p99": load.percentile(s.ttfb, 0.99) * 1e3,
                "full_p50": load.percentile(s.full, 0.5) * 1e3,
                "full_p99": load.percentile(s.full, 0.99) * 1e3,
                "broken": s.broken,
            })
        log(f"latency round {r + 1}/{cfg.rounds} done")
    return {"profile": {"reply_chars": cfg.c1_reply_chars, "chunks": cfg.c1_chunks,
                        "pace_ms": cfg.c1_pace_ms},
            "n_unary": cfg.c1_unary, "n_stream": cfg.c1_stream, "rounds": rows}


async def phase_rps(stack: Stack, cfg: Config, names: list[str]) -> dict[str, Any]:
    await set_profile(stack, reply_chars=cfg.c1_reply_chars, chunks=cfg.c1_chunks, pace_ms=0,
                      ttft_ms=0)
    out: dict[str, Any] = {}
    for i, c in enumerate(cfg.rps_levels):
        # LiteLLM serves ~100 requests/s here: past the first level its requests time out.
        lanes = [n for n in names if i == 0 or not n.startswith("litellm")]
        rows: dict[str, list[dict[str, float]]] = {n: [] for n in lanes}
        for _r, order in rotations(lanes, cfg.rps_rounds):
            for name in order:
                lane = stack.lanes[name]
                server = stack.server_of(lane)
                await rps_warmup(lane, c)
                cpu0 = server.cpu_seconds() if server else 0.0
                busy0, wall0 = load_cpu(stack), time.perf_counter()
                t = await rps_load(lane, c, cfg.rps_seconds)
                busy = {LOAD_CPU: (load_cpu(stack) - busy0) / (time.perf_counter() - wall0)}
                cpu = (server.cpu_seconds() - cpu0) if server else 0.0
                rows[name].append({
                    "rps": t.rps, "p50": t.p50 * 1e3, "p99": t.p99 * 1e3, "errors": t.errors,
                    "cpu_us_per_req": cpu / max(t.requests, 1) * 1e6,
                    "load_cpu_busy": busy.get(LOAD_CPU, float("nan")),
                })
        out[str(c)] = rows
        log(f"rps at concurrency {c} done")
    return out


def load_cpu(stack: Stack) -> float:
    """CPU seconds used so far on the load generator's side: this process (and wrk, a child
    reaped by subprocess.run) and the fake upstream."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
            + stack.upstream.cpu_seconds())


async def rps_warmup(lane: Lane, concurrency: int) -> None:
    """Connections open and caches warm before the measured run (and its CPU reading)."""
    await rps_load(lane, concurrency, 1.0)


async def rps_load(lane: Lane, concurrency: int, seconds: float) -> load.Throughput:
    if load.wrk_available():
        return await asyncio.to_thread(load.wrk_throughput, lane, concurrency, seconds, 0.0)
    return await load.throughput(lane, concurrency, seconds, warmup=0.0)


async def phase_streams(stack: Stack, cfg: Config, names: list[str]) -> dict[str, Any]:
    await set_profile(stack, reply_chars=cfg.stream_reply_chars, chunks=cfg.stream_chunks,
                      pace_ms=cfg.stream_pace_ms, ttft_ms=cfg.stream_ttft_ms)
    expected = load.expected_text(cfg.stream_reply_chars)
    out: dict[str, Any] = {"profile": {
        "reply_chars": cfg.stream_reply_chars, "chunks": cfg.stream_chunks,
        "pace_ms": cfg.stream_pace_ms, "ttft_ms": cfg.stream_ttft_ms}}
    for i, n in enumerate(cfg.stream_levels):
        # LiteLLM takes ~1 ms per frame here: only the first level keeps the run bounded.
        lanes = [x for x in names if i == 0 or not x.startswith("litellm")]
        rows: dict[str, list[dict[str, float]]] = {name: [] for name in lanes}
        for _r, order in rotations(lanes, cfg.stream_rounds):
            for name in order:
                lane = stack.lanes[name]
                server = stack.server_of(lane)
                ramp = 1.0
                loop = asyncio.get_running_loop()
                cpu_box: list[float] = []

                busy: dict[int, float] = {}

                async def sample_cpu(server: procs.Proc | None = server,
                                     ramp: float = ramp, box: list[float] = cpu_box,
                                     busy: dict[int, float] = busy) -> None:
                    await asyncio.sleep(ramp)
                    box.append(server.cpu_seconds() if server else 0.0)
                    t0 = load_cpu(stack)
                    await asyncio.sleep(cfg.stream_seconds)
                    box.append(server.cpu_seconds() if server else 0.0)
                    busy[LOAD_CPU] = (load_cpu(stack) - t0) / cfg.stream_seconds

                sampler = loop.create_task(sample_cpu())
                s = await load.stream_load(lane, n, cfg.stream_seconds, expected, ramp=ramp)
                await sampler
                cpu = cpu_box[1] - cpu_box[0]
                rows[name].append({
                    "fps": s.fps, "cpu_us_per_frame": cpu / max(s.frames, 1) * 1e6,
                    "cpu_share": cpu / cfg.stream_seconds,
                    "streams": s.streams_done, "intact": s.streams_intact,
                    "ttfb_p50": load.percentile(s.ttfb, 0.5) * 1e3,
                    "ttfb_p99": load.percentile(s.ttfb, 0.99) * 1e3,
                    "load_cpu_busy": busy.get(LOAD_CPU, float("nan")),
                })
        out[str(n)] = rows
        log(f"streams at {n} concurrent done")
    return out


async def first_served(lane: Lane, deadline: float) -> float:
    body = load.request_body(lane, False)
    async with aiohttp.ClientSession() as s:
        while time.perf_counter() < deadline:
            try:
                async with s.post(lane.url, data=body, headers=lane.headers) as r:
                    await r.read()
                    if r.status == 200:
                        return time.perf_counter()
            except aiohttp.ClientError:
                await asyncio.sleep(0.002)
    raise RuntimeError(f"{lane.name}: no request served before the deadline")


async def phase_fresh(stack: Stack, cfg: Config, names: list[str]) -> dict[str, Any]:
    """Fresh processes: cold start to first served request, idle memory, memory at
    `memory_streams` concurrent open streams."""
    n = cfg.memory_streams
    # Streams that stay open ~4 s: 10 chunks, 400 ms apart.
    await set_profile(stack, reply_chars=400, chunks=10, pace_ms=400, ttft_ms=0)
    expected = load.expected_text(400)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _r, order in rotations(names, cfg.memory_rounds):
        for name in order:
            lane0 = stack.lanes[name]
            port = procs.free_port()
            if lane0.group == "crossway":
                proc = procs.crossway(port, stack.upstream_base, PROXY_CPU, name="crossway-fresh")
            else:
                proc = procs.floor(port, stack.upstream_base, PROXY_CPU)
            lane = Lane(lane0.name, f"http://127.0.0.1:{port}", lane0.client, lane0.model,
                        lane0.group)
            try:
                t_served = await first_served(lane, time.perf_counter() + 30)
                cold = t_served - proc.started
                for _ in range(20):
                    await first_served(lane, time.perf_counter() + 5)
                await asyncio.sleep(0.3)
                idle = proc.rss_bytes()
                peak = [idle]

                async def sample(proc: procs.Proc = proc, peak: list[int] = peak) -> None:
                    for _ in range(10):
                        peak.append(proc.rss_bytes())
                        await asyncio.sleep(0.05)

                opened, intact = await load.open_streams(lane, n, 1.0, sample, expected)
                rows[name].append({
                    "cold_start_ms": cold * 1e3, "rss_idle_mb": idle / 2**20,
                    "rss_open_mb": max(peak) / 2**20,
                    "kb_per_stream": (max(peak) - idle) / 1024 / n,
                    "opened": opened, "intact": intact,
                })
            finally:
                proc.stop()
        log(f"fresh-process round {_r + 1}/{cfg.memory_rounds} done")
    return {"streams": n, "rounds": rows}


async def phase_workers(stack: Stack, cfg: Config) -> dict[str, Any]:
    """Requests/s of the fast path with 1 and with N worker processes (SO_REUSEPORT)."""
    await set_profile(stack, reply_chars=cfg.c1_reply_chars, chunks=cfg.c1_chunks, pace_ms=0,
                      ttft_ms=0)
    setups = [("1 worker, CPU 0", 1, PROXY_CPU), ("1 worker, unpinned", 1, None),
              (f"{cfg.workers} workers, unpinned", cfg.workers, None)]
    out: dict[str, Any] = {}
    for label, workers, cpu in setups:
        port = procs.free_port()
        proc = procs.crossway(port, stack.upstream_base, cpu, workers=workers,
                              name="crossway-workers")
        # The load generator stays on CPU 1; unpinned workers share both CPUs with it.
        try:
            proc.wait_listening()
            await asyncio.sleep(0.5 if workers > 1 else 0.1)
            lane = Lane("fast", f"http://127.0.0.1:{port}", "openai", OPENAI_MODEL, "crossway")
            rows = []
            for c in cfg.rps_levels:
                for _ in range(max(1, cfg.rps_rounds - 1)):
                    kids = [p for p in proc.pids() if p != proc.pid] or [proc.pid]
                    await rps_warmup(lane, c)
                    before = {p: procs.cpu_seconds(p) for p in kids}
                    t = await rps_load(lane, c, cfg.rps_seconds)
                    used = {p: procs.cpu_seconds(p) - before[p] for p in kids}
                    total = sum(used.values()) or 1e-9
                    rows.append({"concurrency": c, "rps": t.rps,
                                 "p99": t.p99 * 1e3,
                                 "cpu_us_per_req": total / max(t.requests, 1) * 1e6,
                                 "busiest_worker_share": max(used.values()) / total})
            out[label] = {"workers": workers, "pinned": cpu is not None, "rows": rows}
        finally:
            proc.stop()
        log(f"workers: {label} done")
    return out


# ---------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    try:
        commit = subprocess.run(["git", "-C", str(procs.ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(procs.ROOT), "status", "--porcelain",
                                "src"], capture_output=True, text=True, check=True).stdout
        commit += "+dirty" if dirty.strip() else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    import aiohttp as _aiohttp

    return {"cpu": cpu, "cpus": os.cpu_count(), "mem_gib": round(mem / 2**30, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "aiohttp": _aiohttp.__version__, "pinned": procs.can_pin(), "commit": commit,
            "date": time.strftime("%Y-%m-%d %H:%M")}


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


async def run(cfg: Config) -> dict[str, Any]:
    pin_self()
    results: dict[str, Any] = {"machine": machine(), "config": asdict(cfg)}
    t0 = time.perf_counter()
    stack = start_stack(cfg)
    try:
        lite = ["litellm-fast", "litellm-a2o", "litellm-o2a"] if cfg.litellm else []
        servers = ["floor-openai", "floor-anthropic", "fast", "a2o", "o2a", *lite]
        direct = ["direct-openai", "direct-anthropic"]
        want = set(cfg.only)

        def on(phase: str) -> bool:
            return not want or phase in want

        if on("latency"):
            log("phase 1: added latency at concurrency 1")
            results["latency"] = await phase_latency(stack, cfg, direct + servers)
        if on("rps"):
            log("phase 2: non-stream requests/s")
            results["rps_driver"] = "wrk" if load.wrk_available() else "aiohttp"
            results["rps"] = await phase_rps(stack, cfg, ["direct-openai", *servers])
        if on("streams"):
            log("phase 3: paced streams")
            results["streams"] = await phase_streams(stack, cfg, ["direct-openai", *servers])
        if on("fresh"):
            log("phase 4: cold start and memory (fresh processes)")
            results["fresh"] = await phase_fresh(
                stack, cfg, ["floor-openai", "fast", "a2o", "o2a"])
        if on("workers"):
            log("phase 5: --workers scaling")
            results["workers"] = await phase_workers(stack, cfg)
        if on("recording"):
            from bench.recording import phase_recording

            log("phase 6: what recording costs (crossway vs crossway without recording)")
            results["recording"] = await phase_recording(stack, cfg)
    finally:
        stack.stop()
    results["seconds"] = time.perf_counter() - t0
    return results


def main() -> None:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    ap.add_argument("--litellm", choices=("auto", "yes", "no"), default="auto",
                    help="add LiteLLM lanes (needs bench/setup --litellm; default: if set up)")
    ap.add_argument("--only", nargs="*", default=(),
                    choices=("latency", "rps", "streams", "fresh", "workers", "recording"),
                    help="run only these phases")
    ap.add_argument("--streams", type=int, nargs="*", help="stream concurrency levels")
    ap.add_argument("--crossway-src", help="run crossway from this src/ directory instead of "
                    "the installed one (before/after comparisons: git archive REV src | tar x)")
    ap.add_argument("--out", help="results directory (default bench/results)")
    a = ap.parse_args()
    cfg = Config.quick_config() if a.quick else Config()
    if a.crossway_src:
        os.environ["BENCH_CROSSWAY_SRC"] = str(Path(a.crossway_src).resolve())
        procs.CROSSWAY_SRC = os.environ["BENCH_CROSSWAY_SRC"]
    cfg.only = tuple(a.only)
    if a.streams:
        cfg.stream_levels = tuple(a.streams)
    if a.litellm == "yes" and not procs.litellm_available():
        raise SystemExit("LiteLLM is not set up: run bench/setup --litellm first")
    cfg.litellm = a.litellm == "yes" or (a.litellm == "auto" and procs.litellm_available())
    results = run_async(run(cfg))
    out_dir = Path(a.out) if a.out else procs.ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out_dir / f"{stamp}.json").write_text(json.dumps(results, indent=1))
    text = report.render(results, PAIRS)
    (out_dir / f"{stamp}.md").write_text(text)
    print(text)
    print(f"results: {out_dir / stamp}.json and .md ({results['seconds']:.0f} s)")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """On uvloop when installed, as crossway runs."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def pin_self() -> None:
    raise_fd_limit()
    if procs.can_pin():
        os.sched_setaffinity(0, {LOAD_CPU})
