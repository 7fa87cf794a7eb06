"""The fake OpenCode upstream's /responses route enforces OpenAI's Responses rules (spec B9),
and crossway's openai_responses codec holds a multi-turn conversation against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai._models import construct_type
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent

from crossway import ir
from crossway.dialects import Capabilities, anthropic, openai_chat, openai_responses
from crossway.dialects.sse import SSEParser
from tests.fakes.opencode import FAKE_COST, MISSING_SESSION_MESSAGE, FakeOpenCode, Reply
from tests.fakes.opencode_wire import ToolCallSpec
from tests.fakes.test_fake_opencode import KEY, Resp, assert_bad, post, request

PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files.",
               "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}
SHELL = {"type": "function", "name": "exec_command", "strict": False,
         "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}
INCLUDE = ["reasoning.encrypted_content"]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenCode]:
    with FakeOpenCode(tier="go") as fake:
        yield fake


@pytest.fixture
def go(server: FakeOpenCode) -> FakeOpenCode:
    server.reset()
    return server


def responses(fake: FakeOpenCode, body: dict[str, Any]) -> Resp:
    return post(fake, "responses", {"model": "gpt-5.6-luna", **body})


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def call(call_id: str = "call_1") -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": "exec_command",
            "arguments": '{"cmd":"ls"}'}


def output(call_id: str = "call_1", kind: str = "function_call_output") -> dict[str, Any]:
    return {"type": kind, "call_id": call_id, "output": "a.txt"}


def stream_events(resp: Resp) -> list[dict[str, Any]]:
    assert resp.status == 200, resp.raw
    return [json.loads(d) for _, d in resp.events()]


# ------------------------------------------------------------------------------ route


def test_go_responses_models_and_session(go: FakeOpenCode) -> None:
    for model in ("grok-4.5", "gpt-5.6-luna", "muse-spark-1.2-contributor"):
        assert go.route_of(model) == "responses"
        body = post(go, "responses", {"model": model, "input": "hi"}).json()
        assert body["model"] == model and body["output"][0]["content"][0]["text"] == "echo: hi"
    url = f"{go.base_url}/responses"
    body = {"model": "grok-4.5", "input": "hi"}
    missing = request(url, body, {"authorization": f"Bearer {KEY}"})
    assert missing.status == 400 and missing.error() == ("MissingSessionID",
                                                         MISSING_SESSION_MESSAGE)
    wrong = request(url, body, {"authorization": "Bearer nope", "x-opencode-session": "s"})
    assert wrong.status == 401 and wrong.error()[0] == "AuthError"
    assert go.session_ids == ["ses_0123abcd"] * 3


@pytest.mark.parametrize(("extra", "fragment"), [
    ({"messages": []}, "Unknown parameter: 'messages'."),
    ({"max_tokens": 10}, "Unknown parameter: 'max_tokens'."),
    ({"stop": ["x"]}, "Unknown parameter: 'stop'."),
    ({"max_output_tokens": 1}, "Expected a value >= 16, but got 1 instead."),
    ({"include": ["reasoning.summary"]}, "Invalid value: 'reasoning.summary'. (param: include)"),
    ({"reasoning": {"effort": "max"}}, "Invalid value: 'max'."),
    ({"stream": "yes"}, "Invalid type for 'stream'"),
    ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "'text.format.name'"),
    ({"previous_response_id": "resp_1"}, "Previous response with id 'resp_1' not found."),
])
def test_request_parameters(go: FakeOpenCode, extra: dict[str, Any], fragment: str) -> None:
    assert_bad(responses(go, {"input": "hi", **extra}), fragment)


@pytest.mark.parametrize(("items", "fragment"), [
    ([{"role": "tool", "content": "x"}], "Invalid value: 'tool'."),
    ([{"role": "user", "content": [{"type": "output_text", "text": "x"}]}],
     "Invalid value: 'output_text'. Supported values are: 'input_text', 'input_image', "
     "'input_file'. (param: input[0].content[0].type)"),
    ([{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}],
     "Supported values are: 'output_text', 'refusal'."),
    ([{"role": "user", "content": [{"type": "input_text"}]}],
     "Missing required parameter: 'input[0].content[0].text'."),
    ([{"type": "function_call", "name": "f", "arguments": "{}"}, output()],
     "Missing required parameter: 'input[0].call_id'."),
    ([{**call(), "arguments": {"cmd": "ls"}}, output()],
     "Invalid type for 'input[0].arguments': expected a string."),
    ([{"type": "shell_magic"}], "Invalid value: 'shell_magic'. (param: input[0].type)"),
    ([{"type": "item_reference", "id": "msg_1"}], "Item with id 'msg_1' not found."),
    ([user("go"), output()],
     "No tool call found for function call output with call_id call_1."),
    ([user("go"), call()], "No tool output found for function call call_1."),
    ([call(), output(kind="custom_tool_call_output")],
     "No tool call found for custom tool call output with call_id call_1."),
    ([{"type": "custom_tool_call", "call_id": "c9", "name": "apply_patch", "input": PATCH}],
     "No tool output found for custom tool call c9."),
])
def test_item_rules(go: FakeOpenCode, items: list[Any], fragment: str) -> None:
    assert_bad(responses(go, {"input": items}), fragment)


def test_tool_rules(go: FakeOpenCode) -> None:
    strict = {"type": "function", "name": "exec_command",
              "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}
    assert_bad(responses(go, {"input": "hi", "tools": [strict]}),
               "Invalid schema for function 'exec_command': In context=(), "
               "'additionalProperties' is required to be supplied and to be false.")
    closed = {**strict["parameters"], "additionalProperties": False}  # type: ignore[dict-item]
    assert_bad(responses(go, {"input": "hi", "tools": [{**strict, "parameters": closed}]}),
               "Missing 'cmd'.")
    ok = responses(go, {"input": "hi", "tools": [{**strict, "parameters": {
        **closed, "required": ["cmd"]}}, APPLY_PATCH, {"type": "web_search"}]})
    assert ok.status == 200
    assert_bad(responses(go, {"input": "hi", "tools": [SHELL],
                              "tool_choice": {"type": "custom", "name": "exec_command"}}),
               "Tool choice 'custom' with name 'exec_command' not found in 'tools' parameter.")
    assert_bad(responses(go, {"input": "hi", "tools": [{**APPLY_PATCH, "format": {
        "type": "grammar", "syntax": "ebnf", "definition": "x"}}]}), "syntax 'lark' or 'regex'")


# -------------------------------------------------------------------- encrypted reasoning


def test_encrypted_reasoning_only_its_own(go: FakeOpenCode) -> None:
    go.script(Reply(reasoning="think hard", text="first"), Reply(reasoning="again"))
    plain = responses(go, {"input": "hi"}).json()
    assert "encrypted_content" not in plain["output"][0]  # not asked for
    first = responses(go, {"input": "hi", "include": INCLUDE}).json()
    reasoning = first["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"]
    replay = {"type": "reasoning", "summary": reasoning["summary"],
              "encrypted_content": reasoning["encrypted_content"]}
    answer = {"role": "assistant", "content": [{"type": "output_text", "text": "first"}]}
    history = [user("hi"), replay, answer, user("more")]
    assert responses(go, {"input": history, "include": INCLUDE}).status == 200
    forged = {**replay, "encrypted_content": "gAAAAB-someone-else"}
    assert_bad(responses(go, {"input": [user("hi"), forged, answer]}),
               "The encrypted content gAAAAB-someone-else... could not be verified.")
    stored = {"type": "reasoning", "id": "rs_1", "summary": []}
    assert_bad(responses(go, {"input": [user("hi"), stored, answer]}),
               "Item with id 'rs_1' not found. Items are not persisted when `store` is set "
               "to false.")
    assert_bad(responses(go, {"input": [user("hi"), replay, user("x")]}),
               "of type 'reasoning' was provided without its required following item.")
    assert_bad(responses(go, {"input": [user("hi"), {"type": "reasoning",
                                                     "encrypted_content": "x"}, answer]}),
               "Missing required parameter: 'input[1].summary'.")


# ------------------------------------------------------------------------------ answers


def test_custom_tool_calls_non_stream(go: FakeOpenCode) -> None:
    go.script(Reply(tool_calls=[ToolCallSpec("apply_patch", {"input": PATCH}),
                                ToolCallSpec("exec_command", {"cmd": "ls"})]))
    body = responses(go, {"input": "edit", "tools": [APPLY_PATCH, SHELL]}).json()
    patch, shell = body["output"]
    assert patch["type"] == "custom_tool_call" and patch["input"] == PATCH
    assert shell["type"] == "function_call" and json.loads(shell["arguments"]) == {"cmd": "ls"}
    Response.model_validate(body)
    follow = [user("edit"), {k: patch[k] for k in ("type", "call_id", "name", "input")},
              output(patch["call_id"], "custom_tool_call_output"),
              {k: shell[k] for k in ("type", "call_id", "name", "arguments")},
              output(shell["call_id"])]
    body = responses(go, {"input": follow, "tools": [APPLY_PATCH, SHELL]}).json()
    assert body["output"][0]["content"][0]["text"] == "tool said: a.txt"


def test_stream_event_order(go: FakeOpenCode) -> None:
    go.script(Reply(reasoning="plan it", text="Patching.",
                    tool_calls=[ToolCallSpec("apply_patch", PATCH)]))
    events = stream_events(responses(go, {"input": "edit", "stream": True, "include": INCLUDE,
                                          "tools": [APPLY_PATCH]}))
    assert events[-1] == {"type": "ping", "cost": FAKE_COST}  # Zen's trailing cost frame
    events = events[:-1]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * 3,
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.content_part.added",
        *["response.output_text.delta"] * 3,
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", *["response.custom_tool_call_input.delta"] * 3,
        "response.custom_tool_call_input.done", "response.output_item.done",
        "response.completed",
    ]
    added = [e for e in events if e["type"] == "response.output_item.added"]
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert [e["output_index"] for e in added] == [e["output_index"] for e in done] == [0, 1, 2]
    assert "encrypted_content" not in added[0]["item"]
    assert done[0]["item"]["encrypted_content"].startswith("gAAAAB-fake-")
    deltas = "".join(e["delta"] for e in events
                     if e["type"] == "response.custom_tool_call_input.delta")
    assert deltas == PATCH == done[2]["item"]["input"]
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=[APPLY_PATCH],
                                                          text_format=omit)  # type: ignore[list-item]
    for e in events:
        state.handle_event(construct_type(type_=ResponseStreamEvent, value=e))  # type: ignore[arg-type]
    final = state._completed_response
    assert final is not None and final.output_text == "Patching."


def test_stream_incomplete_and_failure(go: FakeOpenCode) -> None:
    go.script(Reply(text="cut short", finish_reason="length"),
              Reply(text="never finished", stream_failure="error_frame"))
    events = stream_events(responses(go, {"input": "hi", "stream": True}))
    assert events[-2]["type"] == "response.incomplete"
    assert events[-2]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    events = stream_events(responses(go, {"input": "hi", "stream": True}))
    assert events[-1]["type"] == "error" and events[-1]["code"] == "server_error"
    assert not any(e["type"] == "response.completed" for e in events)


# ------------------------------------------------------------ crossway's codec against it


def _turn(fake: FakeOpenCode, req: ir.Request) -> list[ir.StreamEvent]:
    body = openai_responses.encode_request(req, "gpt-5.6-luna",
                                           Capabilities(reasoning_effort=True))
    resp = post(fake, "responses", body)
    assert resp.status == 200, resp.raw
    dec = openai_responses.StreamDecoder()
    items = [e for f in SSEParser().feed(resp.raw) for e in dec.feed(f)] + dec.finish()
    assert isinstance(items[-1], ir.MessageEnd)
    return items


def _assistant(items: list[ir.StreamEvent]) -> ir.Message:
    """The assistant turn a client would keep from a decoded stream."""
    parts: list[ir.Part] = []
    for e in items:
        if isinstance(e, ir.ThinkingDelta):
            parts.append(ir.Thinking(e.text))
        elif isinstance(e, ir.ThinkingEncrypted):
            thinking = parts[-1]
            assert isinstance(thinking, ir.Thinking)
            thinking.encrypted_content = e.encrypted_content
        elif isinstance(e, ir.TextDelta):
            parts.append(ir.Text(e.text))
        elif isinstance(e, ir.ToolCallStart):
            parts.append(ir.ToolCall(e.id, e.name, "", custom=e.custom))
        elif isinstance(e, ir.ToolCallDelta):
            tool = parts[-1]
            assert isinstance(tool, ir.ToolCall)
            tool.arguments += e.arguments
    return ir.Message("assistant", parts)


def test_codec_conversation_against_the_fake(go: FakeOpenCode) -> None:
    """A Codex turn through crossway's codec: custom tool, encrypted reasoning replayed, then
    the same history with a foreign token, which crossway must never have sent."""
    go.script(Reply(reasoning="write the file", tool_calls=[ToolCallSpec("apply_patch", PATCH)]),
              Reply(text="Done."))
    req = openai_responses.decode_request({
        "model": "opencode-go/gpt-5.6-luna", "input": "create hello.txt", "stream": True,
        "tools": [APPLY_PATCH], "include": INCLUDE, "store": False,
        "reasoning": {"effort": "low", "summary": "auto"}})
    first = _turn(go, req)
    turn = _assistant(first)
    call_part = turn.content[-1]
    assert isinstance(call_part, ir.ToolCall) and call_part.custom
    assert json.loads(call_part.arguments) == {"input": PATCH}
    req.messages += [turn, ir.Message("user", [ir.ToolResult(call_part.id, [ir.Text("ok")])])]
    second = _turn(go, req)
    assert "".join(e.text for e in second if isinstance(e, ir.TextDelta)) == "Done."
    sent = go.completions()[-1].json
    assert [i["type"] for i in sent["input"]] == [
        "message", "reasoning", "custom_tool_call", "custom_tool_call_output"]
    assert sent["input"][2]["input"] == PATCH and sent["store"] is False
    thinking = turn.content[0]
    assert isinstance(thinking, ir.Thinking)
    thinking.encrypted_content = "gAAAAB-from-another-upstream"
    assert post(go, "responses", openai_responses.encode_request(
        req, "gpt-5.6-luna", Capabilities())).status == 400


def test_codex_on_a_chat_upstream_through_the_codecs(go: FakeOpenCode) -> None:
    """Codex (Responses) on kimi-k2.6 (chat): apply_patch goes up as a function with one
    string argument and comes back as a custom_tool_call; Kimi's reasoning rides the reasoning
    item's summary and returns as the reasoning_content Kimi demands on tool-call turns."""
    go.script(Reply(reasoning="I will write it", tool_calls=[
        ToolCallSpec("apply_patch", {"input": PATCH})]), Reply(text="Patched."))
    caps = Capabilities(reasoning_replay=True)
    first = {"model": "opencode-go/kimi-k2.6", "input": [user("create hello.txt")],
             "tools": [APPLY_PATCH], "stream": True, "include": INCLUDE, "store": False}
    req = openai_responses.decode_request(first)
    up = post(go, "chat/completions", openai_chat.encode_request(req, "kimi-k2.6", caps))
    dec = openai_chat.StreamDecoder()
    items = [e for f in SSEParser().feed(up.raw) for e in dec.feed(f)] + dec.finish()
    enc = openai_responses.StreamEncoder("opencode-go/kimi-k2.6", request=req)
    events = [json.loads(f.data) for f in SSEParser().feed(b"".join(enc.encode(e)
                                                                    for e in items))]
    final = events[-1]["response"]
    reasoning, patch = final["output"]
    assert reasoning["summary"][0]["text"] == "I will write it"
    assert patch["type"] == "custom_tool_call" and patch["input"] == PATCH
    # Codex's next request: the whole history, items as it received them
    second = {**first, "input": [
        user("create hello.txt"), {**reasoning, "encrypted_content": None},
        patch, {"type": "custom_tool_call_output", "call_id": patch["call_id"],
                "output": "Done!"}]}
    body = openai_chat.encode_request(openai_responses.decode_request(second), "kimi-k2.6",
                                      caps)
    resp = post(go, "chat/completions", body)
    assert resp.status == 200, resp.raw
    sent = go.completions()[-1].json["messages"]
    assert sent[1]["reasoning_content"] == "I will write it"
    assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == {"input": PATCH}
    assert sent[2] == {"role": "tool", "tool_call_id": patch["call_id"], "content": "Done!"}


