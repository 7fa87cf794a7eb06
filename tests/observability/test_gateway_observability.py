"""Observability of a running crossway (a real process on 127.0.0.1) in front of the fake
OpenCode Go: /admin/stats against known latencies and costs, /metrics through
prometheus_client's own parser, the usage store (and a store that is down), `crossway usage`,
the Go quota meter fed by a GoUsageLimitError, the access line in both formats, and who may
read the operator endpoints."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import GO_KEY
from tests.fakes.opencode import FAKE_COST, FakeOpenCode, FakeUsage, Reply
from tests.gateway import Gateway, free_port, request

JSON_CT = {"content-type": "application/json"}


def _env(fake: FakeOpenCode, data: Path, **extra: str) -> dict[str, str]:
    return {"OPENCODE_GO_API_KEY": GO_KEY, "OPENCODE_GO_BASE_URL": fake.base_url,
            "XDG_DATA_HOME": str(data), "CROSSWAY_LOG_LEVEL": "INFO", **extra}


def chat(gw: Gateway, stream: bool, model: str = "opencode-go/glm-5.1",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return request(gw, "POST", "/v1/chat/completions", json.dumps(body).encode(),
                   {**JSON_CT, **(headers or {})})


def messages(gw: Gateway, stream: bool) -> tuple[int, dict[str, str], bytes]:
    body = {"model": "opencode-go/minimax-m2.7", "max_tokens": 50, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}
    return request(gw, "POST", "/v1/messages", json.dumps(body).encode(), JSON_CT)


def admin(gw: Gateway, path: str, key: str | None = None) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    status, _, body = request(gw, "GET", path, headers=headers)
    return status, json.loads(body) if path.startswith("/admin") or status >= 400 else body


def wait_for(check: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def stored(gw: Gateway, n: int, window: str = "5m") -> dict[str, Any]:
    """/admin/stats once the store holds n requests in `window` (a batch is written within
    about a second; the short windows are cached for two)."""
    out: dict[str, Any] = {}

    def ready() -> bool:
        out.update(admin(gw, "/admin/stats")[1])
        w = out["windows"][window]
        return "totals" in w and w["totals"]["requests"] >= n
    wait_for(ready)
    return out


@pytest.fixture(scope="module")
def gw(fake_go: FakeOpenCode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with Gateway(_env(fake_go, tmp_path_factory.mktemp("data"))) as g:
        yield g


# ---------------------------------------------------------------- stats, costs, store


def test_stats_count_costs_from_cost_frames_and_the_price_table(
        gw: Gateway, fake_go: FakeOpenCode, tmp_path: Path) -> None:
    usage = FakeUsage(prompt_tokens=1000, completion_tokens=100)
    fake_go.script(*[Reply(text="hello", usage=usage) for _ in range(4)])
    before = admin(gw, "/admin/stats")[1]["since_start"]["totals"]
    assert chat(gw, stream=True)[0] == 200      # Zen's cost frame: FAKE_COST
    assert messages(gw, stream=True)[0] == 200  # Zen's ping cost frame: FAKE_COST
    assert chat(gw, stream=False)[0] == 200     # no cost in the fake's bodies: estimated
    assert messages(gw, stream=False)[0] == 200
    stats = admin(gw, "/admin/stats")[1]
    totals = stats["since_start"]["totals"]
    assert totals["requests"] - before["requests"] == 4
    assert totals["input_tokens"] - before["input_tokens"] == 4000
    upstream = totals["cost_usd"] - totals["estimated_cost_usd"] - (
        before["cost_usd"] - before["estimated_cost_usd"])
    assert upstream == pytest.approx(2 * float(FAKE_COST))
    # GLM 5.1 on Go and MiniMax M2.7 on Go, 1000 in / 100 out each, from the price table.
    from crossway.observability.prices import estimate_cost
    glm = estimate_cost("opencode-go", "glm-5.1", input_tokens=1000, output_tokens=100)
    mm = estimate_cost("opencode-go", "minimax-m2.7", input_tokens=1000, output_tokens=100)
    assert glm is not None and mm is not None
    estimated = totals["estimated_cost_usd"] - before["estimated_cost_usd"]
    assert estimated == pytest.approx(glm + mm)
    recent = admin(gw, "/admin/requests?limit=4")[1]["requests"]
    assert [r["stream"] for r in recent] == [False, False, True, True]
    assert [r["cost_estimated"] for r in recent] == [True, True, False, False]
    assert all(len(r["attempts"]) == 1 and r["attempts"][0]["failure"] is None for r in recent)
    # The same requests reach the store, and `crossway usage` reads them from there.
    stored(gw, totals["requests"], "1h")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSWAY_")}
    env["XDG_DATA_HOME"] = _data_home(gw)
    out = subprocess.run([sys.executable, "-m", "crossway", "usage", "--since", "1h",
                          "--by", "model", "--json"], env=env, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    report = json.loads(out)
    assert report["totals"]["requests"] == totals["requests"]
    models = {g["key"] for g in report["groups"]}
    assert {"glm-5.1", "minimax-m2.7"} <= models
    table = subprocess.run([sys.executable, "-m", "crossway", "usage", "--since", "1h"],
                           env=env, capture_output=True, text=True, timeout=30,
                           check=True).stdout
    assert "glm-5.1" in table and "minimax-m2.7" in table


def test_responses_stream_cost_frame_is_read(gw: Gateway, fake_go: FakeOpenCode) -> None:
    """Codex's dialect: Zen's `event: ping` cost frame after response.completed."""
    fake_go.script(Reply(text="hello"))
    body = {"model": "opencode-go/grok-4.5", "stream": True, "input": "hi"}
    status, headers, payload = request(gw, "POST", "/v1/responses",
                                       json.dumps(body).encode(), JSON_CT)
    assert status == 200 and b"response.completed" in payload
    assert FAKE_COST.encode() not in payload  # never forwarded
    rid = headers["x-request-id"]
    recent = admin(gw, "/admin/requests?limit=5")[1]["requests"]
    row = next(r for r in recent if r["request_id"] == rid)
    assert row["cost_usd"] == pytest.approx(float(FAKE_COST)) and not row["cost_estimated"]
    assert row["dialect"] == "openai_responses"


def _data_home(gw: Gateway) -> str:
    logs = gw.logs()
    line = next(x for x in logs.splitlines() if "usage store: sqlite " in x)
    db = Path(line.split("usage store: sqlite ", 1)[1].strip())
    return str(db.parent.parent)  # <XDG_DATA_HOME>/crossway/usage.db


def test_percentiles_against_known_latencies(
        fake_go: FakeOpenCode, tmp_path: Path) -> None:
    """A paced fake: ten requests taking 50..500 ms. The store's windows equal the
    percentiles of the durations crossway recorded (linear interpolation between ranks), the
    since-start figures are within 2%."""
    delays = [0.05 * (i + 1) for i in range(10)]
    fake_go.script(*[Reply(text="x", delay=d) for d in delays])
    with Gateway(_env(fake_go, tmp_path)) as g:
        for _ in delays:
            assert chat(g, stream=False)[0] == 200
        stats = stored(g, len(delays))
        recent = admin(g, "/admin/requests?limit=10")[1]["requests"]
    # The durations crossway measured: the fake's delays plus crossway's own time (a few ms,
    # more on a loaded machine).
    lat = sorted(r["duration_ms"] for r in recent)
    ttfb = sorted(r["ttfb_ms"] for r in recent)
    for measured, delay in zip(lat, sorted(d * 1000 for d in delays), strict=True):
        assert delay <= measured <= delay + 250

    def exact(values: list[float], q: float) -> float:
        pos = q * (len(values) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(values) - 1)
        return values[lo] + (values[hi] - values[lo]) * (pos - lo)

    window = stats["windows"]["5m"]["totals"]
    live = stats["since_start"]["totals"]
    for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert window[f"latency_{name}_ms"] == pytest.approx(exact(lat, q), rel=1e-6), name
        assert window[f"ttfb_{name}_ms"] == pytest.approx(exact(ttfb, q), rel=1e-6), name
        # Since start: from 2%-wide buckets, so within about 1%.
        assert live[f"latency_{name}_ms"] == pytest.approx(exact(lat, q), rel=0.02), name
        assert live[f"ttfb_{name}_ms"] == pytest.approx(exact(ttfb, q), rel=0.02), name
    by_model = {g["key"]: g for g in stats["windows"]["5m"]["by_model"]}
    assert by_model["glm-5.1"]["requests"] == 10
    assert stats["windows"]["5m"]["by_status"][0]["key"] == "200"


def test_metrics_parse_with_prometheus_clients_parser(gw: Gateway,
                                                      fake_go: FakeOpenCode) -> None:
    fake_go.script(Reply(text="a"), Reply(text="b"))
    assert chat(gw, stream=True)[0] == 200
    assert chat(gw, stream=False, model="opencode-go/no-such-model")[0] == 404
    assert chat(gw, stream=False)[0] == 200
    status, _, body = request(gw, "GET", "/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    requests = {tuple(sorted(s.labels.items())): s.value
                for s in families["crossway_requests"].samples if s.name.endswith("_total")}
    ok = (("instance", "opencode-go"), ("model", "glm-5.1"), ("outcome", "ok"),
          ("status", "200"))
    assert requests[ok] >= 2
    unrouted = (("instance", "none"), ("model", "none"),
                ("outcome", "error"), ("status", "404"))
    assert requests[unrouted] >= 1
    hist = families["crossway_request_duration_seconds"]
    counts = {s.labels["model"]: s.value for s in hist.samples if s.name.endswith("_count")}
    assert counts["glm-5.1"] >= 2
    inf = [s for s in hist.samples if s.labels.get("le") == "+Inf"
           and s.labels["model"] == "glm-5.1"]
    assert inf[0].value == counts["glm-5.1"]
    kinds = {s.labels["kind"] for s in families["crossway_tokens"].samples}
    assert kinds == {"input", "output", "cache_read", "cache_write", "reasoning"}
    cost = {s.labels["source"]: s.value for s in families["crossway_cost_usd"].samples
            if s.labels["model"] == "glm-5.1"}
    assert cost["upstream"] >= float(FAKE_COST)
    attempts = families["crossway_attempts"].samples
    assert any(s.labels["result"] == "ok" for s in attempts)
    quota = {s.labels["window"] for s in families["crossway_go_quota_limit_usd"].samples
             if s.labels["instance"] == "opencode-go"}
    assert quota == {"5h", "weekly", "monthly"}
    assert families["crossway_usage_store_healthy"].samples[0].value == 1.0
    assert "crossway_open_streams" in families and "crossway_uptime_seconds" in families
    forbidden = {"request_id", "session", "session_id", "key", "key_id", "conversation"}
    for fam in families.values():
        for s in fam.samples:
            assert not forbidden & set(s.labels), (fam.name, s.labels)


def test_the_served_process_rarely_runs_the_garbage_collector(gw: Gateway,
                                                              fake_go: FakeOpenCode) -> None:
    """crossway settles the collector once started (server/gctune.py): start-up state frozen,
    young collections every 50,000 allocations. With CPython's defaults, 400 requests, 16 at
    a time, made nine young collections here; settled, none."""
    def collections() -> float:
        body = request(gw, "GET", "/metrics")[2]
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        return sum(s.value for s in families["python_gc_collections"].samples
                   if s.labels["generation"] == "0")
    fake_go.script(*[Reply(text="x") for _ in range(400)])
    before = collections()
    with ThreadPoolExecutor(16) as pool:  # requests in flight together, as clients send them
        statuses = list(pool.map(lambda _: chat(gw, stream=False)[0], range(400)))
    assert statuses == [200] * 400
    assert collections() - before <= 3
    body = request(gw, "GET", "/metrics")[2].decode()
    assert "process_resident_memory_bytes" in body and "process_cpu_seconds_total" in body


# ---------------------------------------------------------------- store down


def test_store_down_requests_continue_and_the_loss_is_counted(
        fake_go: FakeOpenCode, tmp_path: Path) -> None:
    dead = f"postgresql://crossway:pw@127.0.0.1:{free_port()}/usage"
    fake_go.script(*[Reply(text="x") for _ in range(3)])
    with Gateway(_env(fake_go, tmp_path, CROSSWAY_DATABASE_URL=dead)) as g:
        for stream in (True, False, True):
            assert chat(g, stream=stream)[0] == 200

        def lost() -> bool:
            store = admin(g, "/admin/stats")[1]["usage_store"]
            return store["rows_dropped"] >= 3 and not store["healthy"]
        wait_for(lost)
        stats = admin(g, "/admin/stats")[1]
        assert stats["since_start"]["totals"]["requests"] == 3  # in memory all the same
        assert "error" in stats["windows"]["5m"]
        logs = g.logs()
    assert "usage store unavailable" in logs and "pw@" not in logs


# ---------------------------------------------------------------- the Go quota meter


class GoLimited:
    """A Go-shaped upstream whose key is over its 5-hour limit: every completion is Go's 429
    GoUsageLimitError with metadata.limitName and retry-after (spec A6, A9)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/zen/go/v1"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    async def _limited(self, request: web.Request) -> web.Response:
        await request.read()
        body = {"type": "error", "error": {"type": "GoUsageLimitError",
                                           "message": "5 hour usage limit reached"},
                "metadata": {"workspace": "wrk_1", "limitName": "5 hour"}}
        return web.json_response(body, status=429, headers={"retry-after": "1800"})

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/zen/go/v1/chat/completions", self._limited)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> GoLimited:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def test_quota_meter_shows_a_limit_go_reported(tmp_path: Path) -> None:
    with GoLimited() as up, Gateway({"OPENCODE_GO_API_KEY": GO_KEY,
                                     "OPENCODE_GO_BASE_URL": up.base_url,
                                     "XDG_DATA_HOME": str(tmp_path)}) as g:
        status, headers, _ = chat(g, stream=False)
        assert status == 429 and headers.get("retry-after") == "1800"
        now = time.time()
        quota = admin(g, "/admin/stats")[1]["quota"]
        key = next(k for k in quota["keys"] if k["instance"] == "opencode-go")
        five = next(w for w in key["windows"] if w["window"] == "5h")
        assert five["exhausted"] and five["remaining_usd"] == 0.0
        assert five["reported"]["limit_name"] == "5 hour"
        assert five["reported"]["until_known"] is True
        assert five["reported"]["until"] == pytest.approx(now + 1800, abs=5)
        weekly = next(w for w in key["windows"] if w["window"] == "weekly")
        assert weekly["reported"] is None and weekly["limit_usd"] == 30.0
        _, _, body = request(g, "GET", "/metrics")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        reported = {s.labels["window"]: s.value
                    for s in families["crossway_go_quota_limit_reported"].samples}
        assert reported == {"5h": 1.0, "weekly": 0.0, "monthly": 0.0}


