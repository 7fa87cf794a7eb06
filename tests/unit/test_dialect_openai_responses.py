"""OpenAI Responses codec: golden wire data in, expected data out; client-side output checked
with the openai SDK's own Responses types and stream accumulator (offline)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import openai
import orjson
import pytest
from openai._models import construct_type
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from crossway import ir, signatures
from crossway.dialects import Capabilities, anthropic, openai_chat, openai_responses
from crossway.dialects.openai_responses import passthrough
from crossway.dialects.sse import SSEEvent, SSEParser
from crossway.errors import InvalidRequest, UpstreamError

R = openai_responses
CAPS = Capabilities(reasoning_effort=True)
GRAMMAR = {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files.",
               "format": GRAMMAR}
SHELL = {"type": "function", "name": "exec_command", "description": "Run a command.",
         "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
                        "required": ["cmd"]}, "strict": False}
PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi \"there\"\n*** End Patch\n"
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def codex_body(**extra: Any) -> dict[str, Any]:
    """A Codex-shaped request: developer message, a reasoning + message + calls turn, outputs."""
    return {
        "model": "gpt-5.6-luna",
        "instructions": "You are Codex.",
        "input": [
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "sandbox: none"}]},
            {"type": "message", "id": "msg_u1", **user("fix a.txt")},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Look first."}],
             "encrypted_content": "gAAAenc1"},
            {"type": "message", "role": "assistant", "id": "msg_a1",
             "content": [{"type": "output_text", "text": "Checking."}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_sh1", "name": "exec_command",
             "arguments": '{"cmd":"cat a.txt"}'},
            {"type": "function_call_output", "call_id": "call_sh1", "output": "old"},
            {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_ap1",
             "name": "apply_patch", "input": PATCH},
            {"type": "custom_tool_call_output", "call_id": "call_ap1", "output": "Done!"},
        ],
        "tools": [SHELL, APPLY_PATCH, {"type": "web_search"}],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "thread-1",
        "stream": True,
        **extra,
    }


def ev(obj: Any, name: str | None = None) -> SSEEvent:
    data = obj if isinstance(obj, bytes) else orjson.dumps(obj)
    return SSEEvent(name, data, data)


def decode_stream(events: list[dict[str, Any] | SSEEvent], eof: bool = True) -> list[Any]:
    dec = R.StreamDecoder()
    out: list[Any] = []
    for e in events:
        out.extend(dec.feed(e if isinstance(e, SSEEvent) else ev(e, str(e.get("type")))))
    if eof:
        out.extend(dec.finish())
    return out


def encode_stream(events: list[ir.StreamEvent], request: ir.Request | None = None
                  ) -> list[dict[str, Any]]:
    enc = R.StreamEncoder("my-model", request=request)
    raw = b"".join(enc.encode(e) for e in events)
    frames = SSEParser().feed(raw)
    out = []
    for f in frames:
        obj = orjson.loads(f.data)
        assert f.event == obj["type"]  # Codex and the SDK dispatch on `event:` lines too
        out.append(obj)
    return out


def sdk_final(events: list[dict[str, Any]], tools: list[Any] | None = None) -> Any:
    """Feed events through the openai SDK's stream accumulator; returns its final response."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=tools or [],
                                                          text_format=omit)
    for e in events:
        state.handle_event(construct_type(type_=ResponseStreamEvent, value=e))  # type: ignore[arg-type]
    return state._completed_response


def check_order(events: list[dict[str, Any]]) -> None:
    """sequence numbers 0.., every item added once and done once, indexes distinct."""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["output_index"] for e in events if e["type"] == "response.output_item.done"]
    assert added == done == list(range(len(added)))
    for e in events:
        if e["type"] != "response.failed":  # Codex's error codes are beyond the SDK's enum
            EVENT_ADAPTER.validate_python(e)


# ---------------------------------------------------------------- request decoding


def test_decode_string_input_and_instructions() -> None:
    req = R.decode_request({"model": "grok-4.5", "input": "hello", "instructions": "Be brief."})
    assert req.model == "grok-4.5"
    assert req.system == [ir.Text("Be brief.")]
    assert req.messages == [ir.Message("user", [ir.Text("hello")])]
    assert req.stream is False and req.tools == [] and req.previous_response_id is None


def test_decode_codex_request() -> None:
    req = R.decode_request(codex_body())
    assert [t.text for t in req.system] == ["You are Codex.", "sandbox: none"]
    assert req.messages == [
        ir.Message("user", [ir.Text("fix a.txt")]),
        ir.Message("assistant", [
            ir.Thinking("Look first.", encrypted_content="gAAAenc1"),
            ir.Text("Checking."),
            ir.ToolCall("call_sh1", "exec_command", '{"cmd":"cat a.txt"}'),
        ]),
        ir.Message("user", [ir.ToolResult("call_sh1", [ir.Text("old")])]),
        ir.Message("assistant", [
            ir.ToolCall("call_ap1", "apply_patch", orjson.dumps({"input": PATCH}).decode(),
                        custom=True),
        ]),
        ir.Message("user", [ir.ToolResult("call_ap1", [ir.Text("Done!")])]),
    ]
    shell, patch = req.tools  # web_search (a built-in) is dropped
    assert (shell.kind, shell.name, shell.strict) == ("function", "exec_command", False)
    assert patch.kind == "custom" and patch.custom_format == GRAMMAR
    assert patch.parameters["required"] == ["input"]
    assert "start: begin_patch" in patch.parameters["properties"]["input"]["description"]
    assert req.tool_choice == ir.ToolChoice("auto") and req.parallel_tool_calls is False
    assert req.thinking == ir.ThinkingConfig("enabled", effort="medium", summary="auto")
    assert req.openai_extra == {"prompt_cache_key": "thread-1"}
    assert req.responses_extra == {"include": ["reasoning.encrypted_content"], "store": False}
    assert req.stream is True