def test_codex_on_a_messages_upstream_through_the_codecs(go: FakeOpenCode) -> None:
    """Codex on minimax-m2.7 (/messages): the patch comes back as a custom_tool_call, the
    Anthropic signature reaches the client only carried by crossway (in the reasoning item's
    encrypted_content), and the next turn gets it back as MiniMax issued it."""
    go.script(Reply(reasoning="patch time", tool_calls=[
        ToolCallSpec("apply_patch", {"input": PATCH})]), Reply(text="Patched."))
    first = {"model": "opencode-go/minimax-m2.7", "input": "create hello.txt",
             "tools": [APPLY_PATCH, SHELL], "stream": True, "include": INCLUDE}
    req = openai_responses.decode_request(first)
    up = post(go, "messages", anthropic.encode_request(req, "minimax-m2.7", Capabilities()))
    assert up.status == 200, up.raw
    dec = anthropic.StreamDecoder(Capabilities())
    items = [e for f in SSEParser().feed(up.raw) for e in dec.feed(f)] + dec.finish()
    enc = openai_responses.StreamEncoder("opencode-go/minimax-m2.7", request=req)
    raw = b"".join(enc.encode(e) for e in items)
    assert b"fake-sig-" not in raw
    reasoning, patch = json.loads(SSEParser().feed(raw)[-1].data)["response"]["output"]
    assert patch["type"] == "custom_tool_call" and patch["input"] == PATCH
    second = {**first, "input": [user("create hello.txt"), reasoning, patch,
                                 {"type": "custom_tool_call_output",
                                  "call_id": patch["call_id"], "output": "Done!"}]}
    body = anthropic.encode_request(openai_responses.decode_request(second), "minimax-m2.7",
                                    Capabilities())
    resp = post(go, "messages", body)
    assert resp.status == 200, resp.raw
    sent = go.completions()[-1].json["messages"]
    assert [b["type"] for b in sent[1]["content"]] == ["thinking", "tool_use"]
    assert sent[1]["content"][0]["signature"].startswith("fake-sig-")
    assert sent[1]["content"][1]["input"] == {"input": PATCH}
    assert sent[2]["content"][0]["tool_use_id"] == sent[1]["content"][1]["id"]
