"""Load generator (aiohttp client): closed-loop request workers, SSE readers that check every
stream arrived intact, and the percentiles the report needs.

Every loop here is bounded by a deadline, and every request goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.upstream import reply_text

SYSTEM = ("You are a careful coding assistant. Answer briefly, cite files by path, and prefer "
          "small diffs. ") * 4
TOOL = {
    "name": "read_file",
    "description": "Read a file of the repository.",
    "schema": {"type": "object", "properties": {"path": {"type": "string"}},
               "required": ["path"]},
}
TURNS = [
    ("user", "Where is the SSE parser and how does it split frames?"),
    ("assistant", "In src/crossway/dialects/sse.py; frames end at a blank line whatever the "
                  "line ending."),
    ("user", "Explain how a stream is relayed from the upstream to the client, step by step."),
]


@dataclass(frozen=True)
class Lane:
    """One way of sending the same conversation: who answers and in which dialect."""

    name: str
    base: str  # http://127.0.0.1:PORT
    client: str  # "openai" | "anthropic": the dialect the load generator speaks
    model: str
    group: str  # crossway | floor | direct | litellm
    key: str = "bench"  # sent as Bearer and x-api-key

    @property
    def headers(self) -> dict[str, str]:
        return {**HEADERS, "authorization": f"Bearer {self.key}", "x-api-key": self.key}

    @property
    def url(self) -> str:
        return self.base + ("/v1/chat/completions" if self.client == "openai" else "/v1/messages")


def request_body(lane: Lane, stream: bool) -> bytes:
    if lane.client == "openai":
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
        messages += [{"role": r, "content": c} for r, c in TURNS]
        body: dict[str, Any] = {
            "model": lane.model, "messages": messages, "max_tokens": 1024,
            "tools": [{"type": "function", "function": {
                "name": TOOL["name"], "description": TOOL["description"],
                "parameters": TOOL["schema"]}}],
        }
    else:
        body = {
            "model": lane.model, "max_tokens": 1024, "system": SYSTEM,
            "messages": [{"role": r, "content": c} for r, c in TURNS],
            "tools": [{"name": TOOL["name"], "description": TOOL["description"],
                       "input_schema": TOOL["schema"]}],
        }
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


HEADERS = {"content-type": "application/json", "authorization": "Bearer bench",
           "x-api-key": "bench", "anthropic-version": "2023-06-01"}


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, force_close=False),
        timeout=aiohttp.ClientTimeout(total=120, sock_connect=10),
    )


# ---------------------------------------------------------------- SSE checking


class StreamCheck:
    """Reads one client-side SSE stream: counts frames, rebuilds the text, sees the end."""

    __slots__ = ("buf", "client", "done", "error", "frames", "parts")

    def __init__(self, client: str) -> None:
        self.client = client
        self.buf = b""
        self.frames = 0
        self.parts: list[str] = []
        self.done = False
        self.error = False

    def feed(self, chunk: bytes) -> int:
        buf = self.buf + chunk if self.buf else chunk
        frames = buf.split(b"\n\n")
        self.buf = frames.pop()
        n = 0
        for f in frames:
            if not f:
                continue
            n += 1
            pos = f.find(b"data: ")
            if pos < 0:
                continue
            data = f[pos + 6:]
            if self.client == "openai":
                self._openai(data)
            else:
                self._anthropic(data)
        self.frames += n
        return n

    def _openai(self, data: bytes) -> None:
        if data == b"[DONE]":
            self.done = True
            return
        obj = orjson.loads(data)
        if "error" in obj:
            self.error = True
            return
        choices = obj.get("choices")
        if choices:
            text = choices[0].get("delta", {}).get("content")
            if text:
                self.parts.append(text)

    def _anthropic(self, data: bytes) -> None:
        obj = orjson.loads(data)
        typ = obj.get("type")
        if typ == "content_block_delta":
            delta = obj["delta"]
            if delta.get("type") == "text_delta":
                self.parts.append(delta["text"])
        elif typ == "message_stop":
            self.done = True
        elif typ == "error":
            self.error = True

    def intact(self, expected: str) -> bool:
        return self.done and not self.error and "".join(self.parts) == expected


# ---------------------------------------------------------------- concurrency 1


@dataclass
class LatencySample:
    unary: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    broken: int = 0


async def latency_c1(lane: Lane, n_unary: int, n_stream: int, expected: str,
                     warmup: int = 20) -> LatencySample:
    """Sequential requests on one kept-alive connection: non-stream, then stream."""
    out = LatencySample()
    unary, stream = request_body(lane, False), request_body(lane, True)
    async with session(1) as s:
        for i in range(warmup + n_unary):
            t0 = time.perf_counter()
            async with s.post(lane.url, data=unary, headers=lane.headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{lane.name}: HTTP {r.status}")
            if i >= warmup:
                out.unary.append(time.perf_counter() - t0)
        for i in range(warmup + n_stream):
            check = StreamCheck(lane.client)
            t0 = time.perf_counter()
            async with s.post(lane.url, data=stream, headers=lane.headers) as r:
                if r.status != 200:
                    raise RuntimeError(f"{lane.name}: HTTP {r.status} {await r.read()!r}")
                first = await r.content.readany()
                t1 = time.perf_counter()
                check.feed(first)
                async for chunk in r.content.iter_any():
                    check.feed(chunk)
            t2 = time.perf_counter()
            if i >= warmup:
                out.ttfb.append(t1 - t0)
                out.full.append(t2 - t0)
                out.broken += not check.intact(expected)
    return out


# ---------------------------------------------------------------- non-stream throughput


@dataclass
class Throughput:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    p50: float = float("nan")
    p99: float = float("nan")

    def __post_init__(self) -> None:
        if self.latencies:
            self.p50 = percentile(self.latencies, 0.5)
            self.p99 = percentile(self.latencies, 0.99)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def throughput(lane: Lane, concurrency: int, seconds: float,
                     warmup: float = 0.5) -> Throughput:
    """Closed loop: `concurrency` workers, each sending the next request when one returns."""
    body = request_body(lane, False)
    latencies: list[float] = []
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    t_begin, t_end = start + warmup, start + warmup + seconds

    async def worker(s: aiohttp.ClientSession, delay: float) -> None:
        nonlocal errors
        await asyncio.sleep(delay)
        while True:
            t0 = loop.time()
            if t0 >= t_end:
                return
            try:
                async with s.post(lane.url, data=body, headers=lane.headers) as r:
                    await r.read()
                    ok = r.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            t1 = loop.time()
            if t_begin <= t0 and t1 <= t_end:
                if ok:
                    latencies.append(t1 - t0)
                else:
                    errors += 1

    async with session(concurrency) as s:
        # Connections open over the first part of the warm-up, not in one burst.
        await asyncio.gather(*(worker(s, max(warmup, 0.2) * 0.5 * i / concurrency)
                               for i in range(concurrency)))
    return Throughput(len(latencies), seconds, latencies, errors)


# ---------------------------------------------------------------- streams


@dataclass
class StreamLoad:
    frames: int  # client frames received inside the window
    seconds: float
    streams_done: int  # streams that ended (in or after the window)
    streams_intact: int
    ttfb: list[float]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds


async def stream_load(lane: Lane, concurrency: int, seconds: float, expected: str,
                      ramp: float = 1.0, stream_timeout: float = 60.0) -> StreamLoad:
    """`concurrency` workers each keep one stream open, opening the next when one ends.

    Frames are counted inside [ramp, ramp + seconds]; streams still open at the end are read
    to their end (bounded by stream_timeout) and checked like the others.
    """
    body = request_body(lane, True)
    loop = asyncio.get_running_loop()
    start = loop.time()
    t_begin, t_end = start + ramp, start + ramp + seconds
    frames = 0
    done = intact = 0
    ttfb: list[float] = []

    async def one(s: aiohttp.ClientSession) -> None:
        nonlocal frames, done, intact
        check = StreamCheck(lane.client)
        t0 = loop.time()
        try:
            async with s.post(lane.url, data=body, headers=lane.headers,
                              timeout=aiohttp.ClientTimeout(total=stream_timeout)) as r:
                first = True
                async for chunk in r.content.iter_any():
                    now = loop.time()
                    if first:
                        first = False
                        if t_begin <= t0 < t_end:
                            ttfb.append(now - t0)
                    n = check.feed(chunk)
                    if t_begin <= now <= t_end:
                        frames += n
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        done += 1
        intact += check.intact(expected)

    async def worker(s: aiohttp.ClientSession, delay: float) -> None:
        await asyncio.sleep(delay)
        while loop.time() < t_end:
            await one(s)

    async with session(concurrency) as s:
        await asyncio.gather(*(worker(s, ramp * 0.8 * i / concurrency)
                               for i in range(concurrency)))
    return StreamLoad(frames, seconds, done, intact, ttfb)


async def open_streams(lane: Lane, concurrency: int, ramp: float,
                       on_all_open: Any, expected: str,
                       timeout: float = 60.0) -> tuple[int, int]:
    """Open `concurrency` long streams; once every one has its first bytes, await
    `on_all_open()` (which samples memory), then read them all to the end."""
    body = request_body(lane, True)
    opened = 0
    all_open = asyncio.Event()
    intact = 0

    async def one(s: aiohttp.ClientSession, delay: float) -> None:
        nonlocal opened, intact
        await asyncio.sleep(delay)
        check = StreamCheck(lane.client)
        try:
            async with s.post(lane.url, data=body, headers=lane.headers,
                              timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                check.feed(await r.content.readany())
                opened += 1
                if opened == concurrency:
                    all_open.set()
                async for chunk in r.content.iter_any():
                    check.feed(chunk)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        intact += check.intact(expected)

    async with session(concurrency) as s:
        tasks = [asyncio.ensure_future(one(s, ramp * i / concurrency))
                 for i in range(concurrency)]
        try:
            await asyncio.wait_for(all_open.wait(), timeout)
            await on_all_open()
        except TimeoutError:
            pass
        await asyncio.gather(*tasks)
    return opened, intact


def expected_text(reply_chars: int) -> str:
    return reply_text(reply_chars)


# ---------------------------------------------------------------- wrk (non-stream throughput)

_WRK_SCRIPT = """wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout + summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency.max, summary.errors.status))
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_throughput(lane: Lane, concurrency: int, seconds: float,
                   warmup: float = 0.5) -> Throughput:
    """The same closed loop as `throughput`, driven by wrk (C, one thread): the load
    generator then costs a fraction of what aiohttp's client does, so the proxy's core, not
    the load generator's, is what runs out."""
    body = request_body(lane, False).decode()
    headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in lane.headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_WRK_SCRIPT.format(body=body, headers=headers))
        script = f.name
    try:
        if warmup > 0:
            subprocess.run(["wrk", "-t1", f"-c{concurrency}", "-d1s",
                            "-s", script, lane.url], capture_output=True, check=True,
                           timeout=warmup + 30)
        # wrk takes whole seconds only
        run = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
                              "--timeout", "10s", "-s", script, lane.url],
                             capture_output=True, text=True, check=True, timeout=seconds + 30)
    finally:
        os.unlink(script)
    line = next(x for x in run.stdout.splitlines() if x.startswith("BENCH "))
    requests, duration_us, errors, p50, p99, _max, _status = (int(x) for x in line.split()[1:])
    # Only the two percentiles are kept (wrk does not hand out every latency).
    return Throughput(requests - errors, duration_us / 1e6, [], errors,
                      p50=p50 / 1e6, p99=p99 / 1e6)