def test_decode_options() -> None:
    body = {
        "model": "m", "input": [], "previous_response_id": "resp_1", "max_output_tokens": 50,
        "temperature": 0.5, "top_p": 1, "user": "u1", "metadata": {"k": "v"},
        "text": {"format": {"type": "json_schema", "name": "person", "strict": True,
                            "schema": {"type": "object"}}, "verbosity": "low"},
        "reasoning": {"effort": "none"}, "truncation": "auto",
    }
    req = R.decode_request(body)
    assert req.messages == [] and req.previous_response_id == "resp_1"
    assert (req.max_tokens, req.temperature, req.top_p, req.user) == (50, 0.5, 1.0, "u1")
    assert req.response_format == {"type": "json_schema", "json_schema": {
        "name": "person", "schema": {"type": "object"}, "strict": True}}
    assert req.openai_extra == {}
    assert req.responses_extra == {"truncation": "auto", "metadata": {"k": "v"},
                                   "verbosity": "low"}
    body = R.encode_request(req, "m", CAPS)
    assert body["text"]["verbosity"] == "low" and "verbosity" not in body
    assert body["truncation"] == "auto" and body["metadata"] == {"k": "v"}
    assert "verbosity" not in openai_chat.encode_request(req, "glm-5.1", Capabilities())
    assert req.thinking is not None and req.thinking.type == "disabled"
    cont = R.decode_request({"model": "m", "previous_response_id": "resp_1"})
    assert cont.messages == [] and cont.previous_response_id == "resp_1"
    # Codex's probe: an empty input is one empty user turn.
    assert R.decode_request({"model": "m", "input": []}).messages == [ir.Message("user", [])]


@pytest.mark.parametrize(("choice", "expected", "tools"), [
    ("required", ir.ToolChoice("any"), ["exec_command", "apply_patch"]),
    ({"type": "function", "name": "exec_command"}, ir.ToolChoice("tool", "exec_command"),
     ["exec_command", "apply_patch"]),
    ({"type": "custom", "name": "apply_patch"}, ir.ToolChoice("tool", "apply_patch"),
     ["exec_command", "apply_patch"]),
    ({"type": "allowed_tools", "mode": "required",
      "tools": [{"type": "custom", "name": "apply_patch"}]}, ir.ToolChoice("any"),
     ["apply_patch"]),
])
def test_decode_tool_choice(choice: Any, expected: ir.ToolChoice, tools: list[str]) -> None:
    req = R.decode_request({"model": "m", "input": "x", "tools": [SHELL, APPLY_PATCH],
                            "tool_choice": choice})
    assert req.tool_choice == expected
    assert [t.name for t in req.tools] == tools


PNG = "iVBORw0KGgo="


def test_decode_images_and_files() -> None:
    text_file = "data:text/plain;base64,aGVsbG8gZmlsZQ=="  # "hello file"
    body = {"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"},
        {"type": "input_image", "image_url": "https://example.test/a.png"},
        {"type": "input_file", "filename": "notes.txt", "file_data": text_file},
        {"type": "input_file", "filename": "shot.png", "file_data": PNG},
    ]}, {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": [
            {"type": "input_text", "text": "see"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]}]}
    req = R.decode_request(body)
    assert req.messages[0].content == [
        ir.Image(media_type="image/png", data=PNG),
        ir.Image(url="https://example.test/a.png"),
        ir.Text('<file name="notes.txt">\nhello file\n</file>'),
        ir.Image(media_type="image/png", data=PNG),
    ]
    assert req.messages[2].content == [ir.ToolResult("c1", [
        ir.Text("see"), ir.Image(media_type="image/png", data=PNG)])]


