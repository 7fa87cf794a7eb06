"""Gemini through the running gateway: Anthropic and OpenAI clients reach `gemini/<model>`
on the fake Gemini server (which enforces Gemini's key, URL, schema and turn rules), stream
and not, text, tools and tool results, thoughts, and errors in the client's dialect."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from crossway.config.settings import BackendSettings, KeySpec
from crossway.providers.gemini import GeminiProvider
from crossway.transport.base import UpstreamRequest
from tests.fakes.gemini import Call, FakeGemini, Reply
from tests.fakes.vertex import FakeVertex
from tests.gateway import Gateway, request
from tests.providers_util import (
    BASH_ANTHROPIC,
    BASH_OPENAI,
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

KEY = "gk-live-key"
MODEL = "gemini/gemini-2.5-flash"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(keys=(KEY,)) as f:
        yield f


@pytest.fixture(scope="module")
def gw(fake: FakeGemini) -> Iterator[Gateway]:
    env = {"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": fake.base_url,
           # a second instance whose key Gemini refuses
           "GEMINI_STALE_API_KEY": "gk-revoked", "GEMINI_STALE_BASE_URL": fake.base_url,
           # instances of their own for rate-limit answers (crossway then rests the key)
           "GEMINI_QA_API_KEY": KEY, "GEMINI_QA_BASE_URL": fake.base_url,
           "GEMINI_QB_API_KEY": KEY, "GEMINI_QB_BASE_URL": fake.base_url}
    with Gateway(env) as g:
        yield g


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


def _hi(**extra: object) -> dict[str, object]:
    return {"model": MODEL, "max_tokens": 256,
            "messages": [{"role": "user", "content": "hi"}], **extra}


def test_anthropic_client_text(gw: Gateway, fake: FakeGemini) -> None:
    fake.script(Reply(text="hello from gemini"))
    status, _, body = messages(gw, _hi())
    assert status == 200, body
    assert body["content"] == [{"type": "text", "text": "hello from gemini"}]
    assert body["model"] == MODEL and body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] > 0
    (rec,) = fake.generations()
    assert rec.headers["x-goog-api-key"] == KEY and "authorization" not in rec.headers
    assert rec.path == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_anthropic_client_stream(gw: Gateway, fake: FakeGemini) -> None:
    fake.script(Reply(text="streamed from gemini", chunks=4))
    status, _, events = messages(gw, _hi(stream=True))
    assert status == 200
    assert anthropic_stream_text(events) == "streamed from gemini"
    assert events[-1][0] == "message_stop"
    (rec,) = fake.generations()
    assert rec.rpc == "streamGenerateContent" and rec.query.get("alt") == "sse"


def test_anthropic_client_tool_loop(gw: Gateway, fake: FakeGemini) -> None:
    fake.script(Reply(calls=[Call("bash", {"cmd": "ls"})]), Reply(text="two files"))
    first = _hi(tools=[BASH_ANTHROPIC], stream=True)
    status, _, events = messages(gw, first)
    assert status == 200
    call_id, name, args = anthropic_stream_tool(events)
    assert (name, args) == ("bash", {"cmd": "ls"}) and call_id
    assistant = [{"type": "tool_use", "id": call_id, "name": "bash", "input": args}]
    result = [{"type": "tool_result", "tool_use_id": call_id, "content": "a.txt b.txt"}]
    status, _, body = messages(gw, _hi(tools=[BASH_ANTHROPIC], messages=[
        {"role": "user", "content": "list"}, {"role": "assistant", "content": assistant},
        {"role": "user", "content": result}]))
    assert status == 200, body
    assert body["content"][0]["text"] == "two files"
    sent = fake.generations()[-1].json
    response = sent["contents"][-1]["parts"][0]["functionResponse"]
    assert response["name"] == "bash"
    # Gemini rejects JSON-schema keywords it does not know; the fake enforces it.
    assert "$schema" not in str(fake.generations()[0].json["tools"])


def test_anthropic_client_thinking(gw: Gateway, fake: FakeGemini) -> None:
    fake.script(Reply(text="42", thoughts="let me think about it"))
    status, _, events = messages(gw, _hi(
        max_tokens=4096, stream=True, thinking={"type": "enabled", "budget_tokens": 2048}))
    assert status == 200
    assert anthropic_stream_thinking(events) == "let me think about it"
    assert anthropic_stream_text(events) == "42"
    config = fake.generations()[0].json["generationConfig"]["thinkingConfig"]
    assert config["includeThoughts"] is True and config["thinkingBudget"] == 2048


def test_openai_client_text_and_stream(gw: Gateway, fake: FakeGemini) -> None:
    fake.script(Reply(text="plain answer"), Reply(text="streamed answer"))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    status, _, data = chat(gw, body)
    assert status == 200, data
    assert data["choices"][0]["message"]["content"] == "plain answer"
    assert data["choices"][0]["finish_reason"] == "stop"
    status, _, events = chat(gw, {**body, "stream": True})
    assert status == 200
    assert openai_stream_text(events) == "streamed answer"
    assert events[-1][1] == "[DONE]"


def test_openai_client_tool_loop(gw: Gateway, fake: FakeGemini) -> None:
    fake.script(Reply(calls=[Call("bash", {"cmd": "pwd"})]), Reply(text="/home"))
    body = {"model": MODEL, "tools": [BASH_OPENAI], "stream": True,
            "messages": [{"role": "user", "content": "where am I"}]}
    status, _, events = chat(gw, body)
    assert status == 200
    call_id, name, args = openai_stream_tool(events)
    assert (name, args) == ("bash", {"cmd": "pwd"})
    follow = {"model": MODEL, "tools": [BASH_OPENAI], "messages": [
        {"role": "user", "content": "where am I"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": "bash", "arguments": '{"cmd": "pwd"}'}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "/home"}]}
    status, _, data = chat(gw, follow)
    assert status == 200, data
    assert data["choices"][0]["message"]["content"] == "/home"


def test_responses_client(gw: Gateway, fake: FakeGemini) -> None:
    fake.script(Reply(text="responses unary"), Reply(text="responses streamed"))
    status, _, data = responses(gw, {"model": MODEL, "input": "hi"})
    assert status == 200, data
    assert responses_text(data) == "responses unary"
    status, _, events = responses(gw, {"model": MODEL, "input": "hi", "stream": True})
    assert status == 200
    assert responses_text(events) == "responses streamed"
    assert events[-1][0] == "response.completed"


def test_quota_error_in_each_dialect(gw: Gateway, fake: FakeGemini) -> None:
    quota = Reply(error=(429, "RESOURCE_EXHAUSTED", "Quota exceeded for metric"),
                  retry_delay="20s")
    fake.script(quota, quota)
    status, headers, body = messages(gw, _hi(model="gemini-qa/gemini-2.5-flash"))
    assert status == 429 and body["error"]["type"] == "rate_limit_error"
    assert "Quota exceeded" in body["error"]["message"]
    assert headers.get("retry-after") == "20"
    status, _, data = chat(gw, {"model": "gemini-qb/gemini-2.5-flash",
                                "messages": [{"role": "user", "content": "x"}]})
    assert status == 429 and "Quota exceeded" in data["error"]["message"]


def test_refused_key_is_said_plainly(gw: Gateway, fake: FakeGemini) -> None:
    status, _, body = messages(gw, _hi(model="gemini-stale/gemini-2.5-flash"))
    # Our upstream key, not the client's: no 401 (Claude Code would ask to log in again).
    assert status == 502, body
    message = body["error"]["message"]
    assert "Gemini rejected the API key" in message and "GEMINI_STALE_API_KEY" in message


def test_unknown_model_is_a_404_from_gemini(gw: Gateway, fake: FakeGemini) -> None:
    status, _, body = messages(gw, _hi(model="gemini/gemini-0-nonexistent"))
    assert status == 404, body
    assert "gemini-0-nonexistent" in body["error"]["message"]


def test_listing_feeds_v1_models(gw: Gateway) -> None:
    wanted = {"gemini/gemini-2.5-pro", "gemini/gemini-3-pro-preview"}
    deadline = time.monotonic() + 10
    while True:
        status, _, raw = request(gw, "GET", "/v1/models?all=1")
        ids = {m["id"] for m in json.loads(raw)["data"]}
        if wanted <= ids or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 200 and wanted <= ids


def test_models_listing_hook(fake: FakeGemini) -> None:
    """The provider's listing request and parser against the fake's real GET /models."""
    provider = GeminiProvider(BackendSettings(
        name="gemini", type="gemini", api_url=fake.base_url, keys=(KeySpec(KEY, "test"),),
        preset="gemini"))
    req = provider.models_request(provider.instances[0])
    assert isinstance(req, UpstreamRequest)
    url = req.url + "?" + "&".join(f"{k}={v}" for k, v in req.params.items())
    with urllib.request.urlopen(urllib.request.Request(url, headers=req.headers)) as resp:
        ids = provider.parse_models(resp.read())
    assert "gemini-2.5-flash" in ids and "gemini-3-pro-preview" in ids
    assert provider.lists_models is True


# ---------------------------------------------------------------- Vertex AI


def _service_account(tmp: Path, lifetime: int = 3599) -> tuple[FakeVertex, dict[str, str]]:
    """A fake Vertex trusting a fresh service account, and the environment of a gateway
    holding that account's key file."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    email = "crossway@proj.iam.gserviceaccount.com"
    fake = FakeVertex((email, public), token_lifetime=lifetime).start()
    creds = tmp / "service-account.json"
    creds.write_text(json.dumps({
        "type": "service_account", "project_id": "proj", "private_key_id": "k1",
        "private_key": private, "client_email": email, "client_id": "1",
        "token_uri": fake.origin + "/token"}))
    base = fake.origin + "/v1/projects/proj/locations/us-central1/publishers/google"
    return fake, {"VERTEX_PROJECT": "proj", "VERTEX_LOCATION": "us-central1",
                  "VERTEX_BASE_URL": base, "GOOGLE_APPLICATION_CREDENTIALS": str(creds)}