def test_quota_meter_sums_recorded_costs_per_go_key(fake_go: FakeOpenCode,
                                                    tmp_path: Path) -> None:
    fake_go.script(*[Reply(text="x") for _ in range(3)])
    with Gateway(_env(fake_go, tmp_path, CROSSWAY_GO_LIMIT_5H="0.01")) as g:
        for _ in range(3):
            assert chat(g, stream=True)[0] == 200
        stored(g, 3)
        quota = admin(g, "/admin/stats")[1]["quota"]
    five = next(w for w in quota["keys"][0]["windows"] if w["window"] == "5h")
    assert five["requests"] == 3 and five["limit_usd"] == 0.01
    assert five["spent_usd"] == pytest.approx(3 * float(FAKE_COST))
    assert five["share"] == pytest.approx(3 * float(FAKE_COST) / 0.01)
    assert five["estimated_usd"] == 0.0


# ---------------------------------------------------------------- logs


def test_access_line_carries_the_timings(gw: Gateway, fake_go: FakeOpenCode) -> None:
    fake_go.script(Reply(text="x"))
    _, headers, _ = chat(gw, stream=True)
    rid = headers["x-request-id"]
    wait_for(lambda: f"req={rid} " in gw.logs())
    line = next(x for x in gw.logs().splitlines() if f"req={rid} " in x)
    for part in ("total=", "ttfb=", "forward=", "upstream_ttfb=", "attempts=1",
                 "target=opencode-go:glm-5.1", "status=200", "cost=$0.000420"):
        assert part in line, (part, line)