@pytest.mark.parametrize(("body", "param", "fragment"), [
    ({"input": "x"}, "model", "non-empty string"),
    ({"model": "m"}, "input", "string or an array"),
    ({"model": "m", "input": 3}, "input", "string or an array"),
    ({"model": "m", "input": [3]}, "input[0]", "object"),
    ({"model": "m", "input": [{"type": "thing"}]}, "input[0].type", "'thing'"),
    ({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type",
     "send the item itself"),
    ({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f",
                               "arguments": {}}]}, "input[0].arguments", "JSON text"),
    ({"model": "m", "input": [{"type": "function_call_output", "output": "x"}]},
     "input[0].call_id", "non-empty"),
    ({"model": "m", "input": [{"role": "tool", "content": "x"}]}, "input[0].role", "one of"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
     "input[0].content[0].type", "'input_audio'"),
    ({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_file", "filename": "a.pdf", "file_data": "JVBERg=="}]}]},
     "input[0].content[0].file_data", "application/pdf"),
    ({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_file", "file_id": "file-1"}]}]}, "input[0].content[0].file_id",
     "file_data"),
    ({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "data:image/png;base64,!!"}]}]},
     "input[0].content[0].image_url", "data URL"),
    ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens", "positive"),
    ({"model": "m", "input": "x", "temperature": "hot"}, "temperature", "number"),
    ({"model": "m", "input": "x", "stream": "yes"}, "stream", "boolean"),
    ({"model": "m", "input": "x", "background": True}, "background", "not supported"),
    ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation", "previous_resp"),
    ({"model": "m", "input": "x", "tool_choice": {"type": "web_search_preview"}},
     "tool_choice.type", "built-in tool 'web_search_preview'"),
    ({"model": "m", "input": "x", "tool_choice": "sometimes"}, "tool_choice", "'required'"),
    ({"model": "m", "input": "x", "tools": {}}, "tools", "array"),
    ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name", "non-empty"),
    ({"model": "m", "input": "x", "tools": [{"type": "custom", "name": "p", "format": "lark"}]},
     "tools[0].format", "grammar"),
    ({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type",
     "json_schema"),
    ({"model": "m", "input": "x", "reasoning": "high"}, "reasoning", "object"),
    ({"model": "m", "input": "x", "include": "all"}, "include", "array of strings"),
])
def test_decode_request_rejects(body: dict[str, Any], param: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        R.decode_request(body)
    assert exc.value.param == param
    assert fragment in exc.value.message and exc.value.message.startswith(param + ": ")


# ---------------------------------------------------------------- request encoding


def test_encode_request_codex_round_trip() -> None:
    """A Codex history goes to a Responses upstream stateless: no ids, store false."""
    body = R.encode_request(R.decode_request(codex_body()), "gpt-5.6-luna", CAPS)
    assert body["instructions"] == "You are Codex.\n\nsandbox: none"
    assert body["input"] == [
        user("fix a.txt"),
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Look first."}],
         "encrypted_content": "gAAAenc1"},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
        {"type": "function_call", "call_id": "call_sh1", "name": "exec_command",
         "arguments": '{"cmd":"cat a.txt"}'},
        {"type": "function_call_output", "call_id": "call_sh1", "output": "old"},
        {"type": "custom_tool_call", "call_id": "call_ap1", "name": "apply_patch",
         "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "call_ap1", "output": "Done!"},
    ]
    assert body["tools"] == [SHELL, APPLY_PATCH]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is False
    assert body["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]
    assert body["prompt_cache_key"] == "thread-1" and body["stream"] is True


def test_encode_request_from_other_dialects() -> None:
    """Thinking without encrypted content is never forged; limits and flags map."""
    req = ir.Request(
        model="x",
        system=[ir.Text("sys")],
        messages=[
            ir.Message("user", [ir.Text("hi"), ir.Image(url="https://e.test/i.png")]),
            ir.Message("assistant", [ir.Thinking("hmm", signature="claude-sig"),
                                     ir.RedactedThinking("opaque"),
                                     ir.ToolCall("toolu_1", "Bash", "")]),
            ir.Message("user", [ir.ToolResult("toolu_1", [ir.Text("boom")], is_error=True),
                                ir.Text("and now?")]),
            ir.Message("system", [ir.Text("mid-conversation note")]),
        ],
        max_tokens=1, stop=["END"], top_k=5, user="u" * 80,
        tools=[ir.Tool("Bash", None, {"type": "object"}, strict=True)],
        tool_choice=ir.ToolChoice("tool", "Bash"),
        thinking=ir.ThinkingConfig("enabled", budget_tokens=4000),
        response_format={"type": "json_object"},
        openai_extra={"seed": 1, "metadata": {"a": "b"}},
    )
    body = R.encode_request(req, "grok-4.5", Capabilities(parallel_tool_calls=False))
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "hi"},
            {"type": "input_image", "image_url": "https://e.test/i.png", "detail": "auto"}]},
        {"type": "function_call", "call_id": "toolu_1", "name": "Bash", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "[tool error] boom"},
        user("and now?"),
        {"type": "message", "role": "developer",
         "content": [{"type": "input_text", "text": "mid-conversation note"}]},
    ]
    assert body["max_output_tokens"] == 16  # OpenAI's minimum
    assert body["tools"] == [{"type": "function", "name": "Bash",
                              "parameters": {"type": "object"}, "strict": True}]
    assert body["tool_choice"] == {"type": "function", "name": "Bash"}
    assert "reasoning" not in body  # the model takes no reasoning effort (caps)
    assert body["text"] == {"format": {"type": "json_object"}}
    assert body["metadata"] == {"a": "b"}
    for absent in ("stop", "top_k", "seed", "user", "parallel_tool_calls", "stream"):
        assert absent not in body
    capped = R.encode_request(ir.Request("x", [], max_tokens=90000),
                              "m", Capabilities(max_output_tokens=32000))
    assert capped["max_output_tokens"] == 32000
    # budget_tokens 4000 is nearest the medium effort
    assert R.encode_request(req, "m", CAPS)["reasoning"] == {"effort": "medium",
                                                            "summary": "auto"}


def test_custom_tools_reach_other_dialects_as_functions() -> None:
    req = R.decode_request(codex_body())
    chat = openai_chat.encode_request(req, "glm-5.1", Capabilities())
    fn = chat["tools"][1]["function"]
    assert fn["name"] == "apply_patch" and fn["parameters"]["required"] == ["input"]
    calls = [m for m in chat["messages"] if m.get("tool_calls")]
    assert calls[1]["tool_calls"][0]["function"]["arguments"] == orjson.dumps(
        {"input": PATCH}).decode()
    assert chat["messages"][-1] == {"role": "tool", "tool_call_id": "call_ap1",
                                    "content": "Done!"}
    msgs = anthropic.encode_request(req, "minimax-m2.7", Capabilities())
    assert msgs["tools"][1]["input_schema"]["properties"]["input"]["type"] == "string"
    # encrypted reasoning never reaches a non-Responses upstream as a signature
    assert "gAAAenc1" not in orjson.dumps(msgs).decode()
    assert "gAAAenc1" not in orjson.dumps(chat).decode()
    # Responses-only settings stay with Responses upstreams
    assert "store" not in chat and "include" not in chat and "store" not in msgs


def test_anthropic_client_to_responses_upstream() -> None:
    body = {"model": "opencode-go/grok-4.5", "max_tokens": 1000, "messages": [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "ls it", "signature": "sig-from-claude"},
            {"type": "tool_use", "id": "toolu_9", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9",
                                      "content": "a.txt"}]}],
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}]}
    up = R.encode_request(anthropic.decode_request(body), "grok-4.5", CAPS)
    assert [i["type"] for i in up["input"]] == ["message", "function_call",
                                                "function_call_output"]
    assert up["input"][1]["arguments"] == '{"command":"ls"}'
    assert "sig-from-claude" not in orjson.dumps(up).decode()


# ---------------------------------------------------------------- responses


def upstream_body(**extra: Any) -> dict[str, Any]:
    return {
        "id": "resp_up1", "object": "response", "created_at": 1, "status": "completed",
        "model": "gpt-5.6-luna",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [
                {"type": "summary_text", "text": "One."}, {"type": "summary_text", "text": "Two."}],
             "encrypted_content": "gAAAup"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Hi ", "annotations": []},
                         {"type": "output_text", "text": "there", "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_f1", "name": "exec_command",
             "arguments": '{"cmd":"ls"}', "status": "completed"},
            {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c1",
             "name": "apply_patch", "input": PATCH},
        ],
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60},
                  "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 8},
                  "total_tokens": 120},
        **extra,
    }


