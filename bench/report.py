"""Markdown tables and budget verdicts from a results dict (bench/results/*.json).

    python -m bench.report bench/results/20260101-120000.json
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Rows = Mapping[str, Sequence[Mapping[str, float]]]

TRANSLATED = ("a2o", "o2a")
LANE_TITLES = {
    "direct-openai": "direct → upstream (OpenAI)",
    "direct-anthropic": "direct → upstream (Anthropic)",
    "floor-openai": "floor: aiohttp passthrough (OpenAI)",
    "floor-anthropic": "floor: aiohttp passthrough (Anthropic)",
    "fast": "crossway fast path OpenAI → OpenAI",
    "a2o": "crossway Anthropic client → OpenAI upstream",
    "o2a": "crossway OpenAI client → Anthropic upstream",
    "litellm-fast": "LiteLLM OpenAI → OpenAI",
    "litellm-a2o": "LiteLLM Anthropic client → OpenAI upstream",
    "litellm-o2a": "LiteLLM OpenAI client → Anthropic upstream",
}


def mmm(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """min / median / max, median in bold."""
    vals = [v for v in values if v == v]  # drop NaN
    if not vals:
        return "n/a"
    lo, med, hi = min(vals), statistics.median(vals), max(vals)
    return f"{fmt.format(lo)} / **{fmt.format(med)}** / {fmt.format(hi)}"


def med(values: Sequence[float]) -> float:
    vals = [v for v in values if v == v]
    return statistics.median(vals) if vals else float("nan")


def per_round(rows: Rows, lane: str, metric: str) -> list[float]:
    return [r[metric] for r in rows.get(lane, ())]


def added(rows: Rows, lane: str, direct: str, metric: str) -> list[float]:
    return [a - b for a, b in zip(per_round(rows, lane, metric),
                                  per_round(rows, direct, metric), strict=False)]


def ratio_text(values: Sequence[float]) -> str:
    vals = [v for v in values if v == v]
    if not vals:
        return "n/a"
    return f"{med(vals):.2f}x ({min(vals):.2f}-{max(vals):.2f})"


def table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return [*lines, ""]


class Verdicts:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def check(self, what: str, value: float, limit: float, fmt: str,
              ok: Callable[[float, float], bool] = lambda v, lim: v <= lim) -> None:
        if value != value:
            self.items.append((what, "n/a", "not measured"))
            return
        verdict = "PASS" if ok(value, limit) else "MISS"
        self.items.append((what, fmt.format(value), verdict))


def render(res: Mapping[str, Any], pairs: Mapping[str, tuple[str, str]]) -> str:
    m = res["machine"]
    out = ["# crossway benchmark results", ""]
    out.append(f"{m['date']}, commit `{m['commit']}`, {m['cpu']}, {m['cpus']} CPUs, "
               f"{m['mem_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, aiohttp "
               f"{m['aiohttp']}; proxies pinned to CPU 0, load generator and upstream to "
               f"CPU 1: {'yes' if m['pinned'] else 'no (fewer than 2 CPUs or no taskset)'}; "
               f"{'quick' if res['config']['quick'] else 'full'} run, "
               f"{res.get('seconds', 0):.0f} s.")
    out.append("")
    out.append("Each cell is min / **median** / max over the interleaved rounds; ratios are "
               "lane ÷ floor per round, median (min-max). The floor of a lane is the aiohttp "
               "passthrough in front of the same upstream dialect.")
    out.append("")
    v = Verdicts()
    if "latency" in res:
        out += _latency(res["latency"], pairs, v)
    if "rps" in res:
        out += _rps(res["rps"], pairs, v)
    if "streams" in res:
        out += _streams(res["streams"], pairs, v)
    if "fresh" in res:
        out += _fresh(res["fresh"], v)
    if "workers" in res:
        out += _workers(res["workers"], v)
    if "recording" in res:
        out += _recording(res["recording"], v)
    out += ["## Budget verdicts", ""]
    out += table(["budget", "measured (median)", "verdict"], v.items)
    return "\n".join(out)


def _lanes(rows: Rows) -> list[str]:
    return [lane for lane in LANE_TITLES if lane in rows]


def _latency(lat: Mapping[str, Any], pairs: Mapping[str, tuple[str, str]],
             v: Verdicts) -> list[str]:
    rows: Rows = lat["rounds"]
    p = lat["profile"]
    out = ["## 1. Added latency at concurrency 1", "",
           f"{lat['n_unary']} non-stream and {lat['n_stream']} stream requests per lane per "
           f"round, one kept-alive connection; reply {p['reply_chars']} characters, streamed "
           f"as {p['chunks']} chunks written {p.get('pace_ms', 0):g} ms apart (under 1 ms: "
           f"one event-loop turn apart, libuv timers being 1 ms-granular), no time to first "
           f"token. Added = lane - direct call to the upstream (same round), in ms.", ""]
    for metric, title in (("unary", "non-stream"), ("ttfb", "stream, time to first byte"),
                          ("full", "stream, complete")):
        body = []
        for lane in _lanes(rows):
            if lane.startswith("direct"):
                body.append([LANE_TITLES[lane], mmm(per_round(rows, lane, f"{metric}_p50"),
                                                    "{:.3f}"),
                             mmm(per_round(rows, lane, f"{metric}_p99"), "{:.3f}"), "", "", ""])
                continue
            floor, direct = pairs[lane]
            a50 = added(rows, lane, direct, f"{metric}_p50")
            a99 = added(rows, lane, direct, f"{metric}_p99")
            f50 = added(rows, floor, direct, f"{metric}_p50")
            ratio = [a / b if b > 0 else float("nan") for a, b in zip(a50, f50, strict=False)]
            broken = sum(per_round(rows, lane, "broken")) if metric != "unary" else 0
            body.append([LANE_TITLES[lane], mmm(per_round(rows, lane, f"{metric}_p50"),
                                                "{:.3f}"),
                         mmm(per_round(rows, lane, f"{metric}_p99"), "{:.3f}"),
                         mmm(a50, "{:.3f}"), mmm(a99, "{:.3f}"),
                         ratio_text(ratio) if not lane.startswith("floor") else "1"
                         + (f" ({broken} broken)" if broken else "")])
            if lane in ("fast", *TRANSLATED) and metric in ("unary", "ttfb"):
                limit = 0.8 if lane == "fast" else 1.0
                v.check(f"{lane}: added p50 at c=1, {title} ≤ {limit} ms", med(a50), limit,
                        "{:.3f} ms")
                rlimit = 1.15 if lane == "fast" else 1.3
                v.check(f"{lane}: added p50 {title} ≤ {rlimit}x floor", med(ratio), rlimit,
                        "{:.2f}x")
        out.append(f"### {title}")
        out.append("")
        out += table(["lane", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms",
                      "added p50 ÷ floor"], body)
    return out


def _rps(rps: Mapping[str, Any], pairs: Mapping[str, tuple[str, str]],
         v: Verdicts) -> list[str]:
    out = ["## 2. Non-stream requests/s", "",
           "Closed loop, each worker sends its next request when the last returns; the "
           "direct lane is the load generator's own ceiling on its core. CPU µs/request is "
           "the proxy process's CPU time over the measured requests (after a 1 s warm-up).", ""]
    for c, rows in rps.items():
        body = []
        for lane in _lanes(rows):
            ratio_cell = ""
            if not lane.startswith("direct"):
                floor, _ = pairs[lane]
                ratio = [f / x if x > 0 else float("inf")
                         for f, x in zip(per_round(rows, floor, "rps"),
                                         per_round(rows, lane, "rps"), strict=False)]
                ratio_cell = ratio_text(ratio)
                if lane in ("fast", *TRANSLATED):
                    limit = 1.15 if lane == "fast" else 1.3
                    v.check(f"{lane}: floor ÷ crossway requests/s at c={c} ≤ {limit}x",
                            med(ratio), limit, "{:.2f}x")
            errors = sum(per_round(rows, lane, "errors"))
            body.append([LANE_TITLES[lane], mmm(per_round(rows, lane, "rps"), "{:.0f}"),
                         mmm(per_round(rows, lane, "p99"), "{:.1f}"),
                         f"{med(per_round(rows, lane, 'cpu_us_per_req')):.0f}"
                         if not lane.startswith("direct") else "",
                         ratio_cell, str(int(errors)), _busy(rows, lane)])
        out.append(f"### concurrency {c}")
        out.append("")
        out += table(["lane", "requests/s", "p99 ms", "CPU µs/req", "floor ÷ lane",
                      "errors", "load core CPU"], body)
    return out


def _streams(st: Mapping[str, Any], pairs: Mapping[str, tuple[str, str]],
             v: Verdicts) -> list[str]:
    p = st["profile"]
    out = ["## 3. Paced streams", "",
           f"Each stream: {p['chunks']} chunks of a {p['reply_chars']}-character reply, "
           f"{p['pace_ms']:g} ms apart, first token after {p['ttft_ms']:g} ms; a worker opens "
           "the next stream when one ends. Frames/s counts SSE frames reaching the clients "
           "inside the window; CPU µs/frame is the proxy's CPU time over those frames, and "
           "frames/s per core = 10^6 / that, what one saturated core would sustain; intact "
           "= terminal event seen and the reassembled text equals the upstream's.", ""]
    for n, rows in st.items():
        if n == "profile":
            continue
        body = []
        for lane in _lanes(rows):
            ratio_cell = ""
            if not lane.startswith(("direct", "floor")):
                floor, _ = pairs[lane]
                ratio = [a / b if b > 0 else float("nan")
                         for a, b in zip(per_round(rows, lane, "cpu_us_per_frame"),
                                         per_round(rows, floor, "cpu_us_per_frame"),
                                         strict=False)]
                ratio_cell = ratio_text(ratio)
            streams = int(sum(per_round(rows, lane, "streams")))
            intact = int(sum(per_round(rows, lane, "intact")))
            cpu = (mmm(per_round(rows, lane, "cpu_us_per_frame"), "{:.1f}")
                   if not lane.startswith("direct") else "")
            share = (f"{med(per_round(rows, lane, 'cpu_share')) * 100:.0f}%"
                     if not lane.startswith("direct") else "")
            per_core = ([1e6 / x for x in per_round(rows, lane, "cpu_us_per_frame") if x > 0]
                        if not lane.startswith("direct") else [])
            body.append([LANE_TITLES[lane], mmm(per_round(rows, lane, "fps"), "{:.0f}"),
                         cpu, f"{med(per_core):.0f}" if per_core else "", share, ratio_cell,
                         f"{intact}/{streams}",
                         f"{med(per_round(rows, lane, 'ttfb_p99')):.0f}", _busy(rows, lane)])
            if lane in TRANSLATED and n == "512":
                v.check(f"{lane}: SSE frames/s at 512 streams ≥ 10,000",
                        med(per_round(rows, lane, "fps")), 10000, "{:.0f}/s",
                        ok=lambda val, lim: val >= lim)
                v.check(f"{lane}: every stream intact at 512", float(streams - intact), 0,
                        "{:.0f} broken")
        out.append(f"### {n} concurrent streams")
        out.append("")
        out += table(["lane", "frames/s", "CPU µs/frame", "frames/s per core", "proxy CPU",
                      "µs/frame ÷ floor",
                      "intact", "TTFB p99 ms", "load core CPU"], body)
    return out


def _busy(rows: Rows, lane: str) -> str:
    """CPU used on the load generator's core (load generator + fake upstream): near 100%
    means the harness, not the proxy, bounded the figure."""
    g = med(per_round(rows, lane, "load_cpu_busy"))
    return "" if g != g else f"{g * 100:.0f}%"


def _fresh(fr: Mapping[str, Any], v: Verdicts) -> list[str]:
    rows: Rows = fr["rounds"]
    n = fr["streams"]
    out = ["## 4. Cold start and resident memory", "",
           f"A fresh process per lane and round: cold start = spawn to the first served "
           f"completion (through the upstream); idle = RSS after 20 requests; open = peak RSS "
           f"with {n} concurrent streams open (each held ~4 s); KB/stream = (open - idle) / "
           f"{n}.", ""]
    body = []
    for lane in _lanes(rows):
        opened = int(sum(per_round(rows, lane, "opened")))
        intact = int(sum(per_round(rows, lane, "intact")))
        body.append([LANE_TITLES[lane], mmm(per_round(rows, lane, "cold_start_ms"), "{:.0f}"),
                     mmm(per_round(rows, lane, "rss_idle_mb"), "{:.1f}"),
                     mmm(per_round(rows, lane, "rss_open_mb"), "{:.1f}"),
                     mmm(per_round(rows, lane, "kb_per_stream"), "{:.1f}"),
                     f"{intact}/{opened}"])
        if lane in ("fast", *TRANSLATED):
            v.check(f"{lane}: resident memory per open stream ≤ 50 KB",
                    med(per_round(rows, lane, "kb_per_stream")), 50, "{:.1f} KB")
            v.check(f"{lane}: cold start to first served request ≤ 1 s",
                    med(per_round(rows, lane, "cold_start_ms")), 1000, "{:.0f} ms")
    out += table(["lane", "cold start ms", "RSS idle MB", f"RSS at {n} streams MB",
                  "KB/stream", "intact"], body)
    return out


def _workers(wk: Mapping[str, Any], v: Verdicts) -> list[str]:
    out = ["## 5. `crossway serve --workers N`", "",
           "Fast path, non-stream, wrk-driven. The load generator (wrk) and the upstream stay "
           "on CPU 1 but use little of it (section 2), so unpinned workers have most of both "
           "CPUs. Near-linear = at least 80% of N times one unpinned worker's requests/s. "
           "CPU µs/request and the busiest worker's share of the workers' CPU show whether "
           "the work per request stays flat and spreads evenly.", ""]
    body = []
    base: dict[int, float] = {}
    for label, d in wk.items():
        by_c: dict[int, list[Mapping[str, float]]] = {}
        for r in d["rows"]:
            by_c.setdefault(int(r["concurrency"]), []).append(r)
        for c, rs in by_c.items():
            rps = [r["rps"] for r in rs]
            if d["workers"] == 1 and not d["pinned"]:
                base[c] = med(rps)
            body.append([label, str(c), mmm(rps, "{:.0f}"),
                         f"{med([r['p99'] for r in rs]):.1f}",
                         f"{med([r['cpu_us_per_req'] for r in rs]):.0f}",
                         f"{med([r['busiest_worker_share'] for r in rs]) * 100:.0f}%"])
            if d["workers"] > 1 and c in base:
                v.check(f"--workers {d['workers']} ÷ 1 worker (both unpinned), requests/s "
                        f"at c={c} ≥ {0.8 * d['workers']:.1f}x (near-linear)",
                        med(rps) / base[c], 0.8 * d["workers"], "{:.2f}x",
                        ok=lambda val, lim: val >= lim)
    out += table(["setup", "concurrency", "requests/s", "p99 ms", "CPU µs/req",
                  "busiest worker"], body)
    return out


def _recording(rec: Mapping[str, Any], v: Verdicts) -> list[str]:
    rows: Rows = rec["rounds"]
    c = rec["concurrency"]
    out = ["## 6. What recording costs", "",
           f"crossway as shipped (`fast`) against the same tree with recording taken out "
           f"(`fast-bare`: bench/bare.py, only the access log, no usage store), both on CPU 0 "
           f"and loaded at the same time (sharing it): {len(rows.get('fast', ()))} rounds of "
           f"{rec['seconds']:.0f} s at c={c} each, non-stream. The ratio is shipped ÷ bare per "
           f"round; p50 at c=1 is measured one lane after the other.", ""]
    body = []
    for lane in ("fast", "fast-bare"):
        body.append([lane, mmm(per_round(rows, lane, "rps"), "{:.0f}"),
                     mmm(per_round(rows, lane, "cpu_us_per_req"), "{:.0f}"),
                     mmm(rec["unary_p50_ms"].get(lane, []), "{:.3f}")])
    out += table(["lane", f"requests/s, c={c}", "CPU µs/request", "p50 ms, c=1"], body)
    cpu = _shipped_over_bare(rows, "cpu_us_per_req")
    rps = [1 / x for x in _shipped_over_bare(rows, "rps")]
    out += [f"CPU per request, shipped ÷ bare: {ratio_text(cpu)}; requests/s, bare ÷ "
            f"shipped: {ratio_text(rps)}.", ""]
    alt: Rows = rec.get("alternate", {})
    if alt:
        out += [f"The same, one after the other (each alone on CPU 0, order flipped per "
                f"round, {len(alt.get('fast', ()))} rounds): CPU per request, shipped ÷ bare: "
                f"{ratio_text(_shipped_over_bare(alt, 'cpu_us_per_req'))}; requests/s, bare ÷ "
                f"shipped: {ratio_text([1 / x for x in _shipped_over_bare(alt, 'rps')])}.", ""]
    v.check(f"recording, live figures and the store: ≤ 5% more CPU per request (c={c})",
            (med(cpu) - 1) * 100, 5.0, "{:+.1f}%")
    return out


def _shipped_over_bare(rows: Rows, metric: str) -> list[float]:
    return [a / b for a, b in zip(per_round(rows, "fast", metric),
                                  per_round(rows, "fast-bare", metric), strict=False)]


def main() -> None:
    from bench.harness import PAIRS

    res = json.loads(Path(sys.argv[1]).read_text())
    print(render(res, PAIRS))


if __name__ == "__main__":
    main()
