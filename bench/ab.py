"""Two crossway source trees side by side on one CPU: which costs less CPU per request.

    .venv/bin/python -m bench.ab --a /tmp/head/src --b /tmp/base/src [--rounds 10]

Both run pinned to CPU 0 and are loaded at the same time (one wrk each, c=64, non-stream;
bench/recording.py's `_together`), so both see the same machine in the same seconds: this
VM's speed drifts by tens of percent within minutes, which before/after runs one after the
other cannot cancel out. Prints, per lane (fast path; OpenAI client to an Anthropic-dialect
model), each tree's median CPU µs per request and requests/s, and the per-round ratio a ÷ b.
Two copies of one tree read 0.99 (0.97-1.05) here: differences inside that are noise.
"""

from __future__ import annotations

import argparse
import statistics

from bench import harness, procs, recording
from bench.load import Lane

LANES = (("fast", harness.OPENAI_MODEL), ("o2a", harness.ANTHROPIC_MODEL))


async def compare(a_src: str, b_src: str, rounds: int, concurrency: int = 64) -> None:
    harness.pin_self()
    up = procs.upstream(procs.free_port(), harness.LOAD_CPU)
    servers: list[procs.Proc] = []
    try:
        up.wait_listening()
        base = f"http://127.0.0.1:{up.port}/v1"
        servers = [procs.crossway(procs.free_port(), base, harness.PROXY_CPU, name=f"crossway-{n}",
                                  src=src) for n, src in (("a", a_src), ("b", b_src))]
        for s in servers:
            s.wait_listening()
        stack = harness.Stack(up, servers[0], servers[1], None)
        cfg = harness.Config(recording_rounds=rounds)
        await harness.set_profile(stack, reply_chars=cfg.c1_reply_chars, chunks=cfg.c1_chunks,
                                  pace_ms=0, ttft_ms=0)
        for lane_name, model in LANES:
            lanes = {name: (Lane(name, f"http://127.0.0.1:{s.port}", "openai", model,
                                 "crossway"), s)
                     for name, s in zip(("fast", "fast-bare"), servers, strict=True)}
            r = await recording._together(lanes, concurrency, cfg)
            ratio = [x["cpu_us_per_req"] / y["cpu_us_per_req"]
                     for x, y in zip(r["fast"], r["fast-bare"], strict=True)]

            def med(name: str, key: str, r: recording.Rounds = r) -> float:
                return statistics.median(x[key] for x in r[name])
            print(f"{lane_name}: a {med('fast', 'cpu_us_per_req'):.0f} µs/request "
                  f"{med('fast', 'rps'):.0f} requests/s | b "
                  f"{med('fast-bare', 'cpu_us_per_req'):.0f} µs/request "
                  f"{med('fast-bare', 'rps'):.0f} requests/s | CPU a ÷ b "
                  f"{statistics.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f}), "
                  f"{rounds} rounds", flush=True)
    finally:
        for s in (*servers, up):
            s.stop()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="a src/ directory (git archive REV src | tar x)")
    ap.add_argument("--b", required=True, help="the src/ directory to compare it with")
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    harness.run_async(compare(args.a, args.b, args.rounds))


if __name__ == "__main__":
    main()