def test_decode_response() -> None:
    resp = R.decode_response(upstream_body())
    assert (resp.id, resp.model, resp.stop_reason) == ("resp_up1", "gpt-5.6-luna", "tool_use")
    assert resp.content == [
        ir.Thinking("One.\n\nTwo.", encrypted_content="gAAAup"),
        ir.Text("Hi there"),
        ir.ToolCall("call_f1", "exec_command", '{"cmd":"ls"}'),
        ir.ToolCall("call_c1", "apply_patch", orjson.dumps({"input": PATCH}).decode(),
                    custom=True),
    ]
    assert resp.usage == ir.Usage(input_tokens=40, output_tokens=20, cache_read_tokens=60,
                                  reasoning_tokens=8)
    cut = R.decode_response(upstream_body(status="incomplete", output=[],
                                          incomplete_details={"reason": "max_output_tokens"}))
    assert cut.stop_reason == "max_tokens" and cut.content == []


@pytest.mark.parametrize("body", [
    [],
    {"status": "failed", "error": {"code": "server_error", "message": "boom"}, "output": []},
    {"error": {"message": "bad key"}},
    {"status": "completed"},
    {"status": "in_progress", "output": []},
])
def test_decode_response_errors(body: Any) -> None:
    with pytest.raises(UpstreamError):
        R.decode_response(body)


def test_encode_response_parses_with_the_sdk() -> None:
    req = R.decode_request(codex_body())
    resp = ir.Response("chatcmpl-1", "glm-5.1", [
        ir.Thinking("plan", encrypted_content="gAAAx"),
        ir.Text("Sure. "), ir.Text("Patching."),
        ir.ToolCall("functions.apply_patch:0", "apply_patch",
                    orjson.dumps({"input": PATCH}).decode()),
        ir.ToolCall("call_abcdefghijkl", "exec_command", ""),
        ir.RedactedThinking("x"),
    ], "tool_use", ir.Usage(10, 5, 3, 0, 2))
    body = R.encode_response(resp, "opencode-go/glm-5.1", request=req)
    parsed = Response.model_validate(body)
    assert parsed.model == "opencode-go/glm-5.1" and parsed.status == "completed"
    assert parsed.output_text == "Sure. Patching."
    types = [o["type"] for o in body["output"]]
    assert types == ["reasoning", "message", "custom_tool_call", "function_call"]
    reasoning, _, patch, shell = body["output"]
    assert reasoning["encrypted_content"] == "gAAAx"
    assert reasoning["summary"] == [{"type": "summary_text", "text": "plan"}]
    assert patch["input"] == PATCH and patch["call_id"].startswith("call_")
    assert patch["call_id"] != "functions.apply_patch:0"  # Kimi's turn-scoped id, re-minted
    assert shell["call_id"] == "call_abcdefghijkl" and shell["arguments"] == "{}"
    assert body["usage"] == {"input_tokens": 13,
                             "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 0},
                             "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2},
                             "total_tokens": 18}
    assert body["parallel_tool_calls"] is False and body["store"] is False
    assert [t["type"] for t in body["tools"]] == ["function", "custom"]
    # no `include`: no encrypted content; no request: still a valid response
    plain = R.encode_response(resp, "m", request=R.decode_request({"model": "m", "input": "x"}))
    assert "encrypted_content" not in plain["output"][0]
    Response.model_validate(R.encode_response(resp, "m"))


def test_encode_response_max_tokens_is_incomplete() -> None:
    resp = ir.Response("resp_1", "m", [ir.Text("cut")], "max_tokens", ir.Usage(1, 2))
    body = R.encode_response(resp, "m")
    assert body["id"] == "resp_1" and body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    Response.model_validate(body)


# ---------------------------------------------------------------- stream decoding


def fake_upstream_stream() -> list[dict[str, Any]]:
    """The event order a Responses upstream sends (reasoning, text, function, custom call)."""
    resp = {"id": "resp_up", "object": "response", "model": "grok-4.5", "status": "in_progress",
            "output": []}
    rs = {"type": "reasoning", "id": "rs_1", "summary": []}
    msg = {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress",
           "content": []}
    fc = {"type": "function_call", "id": "fc_1", "call_id": "call_f1", "name": "exec_command",
          "arguments": "", "status": "in_progress"}
    ctc = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c1",
           "name": "apply_patch", "input": ""}
    final = {**resp, "status": "completed", "usage": {
        "input_tokens": 50, "input_tokens_details": {"cached_tokens": 10}, "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 57}}
    events = [
        {"type": "response.created", "response": resp},
        {"type": "response.in_progress", "response": resp},
        {"type": "response.output_item.added", "output_index": 0, "item": rs},
        {"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "summary_index": 0},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "A"},
        {"type": "response.reasoning_summary_part.added", "item_id": "rs_1", "summary_index": 1},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "delta": "B"},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {**rs, "summary": [{"type": "summary_text", "text": "A"}],
                  "encrypted_content": "gAAAs"}},
        {"type": "response.output_item.added", "output_index": 1, "item": msg},
        {"type": "response.content_part.added", "item_id": "msg_1", "content_index": 0},
        {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "Hel"},
        {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "lo"},
        {"type": "response.output_text.done", "item_id": "msg_1", "text": "Hello"},
        {"type": "response.output_item.done", "output_index": 1, "item": {**msg}},
        {"type": "response.output_item.added", "output_index": 2, "item": fc},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": '{"cmd"'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": ':"ls"}'},
        {"type": "response.output_item.done", "output_index": 2,
         "item": {**fc, "arguments": '{"cmd":"ls"}'}},
        {"type": "response.output_item.added", "output_index": 3, "item": ctc},
        {"type": "response.custom_tool_call_input.delta", "item_id": "ctc_1",
         "delta": PATCH[:10]},
        {"type": "response.custom_tool_call_input.delta", "item_id": "ctc_1",
         "delta": PATCH[10:]},
        {"type": "response.output_item.done", "output_index": 3, "item": {**ctc, "input": PATCH}},
        {"type": "response.completed", "response": final},
    ]
    index = {"rs_1": 0, "msg_1": 1, "fc_1": 2, "ctc_1": 3}
    summary = 0
    for e in events:
        if "item_id" in e:
            e["output_index"] = index[e["item_id"]]
        if e["type"] == "response.reasoning_summary_part.added":
            summary = e["summary_index"]
        elif e["type"] == "response.reasoning_summary_text.delta":
            e["summary_index"] = summary
        elif e["type"].startswith(("response.output_text.", "response.content_part.")):
            e["content_index"] = 0
            if "part" not in e and e["type"].startswith("response.content_part."):
                e["part"] = {"type": "output_text", "text": "", "annotations": []}
            if e["type"].startswith("response.output_text."):
                e["logprobs"] = []
    return events


