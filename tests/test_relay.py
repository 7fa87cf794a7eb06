"""The relay and its stream pump through the in-memory transport and downstream: no sockets,
no monkeypatching. Fast and translated paths, commit on first content, failures before and
after the commit, and fallback between two targets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest

from crossway.config.settings import BackendSettings, KeySpec
from crossway.dialects import registry
from crossway.downstream import MemoryDownstream
from crossway.errors import CrosswayError, ServiceUnavailable
from crossway.exchange import Exchange
from crossway.failures import FailureKind, TransportFailure
from crossway.observability.records import RequestRecord
from crossway.providers import build_provider
from crossway.providers.opencode import OpenCodeProvider
from crossway.relay import Relay
from crossway.routing.plan import Plan, Target
from crossway.routing.policy import Health
from crossway.transport.base import UpstreamRequest
from crossway.transport.memory import MemoryTransport, Reply

CHAT = registry.get("openai_chat")
MESSAGES = registry.get("anthropic")
SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


def _target(backend: str, model: str, url: str = "http://up.test/v1") -> Target:
    provider = build_provider(BackendSettings(
        name=backend, type="opencode-go", api_url=url,
        keys=(KeySpec(f"sk-{backend}-key-0123456789", f"{backend.upper()}_KEY"),)))
    info = provider.lookup(model, explicit=True)
    assert info is not None, model
    return Target(provider.instances[0], info)


GLM = ("go-a", "glm-5.1")          # chat/completions upstream
MINIMAX = ("go-a", "minimax-m2.7")  # messages upstream


def _exchange(client: Any, body: dict[str, Any], *targets: Target,
              requested: str = "opencode-go/x") -> Exchange:
    pre = client.preflight(body)
    record = RequestRecord("req_test", "POST", "/v1/test", client.name)
    return Exchange(client, body, {}, Plan(requested, "ses_test", targets), record,
                    pre.stream, pre.include_usage)


def _chat_body(stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": "opencode-go/x", "stream": stream,
            "messages": [{"role": "user", "content": "hi"}], **extra}


def _messages_body(stream: bool = False) -> dict[str, Any]:
    return {"model": "opencode-go/x", "max_tokens": 100, "stream": stream,
            "messages": [{"role": "user", "content": "hi"}]}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "glm-5.1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + orjson.dumps(body) + b"\n\n"


ROLE = _chunk({"role": "assistant", "content": ""})
HELLO = _chunk({"content": "Hello"})
STOP = _chunk({}, "stop")
USAGE = (b'data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":5,'
         b'"completion_tokens":2,"total_tokens":7}}\n\n')
DONE = b"data: [DONE]\n\n"
CHAT_UNARY = {"id": "chatcmpl-1", "object": "chat.completion", "model": "glm-5.1",
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": "Hello"}}],
              "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}


def run(relay: Relay, ex: Exchange, down: MemoryDownstream) -> None:
    asyncio.run(relay.handle(ex, down))


def fails(relay: Relay, ex: Exchange, down: MemoryDownstream) -> CrosswayError:
    with pytest.raises(CrosswayError) as info:
        run(relay, ex, down)
    return info.value


# ---------------------------------------------------------------- unary


def test_fast_path_unary_forwards_and_echoes_the_clients_model() -> None:
    transport = MemoryTransport(lambda r: Reply(200, JSON, [orjson.dumps(CHAT_UNARY)]))
    ex = _exchange(CHAT, _chat_body(temperature=0.5), _target(*GLM), requested="my-model")
    down = MemoryDownstream()
    run(Relay(transport), ex, down)
    sent = json.loads(transport.requests[0].body)
    assert sent["model"] == "glm-5.1" and sent["temperature"] == 0.5
    assert transport.requests[0].url == "http://up.test/v1/chat/completions"
    assert transport.requests[0].headers["x-opencode-session"] == "ses_test"
    assert down.status == 200 and json.loads(down.body)["model"] == "my-model"
    attempt = ex.record.attempts[0]
    assert attempt.fast and attempt.committed and attempt.failure is None
    assert attempt.usage is not None and attempt.usage.output_tokens == 2


def test_translated_unary_anthropic_client_on_chat_upstream() -> None:
    transport = MemoryTransport(lambda r: Reply(200, JSON, [orjson.dumps(CHAT_UNARY)]))
    ex = _exchange(MESSAGES, _messages_body(), _target(*GLM))
    down = MemoryDownstream()
    run(Relay(transport), ex, down)
    assert json.loads(transport.requests[0].body)["messages"] == [
        {"role": "user", "content": "hi"}]
    out = json.loads(down.body)
    assert out["type"] == "message" and out["content"] == [{"type": "text", "text": "Hello"}]
    assert not ex.record.attempts[0].fast


def test_unary_body_that_is_not_json_is_a_protocol_failure() -> None:
    transport = MemoryTransport(lambda r: Reply(200, JSON, [b"<html>oops</html>"]))
    ex = _exchange(CHAT, _chat_body(), _target(*GLM))
    err = fails(Relay(transport), ex, MemoryDownstream())
    assert err.status == 502 and "not JSON" in err.message
    assert ex.record.attempts[0].failure is FailureKind.PROTOCOL


# ---------------------------------------------------------------- streams


def test_fast_path_stream_holds_the_preamble_until_content() -> None:
    transport = MemoryTransport(lambda r: Reply(200, SSE, [ROLE, HELLO, STOP, USAGE, DONE]))
    ex = _exchange(CHAT, _chat_body(stream=True), _target(*GLM))
    down = MemoryDownstream()
    run(Relay(transport), ex, down)
    assert down.streaming and down.closed
    # Role chunk and first content leave together, at the commit (model renamed).
    renamed = (ROLE + HELLO).replace(b'"model":"glm-5.1"', b'"model":"opencode-go/x"')
    assert down.writes[0] == renamed
    assert b"[DONE]" in down.body and b'"usage"' not in down.body  # client did not ask
    assert ex.record.attempts[0].usage is not None


@pytest.mark.parametrize("client", ["chat", "messages"])
def test_stream_ending_before_content_is_an_http_error_on_every_path(client: str) -> None:
    dialect, body = (CHAT, _chat_body(stream=True)) if client == "chat" else \
        (MESSAGES, _messages_body(stream=True))
    transport = MemoryTransport(lambda r: Reply(200, SSE, [ROLE]))  # then EOF
    ex = _exchange(dialect, body, _target(*GLM))
    down = MemoryDownstream()
    err = fails(Relay(transport), ex, down)
    assert err.status >= 500 and down.status is None  # nothing was committed
    assert ex.record.attempts[0].failure is not None


def test_fast_path_error_frame_before_content_is_an_http_error() -> None:
    error = b'data: {"error":{"message":"overloaded, try later","type":"server_error"}}\n\n'
    transport = MemoryTransport(lambda r: Reply(200, SSE, [ROLE, error]))
    ex = _exchange(CHAT, _chat_body(stream=True), _target(*GLM))
    down = MemoryDownstream()
    err = fails(Relay(transport), ex, down)
    assert err.status == 529 and down.status is None


@pytest.mark.parametrize("position", ["before", "after"])
def test_fast_path_frame_that_is_not_json(position: str) -> None:
    bad = b"data: this is not json\n\n"
    body = [ROLE, bad] if position == "before" else [ROLE, HELLO, bad, STOP, DONE]
    transport = MemoryTransport(lambda r: Reply(200, SSE, body))
    ex = _exchange(CHAT, _chat_body(stream=True), _target(*GLM))
    down = MemoryDownstream()
    if position == "before":
        err = fails(Relay(transport), ex, down)
        assert err.status == 502 and down.status is None
        assert ex.record.attempts[0].failure is FailureKind.PROTOCOL
        return
    run(Relay(transport), ex, down)
    frames = [f for f in down.body.split(b"\n\n") if f]
    assert b"data: this is not json" not in down.body  # never forwarded as a frame
    last = json.loads(frames[-1][len(b"data: "):])
    assert "not JSON" in last["error"]["message"]  # an error event the SDK can parse
    assert ex.record.outcome == "upstream_error_mid_stream"
    assert ex.record.attempts[0].failure is FailureKind.PROTOCOL


def test_translated_stream_failure_after_content_is_in_band_and_not_retried() -> None:
    cut = TransportFailure(FailureKind.DISCONNECTED, "connection reset")
    calls: list[UpstreamRequest] = []

    def handler(request: UpstreamRequest) -> Reply:
        calls.append(request)
        return Reply(200, SSE, [ROLE, HELLO, cut])

    ex = _exchange(MESSAGES, _messages_body(stream=True), _target(*GLM), _target("go-b", "glm-5.1"))
    down = MemoryDownstream()
    run(Relay(MemoryTransport(handler)), ex, down)
    assert len(calls) == 1  # no second upstream request after the first byte reached the client
    assert down.streaming and b"event: error" in down.body and b"message_stop" not in down.body
    assert ex.record.attempts[0].failure is FailureKind.DISCONNECTED


def test_tool_arguments_that_are_not_json_end_an_anthropic_stream_with_an_error() -> None:
    call = _chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "Bash", "arguments": '{"command": '}}]})
    rest = _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "ls"}}]})
    transport = MemoryTransport(lambda r: Reply(200, SSE, [ROLE, call, rest,
                                                           _chunk({}, "tool_calls"), DONE]))
    ex = _exchange(MESSAGES, _messages_body(stream=True), _target(*GLM))
    down = MemoryDownstream()
    run(Relay(transport), ex, down)
    assert b"event: error" in down.body and b"not a valid JSON object" in down.body
    assert b"message_stop" not in down.body and b'"stop_reason":"tool_use"' not in down.body


# ---------------------------------------------------------------- fallback


class _Recorder(Health):
    def __init__(self) -> None:
        self.seen: list[tuple[str, FailureKind | None]] = []

    def record(self, attempt: Any) -> None:
        self.seen.append((attempt.target.label, attempt.failure))


def test_fallback_to_the_second_target_before_the_first_byte() -> None:
    def handler(request: UpstreamRequest) -> Reply:
        if "first.test" in request.url:
            raise TransportFailure(FailureKind.CONNECT, "connection refused")
        return Reply(200, SSE, [ROLE, HELLO, STOP, DONE])

    health = _Recorder()
    ex = _exchange(CHAT, _chat_body(stream=True), _target("go-a", "glm-5.1", "http://first.test"),
                   _target("go-b", "glm-5.1", "http://second.test"))
    down = MemoryDownstream()
    run(Relay(MemoryTransport(handler), health=health), ex, down)
    assert b"Hello" in down.body and b"[DONE]" in down.body
    kinds = [a.failure for a in ex.record.attempts]
    assert kinds == [FailureKind.CONNECT, None]
    assert health.seen == [("go-a:glm-5.1", FailureKind.CONNECT), ("go-b:glm-5.1", None)]


def test_fallback_after_an_error_frame_before_content() -> None:
    overloaded = (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                  b'"message":"busy"}}\n\n')
    start = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
             b'"type":"message","role":"assistant","model":"minimax-m2.7","content":[],'
             b'"usage":{"input_tokens":3,"output_tokens":0}}}\n\n')

    def handler(request: UpstreamRequest) -> Reply:
        if "first.test" in request.url:
            return Reply(200, SSE, [start, overloaded])
        return Reply(200, SSE, [ROLE, HELLO, STOP, DONE])

    ex = _exchange(CHAT, _chat_body(stream=True),
                   _target("go-a", "minimax-m2.7", "http://first.test"),
                   _target("go-b", "glm-5.1", "http://second.test"))
    down = MemoryDownstream()
    run(Relay(MemoryTransport(handler)), ex, down)
    assert b"Hello" in down.body and b"busy" not in down.body
    assert [a.failure for a in ex.record.attempts] == [FailureKind.UPSTREAM_STATUS, None]


def test_no_fallback_on_the_clients_own_error() -> None:
    calls: list[str] = []

    def handler(request: UpstreamRequest) -> Reply:
        calls.append(request.url)
        err = {"error": {"message": "messages: bad role", "type": "invalid_request_error"}}
        return Reply(400, JSON, [orjson.dumps(err)])

    ex = _exchange(CHAT, _chat_body(), _target("go-a", "glm-5.1", "http://first.test"),
                   _target("go-b", "glm-5.1", "http://second.test"))
    err = fails(Relay(MemoryTransport(handler)), ex, MemoryDownstream())
    assert err.status == 400 and len(calls) == 1
    assert ex.record.attempts[0].failure is FailureKind.CLIENT_ERROR


def test_every_target_failing_raises_the_last_failure() -> None:
    def handler(request: UpstreamRequest) -> Reply:
        raise TransportFailure(FailureKind.CONNECT_TIMEOUT, "connect timeout")

    ex = _exchange(CHAT, _chat_body(), _target("go-a", "glm-5.1", "http://first.test"),
                   _target("go-b", "glm-5.1", "http://second.test"))
    err = fails(Relay(MemoryTransport(handler)), ex, MemoryDownstream())
    assert err.status == 504 and "go-b" in err.message
    assert [a.failure for a in ex.record.attempts] == [FailureKind.CONNECT_TIMEOUT] * 2


def test_client_leaving_mid_stream_is_recorded_and_stops_the_pump() -> None:
    transport = MemoryTransport(lambda r: Reply(200, SSE, [ROLE, HELLO, 0.01, HELLO, STOP, DONE]))
    ex = _exchange(CHAT, _chat_body(stream=True), _target(*GLM))
    down = MemoryDownstream(gone_after=1)
    run(Relay(transport), ex, down)
    assert ex.record.outcome == "client_closed"
    assert transport.responses[0].released


class _UnsignedProvider(OpenCodeProvider):
    """A provider whose signing step needs what this machine lacks, as Bedrock's does without
    AWS credentials or its optional extra."""

    def sign(self, request: UpstreamRequest, target: Target) -> UpstreamRequest:
        raise ServiceUnavailable(f"backend {self.name} needs pip install 'crossway[bedrock]'")


def test_a_target_whose_provider_cannot_prepare_falls_back() -> None:
    provider = _UnsignedProvider(BackendSettings(
        name="signed", type="opencode-go", api_url="http://first.test",
        keys=(KeySpec("sk-signed-key-0123456789", "SIGNED_KEY"),)))
    info = provider.lookup("glm-5.1", explicit=True)
    assert info is not None
    first = Target(provider.instances[0], info)
    transport = MemoryTransport(lambda r: Reply(200, JSON, [orjson.dumps(CHAT_UNARY)]))
    ex = _exchange(CHAT, _chat_body(), first, _target("go-b", "glm-5.1", "http://second.test"))
    down = MemoryDownstream()
    run(Relay(transport), ex, down)
    assert [r.url for r in transport.requests] == ["http://second.test/chat/completions"]
    assert [a.failure for a in ex.record.attempts] == [FailureKind.UNSUPPORTED, None]
    assert "crossway[bedrock]" in (ex.record.attempts[0].error or "")
