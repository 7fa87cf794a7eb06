"""The openai SDK's `client.responses` against crossway, in front of the fake OpenCode Go.

Upstream dialect (glm-5.1 on chat/completions, minimax-m2.7 on messages, grok-4.5 on
responses) x `responses.create` / `responses.stream` x text, function tool, custom tool,
tool-output turn, structured output, reasoning, `previous_response_id` continuation, and
errors in the Responses shape. Each test asserts on what the SDK parsed (its own pydantic
models, so a malformed event or body fails there) and on what the upstream received.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.responses import Response

from crossway import signatures
from tests.conftest import ZEN_KEY
from tests.fakes.opencode import FakeOpenCode, FakeUsage, Recorded, Reply, ToolCallSpec
from tests.gateway import Gateway, request

UPSTREAMS = {
    "chat": ("opencode-go/glm-5.1", "glm-5.1", "/chat/completions"),
    "messages": ("opencode-go/minimax-m2.7", "minimax-m2.7", "/messages"),
    "responses": ("opencode-go/grok-4.5", "grok-4.5", "/responses"),
}
CLIENT_KEY = "sk-client-secret-must-not-leak"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
          "additionalProperties": False}
FUNCTION_TOOL = {"type": "function", "name": "get_weather", "description": "Weather for a city",
                 "parameters": SCHEMA, "strict": True}
PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
CUSTOM_TOOL = {"type": "custom", "name": "apply_patch", "description": "Edit files",
               "format": {"type": "grammar", "syntax": "lark",
                          "definition": 'start: "*** Begin Patch" /(.|\\n)*/'}}

params = pytest.mark.parametrize(
    ("upstream", "stream"),
    [(u, s) for u in UPSTREAMS for s in (False, True)],
    ids=[f"{u}-{'stream' if s else 'create'}" for u in UPSTREAMS for s in (False, True)],
)


def _client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=CLIENT_KEY, max_retries=0)


def _run(client: openai.OpenAI, stream: bool, **kw: Any) -> Response:
    if not stream:
        return client.responses.create(**kw)
    with client.responses.stream(**kw) as s:
        types = [event.type for event in s]
        final = s.get_final_response()
    assert types[:2] == ["response.created", "response.in_progress"], types
    assert types[-1] in ("response.completed", "response.incomplete"), types
    return final


def _sent(fake: FakeOpenCode, upstream: str, count: int = 1) -> list[Recorded]:
    sent = fake.completions()
    assert len(sent) == count, [(r.path, r.status) for r in sent]
    _, bare, route = UPSTREAMS[upstream]
    for req in sent:
        assert req.path.endswith(route) and req.status == 200, req.body[:500]
        assert req.json["model"] == bare
        assert req.headers["x-opencode-session"].startswith("ses_")
        assert CLIENT_KEY not in json.dumps(req.headers)
    return sent


def _conversation(req: Recorded, upstream: str) -> list[Any]:
    return req.json["input"] if upstream == "responses" else req.json["messages"]


@params
def test_text(gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text="Hello there, friend.",
                         usage=FakeUsage(prompt_tokens=120, completion_tokens=7,
                                         cached_tokens=40)))
    r = _run(_client(gateway), stream, model=model, instructions="Be brief.",
             input="Say hello", max_output_tokens=200)
    assert r.output_text == "Hello there, friend."
    assert r.status == "completed" and r.model == model and r.id.startswith("resp_")
    assert r.usage is not None and r.usage.output_tokens == 7
    assert r.usage.input_tokens == 120  # Responses input_tokens include cached reads
    assert r.usage.input_tokens_details.cached_tokens == 40
    (req,) = _sent(fake_go, upstream)
    assert "Be brief." in json.dumps(req.json) and "Say hello" in json.dumps(req.json)


@params
def test_function_tool(gateway: Gateway, fake_go: FakeOpenCode, upstream: str,
                       stream: bool) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(tool_calls=[ToolCallSpec("get_weather", {"city": "Paris"})]))
    r = _run(_client(gateway), stream, model=model, input="Weather in Paris?",
             tools=[FUNCTION_TOOL], tool_choice="auto")
    calls = [item for item in r.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert calls[0].call_id
    (req,) = _sent(fake_go, upstream)
    assert "get_weather" in json.dumps(req.json["tools"])


@params
def test_custom_tool_comes_back_as_custom_tool_call(
        gateway: Gateway, fake_go: FakeOpenCode, upstream: str, stream: bool) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(tool_calls=[ToolCallSpec("apply_patch", {"input": PATCH})]))
    r = _run(_client(gateway), stream, model=model, input="Create a.txt",
             tools=[CUSTOM_TOOL, FUNCTION_TOOL])
    assert [item.type for item in r.output] == ["custom_tool_call"], r.output
    call = r.output[0]
    assert call.type == "custom_tool_call" and call.name == "apply_patch"
    assert call.input == PATCH  # the patch itself, never JSON, never plain text
    (req,) = _sent(fake_go, upstream)
    tools = req.json["tools"]
    if upstream == "responses":
        assert tools[0]["type"] == "custom" and tools[0]["format"] == CUSTOM_TOOL["format"]
    else:
        # one required string argument upstream, the grammar where the model reads it
        text = json.dumps(tools[0])
        assert "apply_patch" in text and "Begin Patch" in text


@params
def test_tool_output_turn(gateway: Gateway, fake_go: FakeOpenCode, upstream: str,
                          stream: bool) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text="It is sunny in Paris."))
    r = _run(_client(gateway), stream, model=model, tools=[FUNCTION_TOOL, CUSTOM_TOOL], input=[
        {"role": "user", "content": "Weather in Paris, and create a.txt?"},
        {"type": "function_call", "call_id": "call_w1", "name": "get_weather",
         "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_w1", "output": "sunny, 24C"},
        {"type": "custom_tool_call", "call_id": "call_p1", "name": "apply_patch",
         "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_p1", "output": "Done!"},
    ])
    assert r.output_text == "It is sunny in Paris."
    (req,) = _sent(fake_go, upstream)
    text = json.dumps(_conversation(req, upstream))
    assert "sunny, 24C" in text and "Done!" in text
    if upstream == "chat":
        msgs = req.json["messages"]
        assert [m["role"] for m in msgs] == ["user", "assistant", "tool", "assistant", "tool"]
        assert json.loads(msgs[3]["tool_calls"][0]["function"]["arguments"]) == {"input": PATCH}
    elif upstream == "messages":
        uses = [b for m in req.json["messages"] if m["role"] == "assistant"
                for b in m["content"] if b["type"] == "tool_use"]
        assert [u["input"] for u in uses] == [{"city": "Paris"}, {"input": PATCH}]
    else:
        types = [item.get("type") for item in req.json["input"]]
        assert types[1:] == ["function_call", "function_call_output", "custom_tool_call",
                             "custom_tool_call_output"]


@params
def test_structured_output(gateway: Gateway, fake_go: FakeOpenCode, upstream: str,
                           stream: bool) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(text='{"city": "Paris"}'))
    fmt = {"type": "json_schema", "name": "place", "schema": SCHEMA, "strict": True}
    r = _run(_client(gateway), stream, model=model, input="Where?", text={"format": fmt})
    assert json.loads(r.output_text) == {"city": "Paris"}
    if upstream != "responses":  # (a forwarded answer says what the upstream says)
        assert r.text is not None and r.text.format is not None
        assert r.text.format.type == "json_schema"
    (req,) = _sent(fake_go, upstream)
    if upstream == "chat":
        assert req.json["response_format"]["json_schema"]["schema"] == SCHEMA
    elif upstream == "responses":
        assert req.json["text"]["format"]["schema"] == SCHEMA


@params
def test_reasoning_round_trip(gateway: Gateway, fake_go: FakeOpenCode, upstream: str,
                              stream: bool) -> None:
    """Reasoning reaches the client as a reasoning item; replayed, it reaches the upstream
    that issued it with that upstream's own token (MiniMax's signature, grok's encrypted
    content), never one another upstream or crossway made."""
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(reasoning="Checking the map.", text="Paris."),
                   Reply(text="Still Paris."))
    client = _client(gateway)
    kw: dict[str, Any] = {"model": model, "reasoning": {"effort": "high", "summary": "auto"},
                          "include": ["reasoning.encrypted_content"], "store": False}
    r = _run(client, stream, input="Capital of France?", **kw)
    assert [item.type for item in r.output] == ["reasoning", "message"]
    reasoning = r.output[0]
    assert reasoning.type == "reasoning"
    assert "".join(s.text for s in reasoning.summary) == "Checking the map."
    if upstream == "chat":
        assert reasoning.encrypted_content is None  # GLM's reasoning has no token
    else:
        # MiniMax's signature, grok's state (on the fast path too): carried by crossway with
        # the model that issued it, never bare
        carried = signatures.unwrap(reasoning.encrypted_content)
        assert carried is not None and carried.issuer == UPSTREAMS[upstream][1]
        assert carried.kind == ("signature" if upstream == "messages" else "encrypted")
    history = [{"role": "user", "content": "Capital of France?"},
               *[item.model_dump(exclude_none=True) for item in r.output],
               {"role": "user", "content": "Sure?"}]
    r2 = _run(client, stream, input=history, **kw)
    assert r2.output_text == "Still Paris."
    _, second = _sent(fake_go, upstream, 2)
    if upstream == "messages":
        thinking = second.json["messages"][1]["content"][0]
        assert thinking["type"] == "thinking" and thinking["signature"].startswith("fake-sig-")
    elif upstream == "responses":
        item = second.json["input"][1]
        assert item["type"] == "reasoning"
        assert item["encrypted_content"].startswith("gAAAAB-fake-")


@pytest.mark.parametrize("upstream", list(UPSTREAMS))
def test_previous_response_id_continues_the_conversation(
        gateway: Gateway, fake_go: FakeOpenCode, upstream: str) -> None:
    model = UPSTREAMS[upstream][0]
    fake_go.script(Reply(tool_calls=[ToolCallSpec("get_weather", {"city": "Oslo"})]),
                   Reply(text="Cold in Oslo."), Reply(text="Bring a coat."))
    client = _client(gateway)
    first = client.responses.create(model=model, input="Weather in Oslo?", tools=[FUNCTION_TOOL])
    (call,) = [item for item in first.output if item.type == "function_call"]
    # streamed, with only the tool output and the id of the answer it continues
    second = _run(client, True, model=model, previous_response_id=first.id, tools=[FUNCTION_TOOL],
                  input=[{"type": "function_call_output", "call_id": call.call_id,
                          "output": "-5C"}])
    assert second.output_text == "Cold in Oslo."
    third = client.responses.create(model=model, previous_response_id=second.id,
                                    input="What should I wear?")
    assert third.output_text == "Bring a coat."
    sent = _sent(fake_go, upstream, 3)
    convo = json.dumps(_conversation(sent[2], upstream))
    for text in ("Weather in Oslo?", "-5C", "Cold in Oslo.", "What should I wear?"):
        assert text in convo
    assert client.responses.retrieve(second.id).output_text == "Cold in Oslo."
    client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(second.id)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=model, previous_response_id=second.id, input="again")
    assert info.value.code == "previous_response_not_found"


def test_store_false_keeps_nothing(gateway: Gateway, fake_go: FakeOpenCode) -> None:
    client = _client(gateway)
    fake_go.script(Reply(text="ok"))
    r = client.responses.create(model="opencode-go/glm-5.1", input="hi", store=False)
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve(r.id)
    assert info.value.body["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="opencode-go/glm-5.1", input="more",
                                previous_response_id=r.id)
    assert len(fake_go.completions()) == 1  # the unknown id never reached an upstream


@pytest.mark.parametrize("upstream", list(UPSTREAMS))
def test_upstream_4xx_in_the_responses_shape(gateway: Gateway, fake_go: FakeOpenCode,
                                             upstream: str) -> None:
    fake_go.script(Reply(error=(400, "invalid_request_error", "messages: bad thing here")))
    with pytest.raises(openai.BadRequestError) as info:
        _client(gateway).responses.create(model=UPSTREAMS[upstream][0], input="hi")
    body = info.value.body
    assert isinstance(body, dict) and "bad thing here" in body["message"]
    assert body["type"] == "invalid_request_error"


def test_door_rejects_a_malformed_body_in_the_responses_shape(gateway: Gateway) -> None:
    status, headers, payload = request(
        gateway, "POST", "/v1/responses", b'{"model": "opencode-go/glm-5.1", "input": 5}',
        {"content-type": "application/json"})
    assert status == 400 and headers["x-should-retry"] == "false"
    err = json.loads(payload)["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == "input"


@pytest.mark.parametrize("upstream", list(UPSTREAMS))
def test_mid_stream_failure_is_response_failed(gateway: Gateway, fake_go: FakeOpenCode,
                                               upstream: str) -> None:
    fake_go.script(Reply(text="a long answer that breaks", chunks=4,
                         stream_failure="error_frame"))
    client = _client(gateway)
    events = []
    with client.responses.stream(model=UPSTREAMS[upstream][0], input="hi") as s:
        events = list(s)
    types = [e.type for e in events]
    assert "response.output_text.delta" in types, types
    if upstream == "responses":
        # forwarded as the upstream worded it: its own `error` event ends the stream
        assert types[-1] == "error", types
        return
    assert types[-1] == "response.failed", types
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed" and failed.response.error is not None
    assert failed.response.id == events[0].response.id  # type: ignore[union-attr]
    seqs = [e.sequence_number for e in events]
    assert seqs == sorted(set(seqs)), seqs


@pytest.mark.parametrize("path", ["/v1/responses", "/v1/chat/completions"])
def test_zen_gpt_cost_frame_never_reaches_the_client(
        gateway: Gateway, fake_zen: FakeOpenCode, path: str) -> None:
    """Zen serves its GPT models on /responses and appends a cost frame after the terminal
    event (spec A8): a Responses client (same-dialect fast path) and a chat client
    (translated) both get a stream that ends where the upstream's answer ends."""
    fake_zen.script(Reply(text="From gpt on Zen."))
    if path == "/v1/responses":
        body: dict[str, Any] = {"model": "opencode-zen/gpt-5.5", "input": "hi", "stream": True}
    else:
        body = {"model": "opencode-zen/gpt-5.5", "stream": True,
                "messages": [{"role": "user", "content": "hi"}]}
    status, _, payload = request(gateway, "POST", path, json.dumps(body).encode(),
                                 {"content-type": "application/json"})
    assert status == 200, payload
    frames = [json.loads(line[6:]) for line in payload.decode().splitlines()
              if line.startswith("data: {")]
    if path == "/v1/responses":
        text = "".join(f["delta"] for f in frames if f["type"] == "response.output_text.delta")
    else:
        text = "".join(f["choices"][0]["delta"].get("content") or "" for f in frames
                       if f["choices"])
    assert text == "From gpt on Zen."
    assert b'"cost"' not in payload
    if path == "/v1/responses":
        assert payload.rstrip().split(b"\n\n")[-1].startswith(b"event: response.completed")
    else:
        assert payload.rstrip().endswith(b"data: [DONE]")
    (req,) = fake_zen.completions()
    assert req.path.endswith("/responses") and req.json["model"] == "gpt-5.5"
    assert req.headers["authorization"] == "Bearer " + ZEN_KEY


@pytest.mark.parametrize("bare", ["grok-4.5", "gpt-5.6-luna", "muse-spark-1.2-contributor"])
def test_every_go_responses_model_serves_every_client_dialect(
        gateway: Gateway, fake_go: FakeOpenCode, bare: str) -> None:
    model = f"opencode-go/{bare}"
    fake_go.script(Reply(text="via responses"), Reply(text="via chat"),
                   Reply(text="via messages"))
    assert _client(gateway).responses.create(model=model, input="hi").output_text \
        == "via responses"
    chat = _client(gateway).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}])
    assert chat.choices[0].message.content == "via chat"
    status, _, payload = request(gateway, "POST", "/v1/messages", json.dumps(
        {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    ).encode(), {"content-type": "application/json", "anthropic-version": "2023-06-01"})
    assert status == 200 and json.loads(payload)["content"][0]["text"] == "via messages"
    sent = fake_go.completions()
    assert [(r.path.rsplit("/", 1)[-1], r.json["model"], r.status) for r in sent] == \
        [("responses", bare, 200)] * 3