def test_stream_decode_golden() -> None:
    events = decode_stream([*fake_upstream_stream(),
                            ev({"type": "ping", "cost": "0.00042"}, "ping"),  # Zen's cost frame
                            ev(b"[DONE]")])
    assert events[0] == ir.MessageStart(id="resp_up", model="grok-4.5")
    assert events[1:] == [
        ir.ThinkingDelta("A"), ir.ThinkingDelta("\n\n"), ir.ThinkingDelta("B"),
        ir.ThinkingEncrypted("gAAAs"),
        ir.TextDelta("Hel"), ir.TextDelta("lo"),
        ir.ToolCallStart("call_f1", "exec_command"),
        ir.ToolCallDelta('{"cmd"'), ir.ToolCallDelta(':"ls"}'),
        ir.ToolCallStart("call_c1", "apply_patch", custom=True),
        ir.ToolCallDelta('{"input":"'),
        ir.ToolCallDelta(orjson.dumps(PATCH[:10]).decode()[1:-1]),
        ir.ToolCallDelta(orjson.dumps(PATCH[10:]).decode()[1:-1]),
        ir.ToolCallDelta('"}'),
        ir.MessageEnd("tool_use", ir.Usage(40, 7, 10, 0, 3)),
    ]
    args = "".join(e.arguments for e in events if isinstance(e, ir.ToolCallDelta))
    assert args.endswith(orjson.dumps({"input": PATCH}).decode())


def test_stream_decode_done_copies_are_authoritative() -> None:
    """A server that sends finished items without deltas still yields every piece."""
    events = decode_stream([
        {"type": "response.created", "response": {"id": "resp_2", "model": "m"}},
        {"type": "response.output_item.done", "output_index": 0, "item": {
            "type": "reasoning", "id": "rs", "summary": [],
            "content": [{"type": "reasoning_text", "text": "raw"}]}},
        {"type": "response.output_item.done", "output_index": 1, "item": {
            "type": "message", "id": "m", "content": [{"type": "output_text", "text": "T"}]}},
        {"type": "response.output_item.done", "output_index": 2, "item": {
            "type": "function_call", "id": "f", "call_id": "call_9", "name": "g",
            "arguments": "{}"}},
        {"type": "response.completed", "response": {"status": "completed"}},
    ])
    assert events[1:] == [ir.ThinkingDelta("raw"), ir.TextDelta("T"),
                          ir.ToolCallStart("call_9", "g"), ir.ToolCallDelta("{}"),
                          ir.MessageEnd("tool_use", ir.Usage())]


def test_stream_decode_incomplete() -> None:
    events = decode_stream([
        {"type": "response.created", "response": {"id": "resp_3"}},
        {"type": "response.output_text.delta", "delta": "cut"},
        {"type": "response.incomplete", "response": {
            "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
            "usage": {"input_tokens": 5, "output_tokens": 9}}},
    ])
    assert events[-1] == ir.MessageEnd("max_tokens", ir.Usage(5, 9))


@pytest.mark.parametrize(("frames", "expected"), [
    ([{"type": "response.created", "response": {}},
      {"type": "response.failed", "response": {"status": "failed", "error": {
          "code": "rate_limit_exceeded", "message": "slow down"}}}],
     ir.StreamError("slow down", "rate_limit_error", 429)),
    ([{"type": "response.created", "response": {}},
      {"type": "error", "code": "server_is_overloaded", "message": "busy", "param": None}],
     ir.StreamError("busy", "overloaded_error", 529)),
    ([{"type": "error", "error": {"code": "server_error", "message": "oops"}}],
     ir.StreamError("oops", "api_error", 502)),
    ([{"type": "response.created", "response": {}},
      {"type": "response.output_text.delta", "delta": "x"}],
     ir.StreamError("upstream stream ended before response.completed")),
    ([{"type": "response.created", "response": {}}, ev(b"[DONE]")],
     ir.StreamError("upstream stream ended before response.completed")),
    ([ev(b"{not json")], ir.StreamError("upstream sent an invalid stream event: b'{not json'")),
    ([{"type": "response.created", "response": {}},
      {"type": "response.output_item.added", "item": {"type": "function_call", "call_id": "c"}}],
     ir.StreamError("upstream sent a function_call without a name")),
    ([{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}],
     ir.StreamError("Overloaded", "overloaded_error", 529)),
    ([{"type": "error", "error": {"type": "rate_limit_error", "message": "wait"}}],
     ir.StreamError("wait", "rate_limit_error", 429)),
])
def test_stream_decode_errors(frames: list[Any], expected: ir.StreamError) -> None:
    events = decode_stream(frames)
    assert events[-1] == expected
    assert sum(isinstance(e, ir.StreamError | ir.MessageEnd) for e in events) == 1


# ---------------------------------------------------------------- stream encoding


