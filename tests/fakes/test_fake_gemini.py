"""The fake Gemini upstream enforces Gemini's rules; crossway's Gemini codec passes them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from crossway import ir
from crossway.dialects import Capabilities
from crossway.dialects import gemini as G
from crossway.dialects import openai_chat as OC
from crossway.dialects.sse import SSEParser
from tests.fakes.gemini import (
    ALTERNATE,
    BAD_KEY,
    CORRUPTED,
    MISSING_KEY,
    RESPONSE_AFTER_CALL,
    RESPONSE_COUNT,
    Call,
    FakeGemini,
    Reply,
)

KEY = "gk-test-key"
FLASH = "gemini-2.5-flash"
PRO3 = "gemini-3-pro-preview"
HI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
BASH = {"functionDeclarations": [{"name": "bash", "parameters": {
    "type": "OBJECT", "properties": {"cmd": {"type": "STRING"}}, "required": ["cmd"]}}]}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(keys=(KEY,)) as f:
        yield f


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)

    def error(self) -> tuple[int, str, str]:
        err = self.json()["error"]
        return err["code"], err["status"], err["message"]


def call(fake: FakeGemini, path: str, body: Any = None, *, key: str | None = KEY,
         method: str | None = None, query: str = "") -> Resp:
    url = fake.base_url + path + (f"?{query}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    req.add_header("content-type", "application/json")
    if key is not None:
        req.add_header("x-goog-api-key", key)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return Resp(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Resp(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def gen(fake: FakeGemini, body: Any, model: str = FLASH, **kw: Any) -> Resp:
    return call(fake, f"/models/{model}:generateContent", body, **kw)


def rejected(resp: Resp, status: int = 400) -> str:
    assert resp.status == status, resp.raw
    code, _, message = resp.error()
    assert code == status
    return message


# ---------------------------------------------------------------- auth and URL


def test_auth_header_or_query_key(fake: FakeGemini) -> None:
    assert gen(fake, HI).status == 200
    assert gen(fake, HI, key=None, query=f"key={KEY}").status == 200
    missing = gen(fake, HI, key=None)
    assert missing.status == 403 and missing.error() == (403, "PERMISSION_DENIED", MISSING_KEY)
    wrong = gen(fake, HI, key="nope")
    assert wrong.error() == (400, "INVALID_ARGUMENT", BAD_KEY)
    assert wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_model_and_method_in_the_path(fake: FakeGemini) -> None:
    message = rejected(gen(fake, HI, model="gemini-9-ultra"), 404)
    assert message.startswith("models/gemini-9-ultra is not found for API version v1beta")
    assert call(fake, f"/models/{FLASH}:predict", HI).status == 404
    assert call(fake, "/chat/completions", HI).status == 404
    assert fake.requests[0].model == "gemini-9-ultra"
    assert fake.requests[0].rpc == "generateContent"


def test_model_listing_paginates(fake: FakeGemini) -> None:
    first = call(fake, "/models", query="pageSize=3").json()
    assert first["models"][0]["name"] == "models/gemini-2.5-flash"
    rest = call(fake, "/models", query=f"pageSize=3&pageToken={first['nextPageToken']}").json()
    assert len(first["models"]) + len(rest["models"]) == 4 and "nextPageToken" not in rest
    assert "generateContent" in rest["models"][0]["supportedGenerationMethods"]
    assert call(fake, "/models", key=None).status == 403


# ---------------------------------------------------------------- body rules


def test_unknown_fields_are_rejected_in_geminis_words(fake: FakeGemini) -> None:
    message = rejected(gen(fake, {**HI, "max_tokens": 5}))
    assert message == 'Invalid JSON payload received. Unknown name "max_tokens": Cannot find field.'
    message = rejected(gen(fake, {**HI, "generationConfig": {"maxTokens": 5}}))
    assert "Unknown name \"maxTokens\" at 'generation_config'" in message


def test_schema_keywords_gemini_rejects(fake: FakeGemini) -> None:
    decl = {"name": "f", "parameters": {
        "type": "object", "additionalProperties": False, "$schema": "x",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer", "exclusiveMinimum": 0}}}}
    message = rejected(gen(fake, {**HI, "tools": [{"functionDeclarations": [decl]}]}))
    assert message.split("\n") == [
        "Invalid JSON payload received. Unknown name \"additionalProperties\" at "
        "'tools[0].function_declarations[0].parameters': Cannot find field.",
        "Invalid JSON payload received. Unknown name \"$schema\" at "
        "'tools[0].function_declarations[0].parameters': Cannot find field.",
        "Invalid JSON payload received. Unknown name \"exclusiveMinimum\" at "
        "'tools[0].function_declarations[0].parameters.properties[1].value': Cannot find field.",
    ]


@pytest.mark.parametrize(("params", "words"), [
    ({"type": "OBJECT", "properties": {"u": {"type": "STRING", "format": "uri"}}},
     "parameters.properties[u].format: only 'enum' and 'date-time' are supported for STRING"),
    ({"type": "OBJECT", "properties": {"t": {"type": "ARRAY"}}},
     "parameters.properties[t].items: missing field."),
    ({"type": "OBJECT", "properties": {}}, "should be non-empty for OBJECT type"),
    ({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["zz"]},
     "parameters.required[0]: property is not defined"),
    ({"type": ["string", "null"]}, "Proto field is not repeating"),
    ({"type": "OBJECT", "properties": {"a": {"description": "x"}}},
     "parameters.properties[a].type: must be specified when not using one_of, any_of"),
    ({"type": "OBJECT", "properties": {"a": {"type": "INTEGER", "enum": [1, 2]}}},
     "(TYPE_STRING)"),
])
def test_schema_semantics(fake: FakeGemini, params: dict[str, Any], words: str) -> None:
    body = {**HI, "tools": [{"functionDeclarations": [{"name": "f", "parameters": params}]}]}
    assert words in rejected(gen(fake, body))


def test_function_names_at_most_64_characters(fake: FakeGemini) -> None:
    long_name = "mcp__" + "x" * 60
    body = {**HI, "tools": [{"functionDeclarations": [{"name": long_name}]}]}
    assert "Invalid function name" in rejected(gen(fake, body))
    body = {**HI, "tools": [{"functionDeclarations": [{"name": long_name[:64]}]}]}
    assert gen(fake, body).status == 200


def test_roles_and_parts(fake: FakeGemini) -> None:
    two_users = {"contents": [{"role": "user", "parts": [{"text": "a"}]},
                              {"role": "user", "parts": [{"text": "b"}]}]}
    assert rejected(gen(fake, two_users)) == ALTERNATE
    bad_role = {"contents": [{"role": "assistant", "parts": [{"text": "a"}]}]}
    assert rejected(gen(fake, bad_role)) == "Please use a valid role: user, model."
    assert "contents.parts must not be empty" in rejected(
        gen(fake, {"contents": [{"role": "user", "parts": []}]}))
    assert "required oneof field 'data'" in rejected(
        gen(fake, {"contents": [{"role": "user", "parts": [{"thought": True}]}]}))
    assert "contents is not specified" in rejected(gen(fake, {"contents": []}))


def _tool_turns(call_parts: list[dict[str, Any]],
                response_parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"tools": [BASH], "contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": call_parts},
        {"role": "user", "parts": response_parts},
    ]}


def test_function_responses_pair_with_the_previous_calls(fake: FakeGemini) -> None:
    fc = {"functionCall": {"name": "bash", "args": {"cmd": "ls"}}}
    fr = {"functionResponse": {"name": "bash", "response": {"output": "a"}}}
    assert gen(fake, _tool_turns([fc], [fr])).status == 200
    assert rejected(gen(fake, _tool_turns([fc], [fr, fr]))) == RESPONSE_COUNT
    other = {"functionResponse": {"name": "read", "response": {"output": "a"}}}
    assert "names match" in rejected(gen(fake, _tool_turns([fc], [other])))
    lone = {"contents": [{"role": "user", "parts": [fr]}]}
    assert rejected(gen(fake, lone)) == RESPONSE_AFTER_CALL
    not_object = {"functionResponse": {"name": "bash", "response": "a"}}
    assert "google.protobuf.Struct" in rejected(gen(fake, _tool_turns([fc], [not_object])))


def test_thought_signatures_only_the_fakes_own(fake: FakeGemini) -> None:
    fake.script(Reply(calls=[Call("bash", {"cmd": "ls"})]))
    first = gen(fake, {**HI, "tools": [BASH]}, model=PRO3).json()
    part = first["candidates"][0]["content"]["parts"][0]
    sig = part["thoughtSignature"]
    assert sig in fake.issued_signatures()
    fr = {"functionResponse": {"name": "bash", "response": {"output": "a"}}}
    assert gen(fake, _tool_turns([part], [fr]), model=PRO3).status == 200
    forged = {**part, "thoughtSignature": "Zm9yZ2Vk"}
    assert rejected(gen(fake, _tool_turns([forged], [fr]), model=PRO3)) == CORRUPTED
    unsigned = {"functionCall": part["functionCall"]}
    message = rejected(gen(fake, _tool_turns([unsigned], [fr]), model=PRO3))
    assert message.startswith("Function call is missing a thought_signature in functionCall")
    assert "`default_api:bash` , position 2" in message
    assert gen(fake, _tool_turns([unsigned], [fr]), model=FLASH).status == 200  # 2.5: lenient
    skip = {**unsigned, "thoughtSignature": G.SKIP_SIGNATURE}
    assert gen(fake, _tool_turns([skip], [fr]), model=PRO3).status == 200
    garbage = {**unsigned, "thoughtSignature": "not base64!"}
    assert "Base64 decoding failed" in rejected(gen(fake, _tool_turns([garbage], [fr])))


@pytest.mark.parametrize(("model", "config", "words"), [
    (PRO3, {"thinkingLevel": "low", "thinkingBudget": 10}, "only set one of"),
    (FLASH, {"thinkingLevel": "low"}, "not supported for this model"),
    ("gemini-2.5-pro", {"thinkingBudget": 0}, "only works in thinking mode"),
    (PRO3, {"thinkingLevel": "medium"}, "not supported for this model"),
    (PRO3, {"thinking_budget": 5}, 'Unknown name "thinking_budget"'),
])
def test_thinking_config_rules(fake: FakeGemini, model: str, config: dict[str, Any],
                               words: str) -> None:
    body = {**HI, "generationConfig": {"thinkingConfig": config}}
    assert words in rejected(gen(fake, body, model=model))


# ---------------------------------------------------------------- answers


def test_unary_answer_echo_usage_and_thoughts(fake: FakeGemini) -> None:
    body = gen(fake, HI).json()
    cand = body["candidates"][0]
    assert cand["content"] == {"role": "model", "parts": [{"text": "echo: hi"}]}
    assert cand["finishReason"] == "STOP"
    assert body["usageMetadata"]["promptTokenCount"] > 0
    assert body["modelVersion"] == FLASH and body["responseId"]
    fake.script(Reply(text="x", thoughts="ponder"), Reply(text="x", thoughts="ponder"))
    plain = gen(fake, HI).json()["candidates"][0]["content"]["parts"]
    assert not any(p.get("thought") for p in plain)  # thoughts need includeThoughts
    asked = {**HI, "generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
    parts = gen(fake, asked).json()["candidates"][0]["content"]["parts"]
    assert "".join(p["text"] for p in parts if p.get("thought")) == "ponder"


def test_stream_framing_and_json_array(fake: FakeGemini) -> None:
    fake.script(Reply(text="Hello there", chunks=3))
    resp = call(fake, f"/models/{FLASH}:streamGenerateContent", HI, query="alt=sse")
    assert resp.headers["content-type"].startswith("text/event-stream")
    frames = resp.raw.split(b"\r\n\r\n")
    assert frames[-1] == b"" and all(f.startswith(b"data: ") for f in frames[:-1])
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == \
        "Hello there"
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    array = call(fake, f"/models/{FLASH}:streamGenerateContent", HI).json()
    assert isinstance(array, list) and array[-1]["candidates"][0]["finishReason"] == "STOP"


def test_scripted_errors_blocks_and_unexpected_calls(fake: FakeGemini) -> None:
    fake.script(Reply(error=(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota"),
                      retry_delay="20s"),
                Reply(block_prompt="SAFETY"),
                Reply(calls=[Call("undeclared")]))
    err = gen(fake, HI)
    assert err.error() == (429, "RESOURCE_EXHAUSTED", "You exceeded your current quota")
    assert err.json()["error"]["details"][0]["retryDelay"] == "20s"
    assert gen(fake, HI).json()["promptFeedback"] == {"blockReason": "SAFETY"}
    assert gen(fake, HI).json()["candidates"][0]["finishReason"] == "UNEXPECTED_TOOL_CALL"


# ---------------------------------------------------------------- crossway's codec vs the fake


def _stream(fake: FakeGemini, body: dict[str, Any], model: str) -> list[ir.StreamEvent]:
    resp = call(fake, G.request_path(model, True), body)
    assert resp.status == 200, resp.raw
    parser, dec = SSEParser(), G.StreamDecoder()
    events = [e for ev in parser.feed(resp.raw) for e in dec.feed(ev)]
    return events + [e for ev in parser.flush() for e in dec.feed(ev)] + dec.finish()


def test_codec_agent_loop_through_the_fake(fake: FakeGemini) -> None:
    """Two tool steps and an answer on Gemini 3, signatures kept by crossway across turns."""
    caps = Capabilities()
    tool = ir.Tool("bash", "Run a command", {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"cmd": {"type": "string", "format": "uri", "minLength": 1}},
        "required": ["cmd"], "additionalProperties": False})
    request = ir.Request(model=PRO3, messages=[ir.Message("user", [ir.Text("list files")])],
                         tools=[tool], thinking=ir.ThinkingConfig("enabled", effort="high"))
    fake.script(Reply(thoughts="I should look.", calls=[Call("bash", {"cmd": "ls"})]),
                Reply(calls=[Call("bash", {"cmd": "pwd"}), Call("bash", {"cmd": "id"})]),
                Reply(text="Found a.txt in /home."))
    steps = 0
    for _ in range(3):
        steps += 1
        resp = call(fake, G.request_path(PRO3, False), G.encode_request(request, PRO3, caps))
        assert resp.status == 200, resp.raw
        answer = G.decode_response(resp.json())
        request.messages.append(ir.Message("assistant", list(answer.content)))
        calls = [p for p in answer.content if isinstance(p, ir.ToolCall)]
        if not calls:
            break
        request.messages.append(ir.Message("user", [
            ir.ToolResult(c.id, [ir.Text(f"out {c.arguments}")]) for c in calls]))
    assert steps == 3 and answer.content[-1] == ir.Text("Found a.txt in /home.")
    assert answer.stop_reason == "end_turn"
    sent = fake.generations()[-1].json
    model_turns = [c for c in sent["contents"] if c["role"] == "model"]
    assert all(t["parts"][[("functionCall" in p) for p in t["parts"]].index(True)]
               ["thoughtSignature"] in fake.issued_signatures() for t in model_turns[:2])


def test_codec_stream_through_the_fake(fake: FakeGemini) -> None:
    fake.script(Reply(text="streamed words here", thoughts="hmm", chunks=4))
    request = ir.Request(model=FLASH, messages=[ir.Message("user", [ir.Text("hi")])],
                         thinking=ir.ThinkingConfig("enabled", budget_tokens=1024))
    events = _stream(fake, G.encode_request(request, FLASH, Capabilities()), FLASH)
    assert isinstance(events[0], ir.MessageStart)
    assert "".join(e.text for e in events if isinstance(e, ir.ThinkingDelta)) == "hmm"
    assert "".join(e.text for e in events if isinstance(e, ir.TextDelta)) == \
        "streamed words here"
    end = events[-1]
    assert isinstance(end, ir.MessageEnd) and end.stop_reason == "end_turn"
    assert end.usage.reasoning_tokens == 1 and end.usage.input_tokens > 0


def test_codec_reports_cut_streams_and_safety(fake: FakeGemini) -> None:
    body = G.encode_request(ir.Request(model=FLASH, messages=[
        ir.Message("user", [ir.Text("hi")])]), FLASH, Capabilities())
    fake.script(Reply(text="abcdef", cut_stream=True), Reply(text="abc", finish="SAFETY"))
    cut = _stream(fake, body, FLASH)[-1]
    assert isinstance(cut, ir.StreamError) and "before a finishReason" in cut.message
    blocked = _stream(fake, body, FLASH)[-1]
    assert isinstance(blocked, ir.StreamError) and "safety filters" in blocked.message


def test_codec_reads_the_model_listing(fake: FakeGemini) -> None:
    ids = G.model_ids(call(fake, "/models").json())
    assert ids == ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview",
                   "gemini-3-flash-preview"]


def test_codec_maps_the_fakes_errors(fake: FakeGemini) -> None:
    wrong = gen(fake, HI, key="nope")
    err = G.map_error(G.parse_error(wrong.status, wrong.raw))
    assert err.status == 401 and "API key" in err.message
    fake.script(Reply(error=(503, "UNAVAILABLE", "The model is overloaded. Please try again "
                                                  "later.")))
    busy = gen(fake, HI)
    assert G.map_error(G.parse_error(busy.status, busy.raw)).status == 529


def test_openai_chat_client_loop_through_the_fake(fake: FakeGemini) -> None:
    """An OpenAI-chat client cannot carry signatures: the next Gemini 3 request still passes
    (Google's skip value on the unsigned current-turn call), never a forged signature."""
    chat: dict[str, Any] = {
        "model": PRO3, "messages": [{"role": "user", "content": "where am I?"}],
        "tools": [{"type": "function", "function": {"name": "bash", "parameters": {
            "type": "object", "properties": {"cmd": {"type": "string"}},
            "required": ["cmd"], "additionalProperties": False}}}],
    }
    fake.script(Reply(calls=[Call("bash", {"cmd": "pwd"})]), Reply(text="In /home."))
    body = G.encode_request(OC.decode_request(chat), PRO3, Capabilities())
    first = OC.encode_response(G.decode_response(
        call(fake, G.request_path(PRO3, False), body).json()), PRO3)
    message = first["choices"][0]["message"]
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    tool_call = message["tool_calls"][0]
    chat["messages"] += [message, {"role": "tool", "tool_call_id": tool_call["id"],
                                   "content": "/home"}]
    body = G.encode_request(OC.decode_request(chat), PRO3, Capabilities())
    sent_call = body["contents"][1]["parts"][0]
    assert sent_call["thoughtSignature"] == G.SKIP_SIGNATURE
    second = call(fake, G.request_path(PRO3, False), body)
    assert second.status == 200, second.raw
    answer = OC.encode_response(G.decode_response(second.json()), PRO3)
    assert answer["choices"][0]["message"]["content"] == "In /home."
