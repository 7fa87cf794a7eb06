"""Zen's cost (spec A8) read by the relay through the in-memory transport: the trailing cost
frame after a stream's terminal event (in the same chunk, in a later one, after the client
has gone, never forwarded), a non-stream body's `cost`, and the usage row built from the
record (upstream cost first, else the price table; one entry per attempt after a fallback)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import orjson
import pytest

from crossway.config.settings import BackendSettings, KeySpec
from crossway.dialects import registry
from crossway.downstream import MemoryDownstream
from crossway.errors import RateLimited
from crossway.exchange import Exchange
from crossway.observability import prices
from crossway.observability.recorder import to_row
from crossway.observability.records import RequestRecord
from crossway.providers import build_provider
from crossway.relay import Relay
from crossway.relay_stream import TRAILER_WAIT
from crossway.routing.plan import Plan, Target
from crossway.transport.base import UpstreamRequest
from crossway.transport.memory import MemoryTransport, Reply

CHAT = registry.get("openai_chat")
MESSAGES = registry.get("anthropic")
SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


def _target(backend: str, model: str, btype: str = "opencode-go") -> Target:
    provider = build_provider(BackendSettings(
        name=backend, type=btype, api_url=f"http://{backend}.test/v1",
        keys=(KeySpec(f"sk-{backend}-key-0123456789", f"{backend.upper()}_KEY"),)))
    info = provider.lookup(model, explicit=True)
    assert info is not None, model
    return Target(provider.instances[0], info)


def _exchange(client: Any, body: dict[str, Any], *targets: Target) -> Exchange:
    pre = client.preflight(body)
    record = RequestRecord("req_cost", "POST", "/v1/test", client.name)
    record.stream = pre.stream
    return Exchange(client, body, {}, Plan("opencode-go/x", "ses_cost", targets), record,
                    pre.stream, pre.include_usage)


def _chat_body(stream: bool) -> dict[str, Any]:
    return {"model": "opencode-go/x", "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}


def _messages_body(stream: bool) -> dict[str, Any]:
    return {"model": "opencode-go/x", "max_tokens": 100, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "glm-5.1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + orjson.dumps(body) + b"\n\n"


ROLE = _chunk({"role": "assistant", "content": ""})
HELLO = _chunk({"content": "Hello"})
STOP = _chunk({}, "stop", usage={"prompt_tokens": 1000, "completion_tokens": 200,
                                 "total_tokens": 1200})
DONE = b"data: [DONE]\n\n"
# Zen's oa-compat cost chunk, as it sends it after [DONE].
COST = (b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,'
        b'"model":"glm-5.1","choices":[],"cost":"0.0123"}\n\n')


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


MSG_STREAM = [
    _event("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "minimax-m2.7",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    _event("content_block_start", {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "text", "text": ""}}),
    _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": "Hi"}}),
    _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
    _event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                             "usage": {"output_tokens": 3}}),
    _event("message_stop", {"type": "message_stop"}),
]
PING_COST = b'event: ping\ndata: {"type":"ping","cost":"0.0042"}\n\n'


def _run(transport: MemoryTransport, ex: Exchange, down: MemoryDownstream) -> float:
    t0 = time.perf_counter()
    asyncio.run(Relay(transport).handle(ex, down))
    return time.perf_counter() - t0


def _replying(*steps: bytes | float, headers: dict[str, str] = SSE) -> MemoryTransport:
    return MemoryTransport(lambda r: Reply(200, headers, list(steps)))


def test_cost_frame_in_the_same_chunk_as_done_is_read_and_not_forwarded() -> None:
    ex = _exchange(CHAT, _chat_body(True), _target("go-a", "glm-5.1"))
    down = MemoryDownstream()
    _run(_replying(ROLE + HELLO, STOP + DONE + COST), ex, down)
    assert ex.record.attempts[0].cost == pytest.approx(0.0123)
    assert down.closed and b"[DONE]" in down.body and b"cost" not in down.body
    row = to_row(ex.record, time.perf_counter())
    assert row.cost_usd == pytest.approx(0.0123) and row.cost_estimated is False


def test_cost_frame_after_a_pause_is_read_after_the_client_stream_is_closed() -> None:
    ex = _exchange(CHAT, _chat_body(True), _target("go-a", "glm-5.1"))
    down = MemoryDownstream()
    took = _run(_replying(ROLE + HELLO, STOP + DONE, 0.3, COST), ex, down)
    assert ex.record.attempts[0].cost == pytest.approx(0.0123)
    assert took >= 0.3
    # The client's answer ended before the wait for the cost frame, not after it.
    assert ex.record.ended is not None and ex.record.ended - ex.record.started < 0.2
    assert b"cost" not in down.body


def test_cost_frame_is_read_when_the_client_left_at_the_terminal_event() -> None:
    ex = _exchange(CHAT, _chat_body(True), _target("go-a", "glm-5.1"))
    down = MemoryDownstream(gone_after=1)  # takes the first write, then the client is gone
    _run(_replying(ROLE + HELLO, STOP + DONE, 0.05, COST), ex, down)
    assert ex.record.outcome == "client_closed"
    assert ex.record.attempts[0].cost == pytest.approx(0.0123)


def test_anthropic_ping_cost_frame_after_message_stop_fast_and_translated() -> None:
    fast = _exchange(MESSAGES, _messages_body(True), _target("go-a", "minimax-m2.7"))
    down = MemoryDownstream()
    _run(_replying(*MSG_STREAM, PING_COST), fast, down)
    assert fast.record.attempts[0].cost == pytest.approx(0.0042)
    assert b"0.0042" not in down.body and b"message_stop" in down.body
    # An OpenAI client on the /messages upstream: decoded and re-encoded, cost still read.
    translated = _exchange(CHAT, _chat_body(True), _target("go-a", "minimax-m2.7"))
    down = MemoryDownstream()
    _run(_replying(*MSG_STREAM, PING_COST), translated, down)
    assert not translated.record.attempts[0].fast
    assert translated.record.attempts[0].cost == pytest.approx(0.0042)
    assert b"0.0042" not in down.body and down.body.endswith(b"data: [DONE]\n\n")


def test_waiting_for_a_cost_frame_that_never_comes_is_bounded() -> None:
    ex = _exchange(CHAT, _chat_body(True), _target("go-a", "glm-5.1"))
    down = MemoryDownstream()
    took = _run(_replying(ROLE + HELLO, STOP + DONE, 30.0, COST), ex, down)
    assert TRAILER_WAIT <= took < TRAILER_WAIT + 1.0
    assert down.closed and ex.record.outcome == "ok"
    # No figure from the upstream: the row is priced from the table and says so.
    row = to_row(ex.record, time.perf_counter())
    expected = prices.estimate_cost("opencode-go", "glm-5.1", input_tokens=1000,
                                    output_tokens=200)
    assert expected is not None and row.cost_usd == pytest.approx(expected)
    assert row.cost_estimated is True


UNARY = {"id": "chatcmpl-1", "object": "chat.completion", "model": "glm-5.1",
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "Hello"}}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
         "cost": "0.0007"}


@pytest.mark.parametrize("client", ["chat", "messages"])
def test_unary_cost_is_read_from_the_body(client: str) -> None:
    dialect, body = (CHAT, _chat_body(False)) if client == "chat" else \
        (MESSAGES, _messages_body(False))
    ex = _exchange(dialect, body, _target("go-a", "glm-5.1"))
    down = MemoryDownstream()
    _run(_replying(orjson.dumps(UNARY), headers=JSON), ex, down)
    assert ex.record.attempts[0].cost == pytest.approx(0.0007)
    out = json.loads(down.body)
    # Forwarded as Zen answers it on the fast path; a translated body has no such field.
    assert ("cost" in out) is (client == "chat")


def test_fallback_keeps_one_entry_per_attempt_in_the_row() -> None:
    def handler(req: UpstreamRequest) -> Reply:
        if req.url.startswith("http://go-a.test"):
            return Reply(500, JSON, [b'{"type":"error","error":{"type":"server_error",'
                                     b'"message":"boom"}}'])
        return Reply(200, SSE, [ROLE + HELLO, STOP + DONE + COST])

    ex = _exchange(CHAT, _chat_body(True), _target("go-a", "glm-5.1"),
                   _target("zen-b", "glm-5.1", btype="opencode-zen"))
    ex.record.status = 200
    _run(MemoryTransport(handler), ex, MemoryDownstream())
    row = to_row(ex.record, time.perf_counter())
    assert row.attempts == 2 and row.fallbacks == 1
    assert row.instance == "zen-b" and row.backend_type == "opencode-zen"
    first, second = row.attempt_list()
    assert first["target"] == "go-a:glm-5.1" and first["failure"] == "upstream_status"
    assert first["status"] == 500 and first["duration_ms"] >= 0
    assert second["target"] == "zen-b:glm-5.1" and second["failure"] is None
    assert second["cost_usd"] == pytest.approx(0.0123)
    assert row.cost_usd == pytest.approx(0.0123) and not row.cost_estimated
    assert row.input_tokens == 1000 and row.output_tokens == 200


def test_a_lone_clean_attempt_stores_no_json_and_reads_back_from_the_row() -> None:
    """Most rows: one attempt that answered with the client's status. The row's own
    columns describe it (no JSON built per request); anything else keeps its JSON."""
    ex = _exchange(CHAT, _chat_body(True), _target("go-a", "glm-5.1"))
    _run(_replying(ROLE + HELLO, STOP + DONE + COST), ex, MemoryDownstream())
    ex.record.status = 200
    row = to_row(ex.record, time.perf_counter())
    assert row.attempts_json is None and row.attempts == 1
    assert row.attempt_list() == [{
        "target": "go-a:glm-5.1", "dialect": "openai_chat", "fast": True, "status": 200,
        "failure": None, "error_class": None, "duration_ms": None, "ttfb_ms": None,
        "cost_usd": pytest.approx(0.0123)}]

    failed = _exchange(CHAT, _chat_body(False), _target("go-a", "glm-5.1"))
    with pytest.raises(RateLimited):  # the edge renders it for the client
        _run(MemoryTransport(lambda r: Reply(429, JSON, [
            b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'])),
            failed, MemoryDownstream())
    failed.record.status = 429
    row = to_row(failed.record, time.perf_counter())
    assert row.attempts_json is not None
    (only,) = row.attempt_list()
    assert only["failure"] is not None and only["status"] == 429
    assert only["duration_ms"] is not None and only["duration_ms"] >= 0


def test_rows_made_a_column_at_a_time_equal_rows_made_one_by_one() -> None:
    """rowbatch.py makes the rows of plain records (one clean attempt, usage, first byte,
    outcome ok) a column at a time; a batch with others in it keeps its order. Every row
    must equal what to_row makes of the same record."""
    from crossway.observability import rowbatch
    from crossway.observability.live import LiveStats
    from crossway.observability.quota import QuotaMeter
    from crossway.observability.recorder import Recorder
    from crossway.observability.rows import client_family

    def served(stream: bool, cost: bool, agent: str | None, key: str | None,
               where: tuple[str, str] = ("go-a", "glm-5.1")) -> Any:
        ex = _exchange(CHAT, _chat_body(stream), _target(*where))
        tail = STOP + DONE + (COST if cost else b"")
        reply = _replying(ROLE + HELLO, tail) if stream else _replying(
            orjson.dumps({**UNARY, **({} if cost else {"cost": None})}), headers=JSON)
        _run(reply, ex, MemoryDownstream())
        ex.record.user_agent, ex.record.key_id, ex.record.session_id = agent, key, "ses_x"
        ex.record.status = 200
        ex.record.mark_first_byte()
        ex.record.mark_ended()
        return ex.record

    plain = [served(s, c, a, k) for s in (True, False) for c in (True, False)
             for a, k in ((None, None), ("claude-cli/2.1.329 (external, sdk-cli)", "team-a"),
                          ("OpenAI/Python 1.99.0", None))]
    failed = _exchange(CHAT, _chat_body(False), _target("go-a", "glm-5.1"))
    with pytest.raises(RateLimited):
        _run(MemoryTransport(lambda r: Reply(429, JSON, [
            b'{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}'])),
            failed, MemoryDownstream())
    failed.record.status, failed.record.outcome = 429, "error"
    failed.record.mark_ended()
    assert rowbatch.plain_columns(plain) is not None and not rowbatch.plain(failed.record)
    assert rowbatch.plain_columns([*plain, failed.record]) is None
    recorder = Recorder(LiveStats(), None, QuotaMeter(None))

    def one_by_one(records: list[Any]) -> list[Any]:
        return [to_row(r, time.perf_counter(), client_family(r.user_agent or ""),
                       recorder._price_of) for r in records]
    rows, listed = recorder._rows(plain)
    assert list(rows) == one_by_one(plain) and listed == []
    assert {r.cost_estimated for r in rows} == {True, False}  # both ways of costing met
    # A batch whose attempts went to more than one instance and model: no shared column.
    elsewhere = [*plain, served(False, False, None, None, ("go-b", "kimi-k2.6"))]
    rows, listed = recorder._rows(elsewhere)
    assert list(rows) == one_by_one(elsewhere) and listed == []
    assert {r.target for r in rows} == {"go-a:glm-5.1", "go-b:kimi-k2.6"}
    rows, listed = recorder._rows(plain)
    mixed = [*plain[:3], failed.record, *plain[3:]]
    rows, listed = recorder._rows(mixed)
    assert list(rows) == one_by_one(mixed)
    assert listed == [("go-a", "glm-5.1", "upstream_status")]