@pytest.fixture(scope="module")
def vertex(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeVertex, Gateway]]:
    """Vertex mode of the fake (its URL shape, OAuth bearer tokens from its own token
    endpoint) and a gateway whose Google credentials file points there."""
    fake, env = _service_account(tmp_path_factory.mktemp("gcp"))
    try:
        with Gateway(env) as g:
            yield fake, g
    finally:
        fake.stop()


def test_vertex_with_google_credentials(vertex: tuple[FakeVertex, Gateway]) -> None:
    fake, g = vertex
    fake.script(Reply(text="from vertex"), Reply(text="streamed from vertex"))
    status, _, body = messages(g, _hi(model="vertex/gemini-2.5-flash"))
    assert status == 200, body
    assert body["content"][0]["text"] == "from vertex"
    status, _, events = chat(g, {"model": "vertex/gemini-2.5-flash", "stream": True,
                                 "messages": [{"role": "user", "content": "hi"}]})
    assert status == 200
    assert openai_stream_text(events) == "streamed from vertex"
    first, second = fake.generations()
    assert first.path == ("/v1/projects/proj/locations/us-central1/publishers/google/models/"
                          "gemini-2.5-flash:generateContent")
    assert second.path.endswith(":streamGenerateContent")
    assert len(fake.issued_tokens) == 1  # one token, reused until it expires
    assert first.headers["authorization"] == "Bearer " + fake.issued_tokens[0]
    assert "x-goog-api-key" not in first.headers


def test_vertex_token_renewed_before_it_expires(tmp_path: Path) -> None:
    """A token inside google-auth's refresh window is still used while the next one is
    fetched in the background: no request waits on Google's token endpoint."""
    fake, env = _service_account(tmp_path, lifetime=200)
    try:
        with Gateway(env) as g:
            body = {"model": "vertex/gemini-2.5-flash",
                    "messages": [{"role": "user", "content": "hi"}]}
            assert chat(g, body)[0] == 200
            first = fake.issued_tokens[0]
            assert chat(g, body)[0] == 200
            assert fake.generations()[1].headers["authorization"] == "Bearer " + first
            deadline = time.monotonic() + 10
            while len(fake.issued_tokens) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(fake.issued_tokens) >= 2
    finally:
        fake.stop()