def test_stream_encode_order_and_sdk_accumulation() -> None:
    req = R.decode_request(codex_body())
    events = encode_stream([
        ir.MessageStart(id="chatcmpl-x", usage=ir.Usage(5)),
        ir.ThinkingDelta("Let me "), ir.ThinkingDelta("see."), ir.ThinkingEncrypted("gAAAz"),
        ir.TextDelta("\n"), ir.TextDelta("On it."),
        ir.ToolCallStart("call_f1xxxxxxxxxx", "exec_command"),
        ir.ToolCallDelta('{"cmd":'), ir.ToolCallDelta('"ls"}'),
        ir.ToolCallStart("functions.apply_patch:1", "apply_patch"),
        ir.ToolCallDelta('{"input": "' + PATCH[:5]), ir.ToolCallDelta(
            orjson.dumps(PATCH[5:]).decode()[1:] + "}"),
        ir.MessageEnd("tool_use", ir.Usage(5, 30, 100)),
    ], req)
    check_order(events)
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added", "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done", "response.output_item.done",
        "response.completed",
    ]
    by_type = {e["type"]: e for e in events}
    assert by_type["response.output_text.delta"]["delta"] == "\nOn it."  # held whitespace
    assert by_type["response.custom_tool_call_input.done"]["input"] == PATCH
    final = events[-1]["response"]
    assert final["usage"]["input_tokens"] == 105 and final["usage"]["total_tokens"] == 135
    assert final["output"][0]["encrypted_content"] == "gAAAz"
    assert events[0]["response"]["id"] == final["id"]
    parsed = sdk_final(events, codex_body()["tools"])
    assert [o.type for o in parsed.output] == ["reasoning", "message", "function_call",
                                              "custom_tool_call"]
    assert parsed.output[1].content[0].text == "\nOn it."
    assert parsed.output[2].arguments == '{"cmd":"ls"}'
    assert parsed.output[3].input == PATCH


def test_stream_encode_max_tokens_is_incomplete() -> None:
    events = encode_stream([ir.TextDelta("cut sh"), ir.MessageEnd("max_tokens", ir.Usage(1, 9))])
    check_order(events)
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-2]["item"]["status"] == "incomplete"
    assert sdk_final(events) is None  # the SDK completes only on response.completed


def test_stream_encode_errors() -> None:
    early = encode_stream([ir.StreamError("upstream overloaded", "overloaded_error", 529)])
    check_order(early)
    assert [e["type"] for e in early] == ["response.created", "response.in_progress",
                                          "response.failed"]
    assert early[-1]["response"]["error"] == {"code": "server_is_overloaded",
                                              "message": "upstream overloaded"}
    mid = encode_stream([ir.MessageStart(), ir.TextDelta("par"),
                         ir.StreamError("prompt is too long: context exceeded",
                                        "invalid_request_error", 400),
                         ir.TextDelta("ignored")])
    check_order(mid)
    assert mid[-1]["type"] == "response.failed"
    assert mid[-1]["response"]["status"] == "failed"
    assert mid[-1]["response"]["error"]["code"] == "context_length_exceeded"
    assert mid[-1]["response"]["output"][0]["status"] == "incomplete"


def test_stream_encode_thinking_blocks_and_include() -> None:
    # Anthropic signatures end a block: two thinking blocks are two reasoning items.
    events = encode_stream([ir.ThinkingDelta("one"), ir.ThinkingSignature("sig"),
                            ir.ThinkingDelta("two"), ir.ThinkingEncrypted("gAAAq"),
                            ir.ThinkingEncrypted("gAAAr"),
                            ir.MessageEnd("end_turn", ir.Usage())])
    check_order(events)
    items = events[-1]["response"]["output"]
    assert [i["summary"] for i in items] == [[{"type": "summary_text", "text": "one"}],
                                             [{"type": "summary_text", "text": "two"}], []]
    assert [i.get("encrypted_content") for i in items] == [None, "gAAAq", "gAAAr"]
    assert "sig" not in orjson.dumps(items).decode()
    # a client that did not ask for encrypted reasoning does not get it
    req = R.decode_request({"model": "m", "input": "x"})
    events = encode_stream([ir.ThinkingDelta("t"), ir.ThinkingEncrypted("gAAAq"),
                            ir.MessageEnd("end_turn", ir.Usage())], req)
    assert "gAAAq" not in orjson.dumps(events).decode()
    assert sdk_final(events).output[0].type == "reasoning"


# ---------------------------------------------------------------- across dialects