def test_json_log_format(fake_go: FakeOpenCode, tmp_path: Path) -> None:
    fake_go.script(Reply(text="x"))
    with Gateway(_env(fake_go, tmp_path, CROSSWAY_LOG_FORMAT="json")) as g:
        _, headers, _ = chat(g, stream=False)
        rid = headers["x-request-id"]
        wait_for(lambda: rid in g.logs())
        lines = [json.loads(x) for x in g.logs().splitlines() if x.strip()]
    access = next(x for x in lines if x.get("request_id") == rid)
    assert access["status"] == 200 and access["outcome"] == "ok"
    assert access["total_ms"] > 0 and access["forward_ms"] > 0
    assert access["attempts"][0]["target"] == "opencode-go:glm-5.1"
    assert access["usage"]["input"] > 0
    assert any(x.get("level") == "INFO" and "listening on" in x["message"] for x in lines)


# ---------------------------------------------------------------- who may read


def test_admin_key_guards_operator_endpoints(fake_go: FakeOpenCode, tmp_path: Path) -> None:
    with Gateway(_env(fake_go, tmp_path, CROSSWAY_ADMIN_KEY="adm-secret",
                      CROSSWAY_API_KEY="client-key")) as g:
        for path in ("/admin/stats", "/admin/requests", "/metrics"):
            status, body = admin(g, path)
            assert status == 401 and "CROSSWAY_ADMIN_KEY" in body["error"]["message"]
            assert admin(g, path, "client-key")[0] == 401  # a client key is not enough
            assert admin(g, path, "adm-secret")[0] == 200
        status, _, page = request(g, "GET", "/dashboard")  # the page itself holds no figures
        assert status == 200 and b"<title>crossway dashboard</title>" in page


def test_api_key_guards_operator_endpoints_without_an_admin_key(
        fake_go: FakeOpenCode, tmp_path: Path) -> None:
    with Gateway(_env(fake_go, tmp_path, CROSSWAY_API_KEY="client-key")) as g:
        assert admin(g, "/admin/stats")[0] == 401
        assert admin(g, "/admin/stats", "client-key")[0] == 200


def test_no_key_on_a_public_address_refuses_operator_endpoints(
        fake_go: FakeOpenCode, tmp_path: Path) -> None:
    with Gateway(_env(fake_go, tmp_path), args=("--host", "0.0.0.0")) as g:
        for path in ("/admin/stats", "/metrics", "/dashboard"):
            status, body = admin(g, path)
            assert status == 403, path
            assert "CROSSWAY_ADMIN_KEY" in body["error"]["message"]
        fake_go.script(Reply(text="x"))
        assert chat(g, stream=False)[0] == 200  # the API itself is not affected
