"""crossway in front of an upstream that breaks the rules, over real HTTP: each answer below is
one a fuzzing run against crossway found mishandled. The upstream is a plain threaded HTTP
server that checks what OpenCode checks (Bearer key, x-opencode-session) and then answers
the scripted bytes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anthropic
import openai
import pytest

from tests.gateway import Gateway, request

KEY = "sk-test-misbehaving-0123"


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True
    script: list[bytes]
    calls: int


class _Handler(BaseHTTPRequestHandler):
    server: _Upstream

    def log_message(self, *args: object) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        auth_ok = self.headers.get("authorization") == f"Bearer {KEY}" or \
            self.headers.get("x-api-key") == KEY
        if not auth_ok or not self.headers.get("x-opencode-session"):
            self.send_response(401)
            self.end_headers()
            return
        self.server.calls += 1
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        for piece in self.server.script:
            self.wfile.write(piece)
            self.wfile.flush()


@pytest.fixture(scope="module")
def upstream() -> Iterator[_Upstream]:
    server = _Upstream(("127.0.0.1", 0), _Handler)
    server.script, server.calls = [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def gw(upstream: _Upstream) -> Iterator[Gateway]:
    env = {"OPENCODE_GO_API_KEY": KEY,
           "OPENCODE_GO_BASE_URL": f"http://127.0.0.1:{upstream.server_address[1]}/zen/go/v1"}
    with Gateway(env) as gateway:
        yield gateway


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-9", "object": "chat.completion.chunk", "model": "glm-5.1",
            "created": 1, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


ROLE = _chunk({"role": "assistant", "content": ""})


def _post_stream(gw: Gateway, dialect: str) -> tuple[int, bytes]:
    if dialect == "openai":
        body = {"model": "opencode-go/glm-5.1", "stream": True,
                "messages": [{"role": "user", "content": "hi"}]}
        status, _, payload = request(gw, "POST", "/v1/chat/completions",
                                     json.dumps(body).encode(),
                                     {"content-type": "application/json"})
    else:
        body = {"model": "opencode-go/glm-5.1", "stream": True, "max_tokens": 50,
                "messages": [{"role": "user", "content": "hi"}]}
        status, _, payload = request(gw, "POST", "/v1/messages", json.dumps(body).encode(),
                                     {"content-type": "application/json",
                                      "anthropic-version": "2023-06-01"})
    return status, payload


@pytest.mark.parametrize("dialect", ["openai", "anthropic"], ids=["fast-path", "translated"])
def test_stream_ending_after_a_role_chunk_is_a_5xx(
    gw: Gateway, upstream: _Upstream, dialect: str
) -> None:
    upstream.script = [ROLE]
    status, payload = _post_stream(gw, dialect)
    assert 500 <= status < 600, payload
    assert "error" in json.loads(payload)


def test_fast_path_frame_that_is_not_json_never_reaches_the_sdk(
    gw: Gateway, upstream: _Upstream
) -> None:
    upstream.script = [ROLE, _chunk({"content": "Hel"}), b"data: {truncated\n\n",
                       _chunk({"content": "lo"}), _chunk({}, "stop"), b"data: [DONE]\n\n"]
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    got: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(
                model="opencode-go/glm-5.1", stream=True,
                messages=[{"role": "user", "content": "hi"}]):
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)
    assert got == ["Hel"]
    assert "not JSON" in str(info.value)  # an error event, not a JSON decode crash


def test_fast_path_frame_that_is_not_json_before_content_is_a_502(
    gw: Gateway, upstream: _Upstream
) -> None:
    upstream.script = [ROLE, b"data: <html>bad gateway</html>\n\n"]
    status, payload = _post_stream(gw, "openai")
    assert status == 502 and "not JSON" in json.loads(payload)["error"]["message"]


def test_invalid_tool_arguments_never_become_an_empty_object(
    gw: Gateway, upstream: _Upstream
) -> None:
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "Bash", "arguments": '{"command": rm -rf'}}
    upstream.script = [ROLE, _chunk({"tool_calls": [call]}), _chunk({}, "tool_calls"),
                       b"data: [DONE]\n\n"]
    # Anthropic client: no tool_use with made-up input; an error the SDK raises.
    claude = anthropic.Anthropic(base_url=gw.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.APIError) as info, claude.messages.stream(
            model="opencode-go/glm-5.1", max_tokens=50,
            messages=[{"role": "user", "content": "hi"}]) as stream:
        for _ in stream:
            pass
    assert "not a valid JSON object" in str(info.value)
    # OpenAI client: its dialect carries the raw string, passed on exactly as the model sent it.
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    args = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""
        for c in client.chat.completions.create(
            model="opencode-go/glm-5.1", stream=True,
            messages=[{"role": "user", "content": "hi"}])
        if c.choices and c.choices[0].delta.tool_calls)
    assert args == '{"command": rm -rf'