def test_chat_upstream_to_responses_client_custom_tool() -> None:
    """glm on /chat/completions answers the stand-in function; Codex gets a custom call."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
        return ev({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "glm-5.1",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    args = orjson.dumps({"input": PATCH}).decode()
    frames = [chunk({"role": "assistant", "content": ""}),
              chunk({"reasoning_content": "patching"}),
              chunk({"tool_calls": [{"index": 0, "id": "call_zz", "type": "function",
                                     "function": {"name": "apply_patch", "arguments": ""}}]}),
              chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[:7]}}]}),
              chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[7:]}}]}),
              chunk({}, "tool_calls"), ev(b"[DONE]")]
    dec = openai_chat.StreamDecoder()
    items = [e for f in frames for e in dec.feed(f)] + dec.finish()
    events = encode_stream(items, R.decode_request(codex_body()))
    check_order(events)
    call = events[-1]["response"]["output"][-1]
    assert call["type"] == "custom_tool_call" and call["input"] == PATCH
    assert sdk_final(events, codex_body()["tools"]).output[-1].input == PATCH


def test_responses_upstream_to_anthropic_client() -> None:
    """Claude Code on grok-4.5: thinking, text and tool use; encrypted state stays out."""
    dec = R.StreamDecoder(Capabilities())
    items = [out for e in fake_upstream_stream() for out in dec.feed(
        e if isinstance(e, SSEEvent) else ev(e, str(e.get("type"))))]
    enc = anthropic.StreamEncoder("opencode-go/grok-4.5")
    raw = b"".join(enc.encode(e) for e in items)
    frames = [orjson.loads(f.data) for f in SSEParser().feed(raw)]
    types = [f["type"] for f in frames]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    starts = [f["content_block"]["type"] for f in frames if f["type"] == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use", "tool_use"]
    # The encrypted state rides in the signature, carried with its issuer, never raw.
    assert b"gAAAs" not in raw
    sigs = [f["delta"]["signature"] for f in frames if f["type"] == "content_block_delta"
            and f["delta"]["type"] == "signature_delta"]
    assert len(sigs) == 1
    carried = signatures.unwrap(sigs[0])
    assert carried is not None and carried.kind == "encrypted"
    assert carried.token.startswith("gAAAs") and carried.valid_for("encrypted", "grok-4.5")
    deltas = [f["delta"].get("partial_json", "") for f in frames
              if f["type"] == "content_block_delta"]
    # Anthropic clients get a tool call's arguments in one delta, once they are whole.
    assert orjson.loads(deltas[-1]) == {"input": PATCH}


def test_responses_upstream_to_chat_client_non_stream() -> None:
    chat = openai_chat.encode_response(R.decode_response(upstream_body()), "gpt")
    msg = chat["choices"][0]["message"]
    assert msg["content"] == "Hi there" and msg["reasoning_content"] == "One.\n\nTwo."
    assert [c["function"]["name"] for c in msg["tool_calls"]] == ["exec_command", "apply_patch"]
    assert "gAAAup" not in orjson.dumps(chat).decode()


def test_effort_words() -> None:
    req = R.decode_request({"model": "m", "input": "x", "reasoning": {"effort": "xhigh"}})
    assert req.thinking == ir.ThinkingConfig("enabled", effort="max")  # ir spells it max
    assert R.encode_request(req, "m", CAPS)["reasoning"]["effort"] == "xhigh"
    assert R.encode_response(ir.Response("r", "m", [], "end_turn", ir.Usage()), "m",
                             request=req)["reasoning"]["effort"] == "xhigh"
    claude = anthropic.decode_request({"model": "c", "max_tokens": 9, "messages": [
        {"role": "user", "content": "x"}], "output_config": {"effort": "max"}})
    assert R.encode_request(claude, "m", CAPS)["reasoning"]["effort"] == "xhigh"


def test_encode_request_drops_reasoning_without_its_output() -> None:
    """OpenAI rejects a reasoning item not followed by the output it led to."""
    req = ir.Request("m", [ir.Message("user", [ir.Text("a")]),
                           ir.Message("assistant", [ir.Thinking("t", encrypted_content="e")]),
                           ir.Message("user", [ir.Text("b")])])
    assert [i["type"] for i in R.encode_request(req, "m", CAPS)["input"]] == ["message",
                                                                              "message"]


# ---------------------------------------------------------------- fast path


def test_passthrough_body_is_stateless() -> None:
    body = codex_body(max_output_tokens=1, input=[
        user("hi"),
        {"type": "reasoning", "id": "rs_stored", "summary": []},
        {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gAAAe"},
        {"type": "message", "id": "msg_1", "role": "assistant",
         "content": [{"type": "output_text", "text": "x"}]},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"type": "reasoning", "id": "rs_3", "summary": [], "encrypted_content": "gAAAf"},
        user("more"),
    ])
    out = passthrough.passthrough_body(body, model="gpt-5.6-luna",
                                       caps=Capabilities(max_output_tokens=64000), stream=True)
    assert out["model"] == "gpt-5.6-luna" and out["store"] is False
    assert out["include"] == ["reasoning.encrypted_content"]
    assert out["input"] == [
        user("hi"),
        {"type": "reasoning", "summary": [], "encrypted_content": "gAAAe"},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "x"}]},
        user("more"),
    ]
    assert [t["name"] for t in out["tools"]] == ["exec_command", "apply_patch"]
    assert out["max_output_tokens"] == 16 and "reasoning" not in out
    assert body["model"] == "gpt-5.6-luna" and len(body["tools"]) == 3  # not mutated
    assert passthrough.passthrough_ok(body, Capabilities())
    assert not passthrough.passthrough_ok({**body, "previous_response_id": "resp_1"},
                                          Capabilities())


def test_passthrough_stream() -> None:
    def frames(objs: list[dict[str, Any]]) -> list[SSEEvent]:
        raw = b"".join(b"event: " + str(o["type"]).encode() + b"\ndata: " + orjson.dumps(o)
                       + b"\n\n" for o in objs)
        return SSEParser().feed(raw)

    stream = passthrough.ResponsesPassthrough(requested="opencode-go/grok-4.5",
                                              upstream_model="grok-4.5", include_usage=False)
    events = frames([*fake_upstream_stream(), {"type": "ping", "cost": "0.1"}])
    out = [stream.feed(e) for e in events]
    assert stream.content and out[0].startswith(b"event: response.created\n")
    assert b'"model":"opencode-go/grok-4.5"' in out[0] and b'"grok-4.5"' not in out[0]
    first_delta = next(i for i, e in enumerate(events) if b"summary_text.delta" in e.data)
    assert all(o for o in out[:-1]) and out[-1] == b""  # the cost frame is not forwarded
    assert stream.done and stream.error is None
    assert stream.usage == ir.Usage(40, 7, 10, 0, 3)
    check = passthrough.ResponsesPassthrough(requested="m", upstream_model="m",
                                             include_usage=True)
    for e in events[:first_delta]:
        check.feed(e)
    assert not check.content
    check.feed(events[first_delta])
    assert check.content

    failed = passthrough.ResponsesPassthrough(requested="m", upstream_model="m",
                                              include_usage=True)
    for e in frames([{"type": "response.created", "response": {}},
                     {"type": "response.failed", "response": {"error": {
                         "code": "server_is_overloaded", "message": "busy"}}}]):
        failed.feed(e)
    assert failed.done and not failed.content and not failed.protocol_error
    assert failed.error == ir.StreamError("busy", "overloaded_error", 529)
    broken = passthrough.ResponsesPassthrough(requested="m", upstream_model="m",
                                              include_usage=True)
    assert broken.feed(SSEEvent(None, b"{oops", b"data: {oops")) == b""
    assert broken.protocol_error and broken.done


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "x"}, "model"),
    ({"model": "m", "input": 5}, "input"),
    ({"model": "m", "input": ["x"]}, "input[0]"),
    ({"model": "m", "input": "x", "stream": 1}, "stream"),
    ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "m", "input": "x", "tools": {}}, "tools"),
])
def test_preflight_rejects(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        passthrough.preflight_fields(body)
    assert exc.value.param == param


def test_preflight_accepts() -> None:
    assert passthrough.preflight_fields(codex_body()) == ("gpt-5.6-luna", True)


# ---------------------------------------------------------------- the real SDK over HTTP


class _Canned(http.server.BaseHTTPRequestHandler):
    """Answers POST /v1/responses with the bytes the test put on the server."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        payload, ctype = self.server.canned  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def canned() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_openai_sdk_reads_encoded_stream_and_body(
    canned: http.server.ThreadingHTTPServer,
) -> None:
    body = codex_body(stream=False)
    req = R.decode_request(body)
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{canned.server_address[1]}/v1",
                           api_key="x", max_retries=0)
    enc = R.StreamEncoder("my-model", request=req)
    canned.canned = (b"".join(enc.encode(e) for e in [  # type: ignore[attr-defined]
        ir.ThinkingDelta("hmm"), ir.ThinkingEncrypted("gAAAw"), ir.TextDelta("Hi."),
        ir.ToolCallStart("call_123456789012", "apply_patch"),
        ir.ToolCallDelta(orjson.dumps({"input": PATCH}).decode()),
        ir.MessageEnd("tool_use", ir.Usage(3, 4))]), "text/event-stream")
    with client.responses.stream(model="my-model", input="x", tools=[APPLY_PATCH]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == "Hi." and final.usage is not None
    assert final.usage.total_tokens == 7
    assert [o.type for o in final.output] == ["reasoning", "message", "custom_tool_call"]
    assert final.output[2].input == PATCH  # type: ignore[union-attr]
    resp = ir.Response("r", "m", [ir.Text("plain")], "end_turn", ir.Usage(1, 1))
    canned.canned = (orjson.dumps(R.encode_response(resp, "my-model", request=req)),  # type: ignore[attr-defined]
                     "application/json")
    created = client.responses.create(model="my-model", input="x")
    assert created.output_text == "plain" and created.status == "completed"


def test_passthrough_error_frame_keeps_the_response_identity() -> None:
    """A forwarded stream cut off after commit ends with a response.failed the SDK accepts."""
    stream = passthrough.ResponsesPassthrough(requested="m", upstream_model="m",
                                              include_usage=True)
    # created .. text deltas, then the upstream dies
    upstream = [{**e, "sequence_number": n} for n, e in enumerate(fake_upstream_stream()[:12])]
    wire = b"".join(b"event: " + str(e["type"]).encode() + b"\ndata: " + orjson.dumps(e)
                    + b"\n\n" for e in upstream)
    raw = b"".join(stream.feed(f) for f in SSEParser().feed(wire))
    tail = stream.error_frame("upstream stream ended before its terminal event")
    events = [orjson.loads(f.data) for f in SSEParser().feed(raw + tail)]
    failed = events[-1]
    assert failed["type"] == "response.failed" and failed["sequence_number"] == len(upstream)
    assert failed["response"]["id"] == "resp_up"
    assert failed["response"]["error"]["code"] == "server_error"
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=[], text_format=omit)
    for e in events:
        state.handle_event(construct_type(type_=ResponseStreamEvent, value=e))  # type: ignore[arg-type]
    bare = passthrough.ResponsesPassthrough(requested="m", upstream_model="m",
                                            include_usage=True)
    assert orjson.loads(SSEParser().feed(bare.error_frame("x", error_type="rate_limit_error"))[0]
                        .data) == {"type": "error", "code": "rate_limit_exceeded",
                                   "message": "x", "param": None, "sequence_number": 0}


