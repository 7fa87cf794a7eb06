"""Amazon Bedrock through the running gateway: SigV4-signed InvokeModel requests (verified by
the fake with botocore), Anthropic's body and events inside AWS event-stream framing, both
client dialects, stream and not, tools, thinking signatures across turns, errors; and a
gateway whose Python lacks the optional extras answers a clear error instead of failing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossway.config.settings import BackendSettings, KeySpec
from crossway.providers.bedrock import BedrockProvider, EventStreamReader
from tests.fakes.bedrock import BAD_SIGNATURE, Call, FakeBedrock, Reply, encode_message
from tests.gateway import Gateway
from tests.providers_util import (
    BASH_ANTHROPIC,
    anthropic_stream_text,
    anthropic_stream_thinking,
    anthropic_stream_tool,
    chat,
    messages,
    openai_stream_text,
    openai_stream_tool,
    responses,
    responses_text,
)

HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
MODEL = "bedrock/" + HAIKU
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDFAKE", "AWS_SECRET_ACCESS_KEY": "fake-secret",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBedrock]:
    with FakeBedrock() as f:
        yield f


@pytest.fixture(scope="module")
def other() -> Iterator[FakeBedrock]:
    """A Bedrock that knows another secret for the same access key."""
    with FakeBedrock(secret_key="another-secret") as f:
        yield f


@pytest.fixture(scope="module")
def gw(fake: FakeBedrock, other: FakeBedrock) -> Iterator[Gateway]:
    env = {**AWS_ENV, "BEDROCK_BASE_URL": fake.origin, "BEDROCK_REGION": "us-east-1",
           "BEDROCK_OTHER_BASE_URL": other.origin, "BEDROCK_OTHER_REGION": "us-east-1",
           "BEDROCK_LIMITED_BASE_URL": fake.origin, "BEDROCK_LIMITED_REGION": "us-east-1"}
    with Gateway(env) as g:
        yield g


@pytest.fixture(autouse=True)
def _clean(fake: FakeBedrock) -> None:
    fake.reset()


def _ask(model: str = MODEL, **extra: object) -> dict[str, object]:
    return {"model": model, "max_tokens": 1024,
            "messages": [{"role": "user", "content": "hi"}], **extra}


def test_anthropic_client_unary(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(text="signed and served"))
    status, _, body = messages(gw, _ask(metadata={"user_id": "u1"}))
    assert status == 200, body
    assert body["content"] == [{"type": "text", "text": "signed and served"}]
    assert body["model"] == MODEL
    (rec,) = fake.invocations()
    assert rec.path == f"/model/{HAIKU}/invoke"
    assert rec.json["anthropic_version"] == "bedrock-2023-05-31"
    assert not {"model", "stream", "metadata"} & set(rec.json)
    assert rec.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFAKE/")
    assert "x-api-key" not in rec.headers


def test_anthropic_client_stream_and_beta_header(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(text="framed by aws"))
    status, _, events = messages(gw, _ask(stream=True),
                                 headers={"anthropic-beta": "context-1m-2025-08-07"})
    assert status == 200, events
    assert anthropic_stream_text(events) == "framed by aws"
    assert events[-1][0] == "message_stop"
    (rec,) = fake.invocations()
    assert rec.path.endswith("/invoke-with-response-stream")
    assert rec.json["anthropic_beta"] == ["context-1m-2025-08-07"]


def test_openai_client_unary_and_stream(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(text="to openai"), Reply(text="streamed to openai"))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    status, _, data = chat(gw, body)
    assert status == 200, data
    assert data["choices"][0]["message"]["content"] == "to openai"
    status, _, events = chat(gw, {**body, "stream": True})
    assert status == 200
    assert openai_stream_text(events) == "streamed to openai"


def test_responses_client(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(text="responses via bedrock"), Reply(text="responses via nova"))
    status, _, events = responses(gw, {"model": MODEL, "input": "hi", "stream": True})
    assert status == 200, events
    assert responses_text(events) == "responses via bedrock"
    status, _, data = responses(gw, {"model": NOVA, "input": "hi"})
    assert status == 200, data
    assert responses_text(data) == "responses via nova"


def test_tool_loop_with_thinking_signatures(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(thinking="I should list files", calls=[Call("bash", {"cmd": "ls"})]),
                Reply(text="two files"))
    thinking = {"type": "enabled", "budget_tokens": 512}
    status, _, events = messages(gw, _ask(tools=[BASH_ANTHROPIC], thinking=thinking,
                                          stream=True))
    assert status == 200, events
    assert anthropic_stream_thinking(events) == "I should list files"
    signature = "".join(d["delta"]["signature"] for e, d in events
                        if e == "content_block_delta" and d["delta"]["type"] == "signature_delta")
    call_id, name, args = anthropic_stream_tool(events)
    assert (name, args) == ("bash", {"cmd": "ls"})
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should list files", "signature": signature},
            {"type": "tool_use", "id": call_id, "name": name, "input": args}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call_id, "content": "a b"}]}]
    status, _, body = messages(gw, _ask(tools=[BASH_ANTHROPIC], thinking=thinking,
                                        messages=history))
    assert status == 200, body  # the fake refuses a signature it did not mint
    assert body["content"][-1]["text"] == "two files"


def test_openai_client_tool_call(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(calls=[Call("bash", {"cmd": "pwd"})]))
    tool = {"type": "function", "function": {"name": "bash", "parameters": {
        "type": "object", "properties": {"cmd": {"type": "string"}}}}}
    status, _, events = chat(gw, {"model": MODEL, "stream": True, "tools": [tool],
                                  "messages": [{"role": "user", "content": "where"}]})
    assert status == 200, events
    assert openai_stream_tool(events)[1:] == ("bash", {"cmd": "pwd"})


def test_model_errors(gw: Gateway, fake: FakeBedrock) -> None:
    status, _, body = messages(gw, _ask("bedrock/anthropic.claude-0-v1:0"))
    assert status == 400 and "model identifier is invalid" in body["error"]["message"]
    status, _, body = messages(gw, _ask("bedrock/anthropic.claude-opus-4-20250514-v1:0"))
    assert status == 403 and "don't have access" in body["error"]["message"]
    status, _, body = messages(gw, _ask("bedrock/meta.llama3-0-nonexistent-v1:0"))
    assert status == 400 and "model identifier is invalid" in body["error"]["message"]


# ---------------------------------------------------------------- Converse (other families)

LLAMA = "bedrock/meta.llama3-70b-instruct-v1:0"
NOVA = "bedrock/amazon.nova-pro-v1:0"


def test_converse_text_both_dialects(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(text="llama speaking"), Reply(text="llama streaming"),
                Reply(text="nova speaking"))
    status, _, body = messages(gw, _ask(LLAMA, system="be brief", temperature=0.3))
    assert status == 200, body
    assert body["content"] == [{"type": "text", "text": "llama speaking"}]
    assert body["stop_reason"] == "end_turn" and body["usage"]["input_tokens"] > 0
    status, _, events = messages(gw, _ask(LLAMA, stream=True))
    assert status == 200, events
    assert anthropic_stream_text(events) == "llama streaming"
    status, _, data = chat(gw, {"model": NOVA, "max_tokens": 50,
                                "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200, data
    assert data["choices"][0]["message"]["content"] == "nova speaking"
    first, second, third = fake.invocations()
    assert first.path == "/model/meta.llama3-70b-instruct-v1:0/converse"
    assert first.json["system"] == [{"text": "be brief"}]
    assert first.json["inferenceConfig"] == {"maxTokens": 1024, "temperature": 0.3}
    assert second.path.endswith("/converse-stream")
    assert third.json["inferenceConfig"] == {"maxTokens": 50}


def test_converse_tool_loop(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(calls=[Call("bash", {"cmd": "ls"})]), Reply(text="listed"))
    tool = {"type": "function", "function": {"name": "bash", "parameters": {
        "type": "object", "properties": {"cmd": {"type": "string"}}}}}
    status, _, events = chat(gw, {"model": NOVA, "stream": True, "tools": [tool],
                                  "messages": [{"role": "user", "content": "files?"}]})
    assert status == 200, events
    call_id, name, args = openai_stream_tool(events)
    assert (name, args) == ("bash", {"cmd": "ls"})
    status, _, data = chat(gw, {"model": NOVA, "tools": [tool], "messages": [
        {"role": "user", "content": "files?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": "bash", "arguments": '{"cmd": "ls"}'}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "a b"}]})
    assert status == 200, data  # the fake checks toolConfig and the toolResult pairing
    assert data["choices"][0]["message"]["content"] == "listed"
    sent = fake.invocations()[-1].json
    assert sent["messages"][-1]["content"] == [
        {"toolResult": {"toolUseId": call_id, "content": [{"text": "a b"}]}}]
    assert sent["toolConfig"]["tools"][0]["toolSpec"]["name"] == "bash"


def test_converse_reasoning(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(text="9", thinking="3 squared"))
    status, _, events = messages(gw, _ask("bedrock/us.deepseek.r1-v1:0", stream=True))
    assert status == 200, events
    assert anthropic_stream_thinking(events) == "3 squared"
    assert anthropic_stream_text(events) == "9"


def test_converse_errors(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(text="partial", stream_exception=("throttlingException", "slow down")))
    status, _, events = chat(gw, {"model": LLAMA, "stream": True,
                                  "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200
    last = [d for _, d in events if isinstance(d, dict) and "error" in d]
    assert last and "slow down" in last[-1]["error"]["message"]
    fake.script(Reply(error=(400, "ValidationException", "Input is too long for requested "
                                                          "model.")))
    status, _, body = messages(gw, _ask(LLAMA))
    assert status == 400 and "too long" in body["error"]["message"]


def test_throttling_in_each_dialect(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(error=(429, "ThrottlingException", "Too many requests, please wait")))
    status, _, body = messages(gw, _ask("bedrock-limited/" + HAIKU))
    assert status == 429 and body["error"]["type"] == "rate_limit_error"
    assert "Too many requests" in body["error"]["message"]


def test_exception_mid_stream(gw: Gateway, fake: FakeBedrock) -> None:
    fake.script(Reply(text="partial answer", stream_exception=(
        "modelStreamErrorException", "the model stopped unexpectedly")))
    status, _, events = messages(gw, _ask(stream=True))
    assert status == 200  # committed at the first text: the failure arrives in-band
    assert events[-1][0] == "error"
    assert "the model stopped unexpectedly" in events[-1][1]["error"]["message"]


def test_signature_checked_by_the_service(gw: Gateway, other: FakeBedrock) -> None:
    status, _, body = messages(gw, _ask("bedrock-other/" + HAIKU))
    assert status == 403, body
    assert BAD_SIGNATURE in body["error"]["message"]


def _shadow(tmp: Path, package: str) -> str:
    """A directory whose `package` fails to import, as it does where it is not installed."""
    pkg = tmp / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f'raise ImportError("No module named {package}")\n')
    return str(tmp)


def test_missing_extras_are_named(tmp_path: Path, fake: FakeBedrock) -> None:
    (tmp_path / "aws").mkdir()
    (tmp_path / "gcp").mkdir()
    path = ":".join((_shadow(tmp_path / "aws", "botocore"),
                     _shadow(tmp_path / "gcp", "google")))
    env = {**AWS_ENV, "PYTHONPATH": path, "BEDROCK_BASE_URL": fake.origin,
           "BEDROCK_REGION": "us-east-1", "VERTEX_PROJECT": "proj",
           "VERTEX_LOCATION": "us-central1", "VERTEX_BASE_URL": fake.origin}
    with Gateway(env) as g:  # start-up does not need the extras
        status, _, body = messages(g, _ask())
        assert status == 503, body
        assert "pip install 'crossway[bedrock]'" in body["error"]["message"]
        status, _, data = chat(g, {"model": "vertex/gemini-2.5-flash",
                                   "messages": [{"role": "user", "content": "hi"}]})
        assert status == 503, data
        assert "pip install 'crossway[vertex]'" in data["error"]["message"]
    assert fake.invocations() == []


# ---------------------------------------------------------------- event-stream framing


def _reader() -> EventStreamReader:
    reader = BedrockProvider(BackendSettings(
        name="bedrock", type="bedrock", api_url="https://bedrock-runtime.us-east-1.amazonaws.com",
        keys=(KeySpec("", "no key needed"),), preset="bedrock")).stream_reader()
    assert isinstance(reader, EventStreamReader)
    return reader


def _chunk(event: dict[str, object]) -> bytes:
    payload = {"bytes": base64.b64encode(json.dumps(event).encode()).decode()}
    return encode_message({":event-type": "chunk", ":content-type": "application/json",
                           ":message-type": "event"}, json.dumps(payload).encode())


def test_frames_split_anywhere_are_read_whole() -> None:
    events = [{"type": "message_start", "message": {"id": "m"}},
              {"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": "héllo"}}]
    wire = b"".join(_chunk(e) for e in events)
    reader = _reader()
    out = [ev for i in range(len(wire)) for ev in reader.feed(wire[i : i + 1])]
    assert [json.loads(ev.data) for ev in out] == events
    assert all(ev.event is None for ev in out)


def test_exception_and_corrupt_frames_become_error_events() -> None:
    reader = _reader()
    exc = encode_message({":message-type": "exception",
                          ":exception-type": "throttlingException"},
                         b'{"message": "slow down"}')
    (ev,) = reader.feed(exc)
    assert ev.event == "error"
    assert json.loads(ev.data)["error"] == {"type": "rate_limit_error",
                                            "message": "Bedrock: slow down"}
    frame = bytearray(_chunk({"type": "ping"}))
    frame[-1] ^= 0xFF  # the message CRC no longer matches
    (bad,) = _reader().feed(bytes(frame))
    assert "malformed event-stream frame" in json.loads(bad.data)["error"]["message"]