def test_passthrough_carries_encrypted_reasoning_with_its_issuer() -> None:
    """On the fast path too, a client gets encrypted reasoning wrapped with the model that
    issued it, and only that model gets it back (bare); another gets no reasoning item."""
    stream = passthrough.ResponsesPassthrough(requested="opencode-go/grok-4.5",
                                              upstream_model="grok-4.5", include_usage=False)
    raw = b"".join(stream.feed(e) for e in SSEParser().feed(b"".join(
        b"event: " + str(o["type"]).encode() + b"\ndata: " + orjson.dumps(o) + b"\n\n"
        for o in fake_upstream_stream())))
    assert b"gAAAs" not in raw
    frames = [orjson.loads(f.data) for f in SSEParser().feed(raw)]
    done = [f["item"]["encrypted_content"] for f in frames
            if f["type"] == "response.output_item.done" and f["item"]["type"] == "reasoning"]
    final = [i["encrypted_content"] for i in frames[-1]["response"]["output"]
             if i["type"] == "reasoning"]
    assert len(done) == 1 and final in ([], done)  # (this transcript's snapshot is bare)
    carried = signatures.unwrap(done[0])
    assert carried is not None and carried.token.startswith("gAAAs")
    assert carried.valid_for("encrypted", "grok-4.5")

    items = [user("hi"), {"type": "reasoning", "summary": [], "encrypted_content": done[0]},
             {"type": "message", "role": "assistant",
              "content": [{"type": "output_text", "text": "x"}]},
             {"type": "reasoning", "summary": [], "encrypted_content": "gAAAbare"},
             {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}]
    body = codex_body(input=items)
    same = passthrough.passthrough_body(body, model="grok-4.5", caps=Capabilities(),
                                        stream=True)
    assert [i.get("encrypted_content") for i in same["input"] if i.get("type") == "reasoning"] \
        == [carried.token, "gAAAbare"]
    other = passthrough.passthrough_body(body, model="gpt-5.6-luna", caps=Capabilities(),
                                         stream=True)
    assert [i.get("encrypted_content") for i in other["input"] if i.get("type") == "reasoning"] \
        == ["gAAAbare"]
    unary = {"model": "grok-4.5", "output": [{"type": "reasoning", "summary": [],
                                              "encrypted_content": "gAAAu"}]}
    passthrough.passthrough_unary(unary, "opencode-go/grok-4.5")
    assert unary["model"] == "opencode-go/grok-4.5"
    kept = signatures.unwrap(unary["output"][0]["encrypted_content"])
    assert kept == signatures.Carried("encrypted", "grok-4.5", "gAAAu")
