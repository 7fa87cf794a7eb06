"""Gemini native codec (upstream side), tested as data: ir in, wire out; wire in, ir out."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson
import pytest

from crossway import ir, signatures
from crossway.dialects import Capabilities
from crossway.dialects import anthropic as A
from crossway.dialects import gemini as G
from crossway.dialects import openai_chat as OC
from crossway.dialects.sse import SSEParser
from crossway.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    Overloaded,
    RateLimited,
    UpstreamError,
)

CAPS = Capabilities()
PRO3 = "gemini-3-pro-preview"
FLASH25 = "gemini-2.5-flash"


def req(*messages: ir.Message, **over: Any) -> ir.Request:
    r = ir.Request(model="gemini", messages=list(messages))
    for k, v in over.items():
        setattr(r, k, v)
    return r


def user(*parts: ir.Part) -> ir.Message:
    return ir.Message("user", list(parts))


def assistant(*parts: ir.Part) -> ir.Message:
    return ir.Message("assistant", list(parts))


def gsig(tag: str, sig: str) -> str:
    return G.wrap_signature(tag, sig)


# ---------------------------------------------------------------- request: golden bodies


def test_golden_text_request() -> None:
    r = req(
        user(ir.Text("hi")),
        assistant(ir.Text("hello")),
        user(ir.Text("how are you?")),
        system=[ir.Text("Be brief.")],
        max_tokens=1000,
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        stop=["END"],
    )
    assert G.encode_request(r, FLASH25, CAPS) == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"text": "hello"}]},
            {"role": "user", "parts": [{"text": "how are you?"}]},
        ],
        "generationConfig": {
            "maxOutputTokens": 1000,
            "temperature": 0.3,
            "topP": 0.9,
            "topK": 40,
            "stopSequences": ["END"],
        },
    }


def test_roles_alternate_and_system_messages_are_hoisted() -> None:
    r = req(
        user(ir.Text("one")),
        user(ir.Text("two")),
        ir.Message("system", [ir.Text("mid-conversation reminder")]),
        assistant(ir.Text("a")),
        assistant(ir.Text("b")),
        user(ir.Text("")),  # empty turns vanish instead of breaking alternation
        user(ir.Text("three")),
        system=[ir.Text("top")],
    )
    body = G.encode_request(r, FLASH25, CAPS)
    assert body["systemInstruction"] == {"parts": [{"text": "top\n\nmid-conversation reminder"}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
        {"role": "model", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "user", "parts": [{"text": "three"}]},
    ]
    roles = [c["role"] for c in body["contents"]]
    assert all(a != b for a, b in itertools.pairwise(roles))


def test_empty_conversation_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequest, match="no message with content"):
        G.encode_request(req(user(ir.Text(""))), FLASH25, CAPS)


def test_max_output_tokens_clamped_by_caps_and_stop_limited_to_five() -> None:
    r = req(user(ir.Text("x")), max_tokens=100_000, stop=[str(i) for i in range(8)])
    config = G.encode_request(r, FLASH25, Capabilities(max_output_tokens=65536))[
        "generationConfig"]
    assert config["maxOutputTokens"] == 65536
    assert config["stopSequences"] == ["0", "1", "2", "3", "4"]


def test_openai_sampling_extras_map_to_generation_config() -> None:
    r = req(user(ir.Text("x")), openai_extra={"seed": 7, "presence_penalty": 0.5,
                                              "frequency_penalty": 0.1, "logit_bias": {}})
    assert G.encode_request(r, FLASH25, CAPS)["generationConfig"] == {
        "seed": 7, "presencePenalty": 0.5, "frequencyPenalty": 0.1}


# ---------------------------------------------------------------- images


def test_images_inline_data_url_and_file_uri() -> None:
    r = req(user(
        ir.Text("look"),
        ir.Image(media_type="image/png", data="iVBORw0KGgo="),
        ir.Image(url="data:image/jpeg;base64,/9j/4AAQ"),
        ir.Image(url="https://example.com/cat.webp?sig=1"),
        ir.Image(url="gs://bucket/dog.png"),
    ))
    assert G.encode_request(r, FLASH25, CAPS)["contents"][0]["parts"] == [
        {"text": "look"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?sig=1"}},
        {"fileData": {"mimeType": "image/png", "fileUri": "gs://bucket/dog.png"}},
    ]


@pytest.mark.parametrize("url", ["http://example.com/a.png", "ftp://x/a.png", "file:///a.png"])
def test_image_urls_gemini_cannot_fetch_are_a_clear_error(url: str) -> None:
    with pytest.raises(InvalidRequest, match=r"https:// or gs:// URL") as exc:
        G.encode_request(req(user(ir.Image(url=url))), FLASH25, CAPS)
    assert exc.value.param == "messages.0.content.0"


# ---------------------------------------------------------------- schemas

MCP_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": {"type": "string", "format": "uri", "description": "Where"},
        "when": {"type": "string", "format": "date-time"},
        "count": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 1},
        "mode": {"const": "fast"},
        "level": {"type": "integer", "enum": [1, 2, 3]},
        "tags": {"type": "array", "uniqueItems": True},
        "maybe": {"type": ["string", "null"]},
        "either": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "opt": {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}]},
        "env": {"type": "object", "additionalProperties": {"type": "string"},
                "propertyNames": {"pattern": "^[A-Z]+$"}},
        "point": {"$ref": "#/definitions/Point"},
    },
    "required": ["url", "ghost"],
    "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}},
                        "required": ["x"], "additionalProperties": False}},
    "definitions": {"Point": {"type": "object", "properties": {"x": {"type": "number"}},
                              "required": ["x"]}},
}

ALLOWED = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "anyOf", "propertyOrdering", "items", "minimum", "maximum",
}  # fmt: skip


def _walk(schema: dict[str, Any]) -> list[str]:
    """Every keyword used anywhere in a cleaned schema."""
    keys = list(schema)
    for name, sub in schema.get("properties", {}).items():
        assert isinstance(name, str)
        keys += _walk(sub)
    if "items" in schema:
        keys += _walk(schema["items"])
    for sub in schema.get("anyOf", []):
        keys += _walk(sub)
    return keys


def test_schema_cleaning_golden() -> None:
    original = copy.deepcopy(MCP_SCHEMA)
    cleaned = G.clean_parameters(MCP_SCHEMA)
    assert original == MCP_SCHEMA  # not modified in place
    assert cleaned is not None
    point = {"type": "OBJECT", "properties": {"x": {"type": "NUMBER"}}, "required": ["x"]}
    assert cleaned == {
        "type": "OBJECT",
        "properties": {
            "url": {"type": "STRING", "description": "Where"},
            "when": {"type": "STRING", "format": "date-time"},
            "count": {"type": "INTEGER", "minimum": 0},
            "mode": {"type": "STRING", "enum": ["fast"]},
            "level": {"type": "INTEGER", "description": "One of: 1, 2, 3."},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            "maybe": {"type": "STRING", "nullable": True},
            "either": {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}]},
            "opt": {**point, "nullable": True},
            "env": {"type": "OBJECT"},
            "point": point,
        },
        "required": ["url"],
    }
    assert set(_walk(cleaned)) <= ALLOWED


def test_schema_recursive_ref_is_cut_and_all_of_merged() -> None:
    tree = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}},
    }
    cleaned = G.clean_parameters(tree)
    assert cleaned is not None
    node = cleaned["properties"]["root"]
    assert node["properties"]["children"]["items"] == {"type": "OBJECT"}
    merged = G.clean_schema({"allOf": [
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
    ]})
    assert merged == {"type": "OBJECT", "properties": {"a": {"type": "STRING"},
                                                       "b": {"type": "BOOLEAN"}},
                      "required": ["a", "b"]}


def test_every_cleaned_node_has_a_type_or_any_of() -> None:
    cleaned = G.clean_parameters({"type": "object", "properties": {
        "anything": {}, "described": {"description": "free text"}, "flag": True,
        "list": {"type": "array", "items": True},
        "union": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    }})
    assert cleaned == {"type": "OBJECT", "properties": {
        "anything": {"type": "STRING"},
        "described": {"type": "STRING", "description": "free text"},
        "flag": {"type": "STRING"},
        "list": {"type": "ARRAY", "items": {"type": "STRING"}},
        "union": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
    }}


def test_tool_without_parameters_omits_them_and_tool_choice_maps() -> None:
    r = req(
        user(ir.Text("x")),
        tools=[ir.Tool("now", "the time", {"type": "object", "properties": {}}),
               ir.Tool("bash", None, {"type": "object",
                                      "properties": {"cmd": {"type": "string"}}})],
        tool_choice=ir.ToolChoice("tool", "bash"),
    )
    body = G.encode_request(r, FLASH25, CAPS)
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "now", "description": "the time"},
        {"name": "bash", "parameters": {"type": "OBJECT",
                                        "properties": {"cmd": {"type": "STRING"}}}},
    ]}]
    assert body["toolConfig"] == {"functionCallingConfig": {
        "mode": "ANY", "allowedFunctionNames": ["bash"]}}
    for choice, mode in (("auto", "AUTO"), ("any", "ANY"), ("none", "NONE")):
        r.tool_choice = ir.ToolChoice(choice)  # type: ignore[arg-type]
        assert G.encode_request(r, FLASH25, CAPS)["toolConfig"] == {
            "functionCallingConfig": {"mode": mode}}


def test_response_format_json_schema_is_cleaned() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {
        "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
        "additionalProperties": False}}}
    config = G.encode_request(req(user(ir.Text("x")), response_format=rf), FLASH25, CAPS)[
        "generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseSchema": {
        "type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}, "required": ["n"]}}
    config = G.encode_request(req(user(ir.Text("x")), response_format={"type": "json_object"}),
                              FLASH25, CAPS)["generationConfig"]
    assert config == {"responseMimeType": "application/json"}


# ---------------------------------------------------------------- function calls and results


def test_tool_results_become_function_responses_named_by_call_id() -> None:
    r = req(
        user(ir.Text("list and read")),
        assistant(ir.Text("ok"), ir.ToolCall("call_a", "bash", '{"cmd": "ls"}'),
                  ir.ToolCall("call_b", "read", "")),
        user(ir.Text("also this"),
             ir.ToolResult("call_b", [ir.Text("boom")], is_error=True),
             ir.ToolResult("call_a", [ir.Text("a.txt"), ir.Image("image/png", "iVBO")]),
             ir.ToolResult("call_zz", [ir.Text("orphan")])),
    )
    contents = G.encode_request(r, FLASH25, CAPS)["contents"]
    assert contents[1] == {"role": "model", "parts": [
        {"text": "ok"},
        # No skip signature: the user text below starts a new turn, so this step is history.
        {"functionCall": {"name": "bash", "args": {"cmd": "ls"}}},
        {"functionCall": {"name": "read", "args": {}}},
    ]}
    assert contents[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "read", "response": {"error": "boom"}}},
        {"functionResponse": {"name": "bash", "response": {"output": "a.txt"}}},
        {"text": "also this"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
        {"text": "[tool result for call call_zz]\norphan"},
    ]}


def test_tool_call_arguments_must_be_an_object() -> None:
    r = req(user(ir.Text("x")), assistant(ir.ToolCall("c", "bash", "[1]")),
            user(ir.ToolResult("c", [ir.Text("y")])))
    with pytest.raises(InvalidRequest, match="not a JSON object"):
        G.encode_request(r, FLASH25, CAPS)


def test_decoded_calls_get_unique_minted_ids_that_map_back() -> None:
    body = {
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "bash", "args": {"cmd": "ls"}}},
            {"functionCall": {"name": "bash", "args": {"cmd": "pwd"}}},
        ]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5},
    }
    resp = G.decode_response(body)
    calls = [p for p in resp.content if isinstance(p, ir.ToolCall)]
    assert [c.name for c in calls] == ["bash", "bash"]
    assert calls[0].id != calls[1].id
    assert all(c.id.startswith("call_") for c in calls)
    assert resp.stop_reason == "tool_use"
    r = req(user(ir.Text("go")), assistant(*resp.content),
            user(ir.ToolResult(calls[1].id, [ir.Text("/home")]),
                 ir.ToolResult(calls[0].id, [ir.Text("a.txt")])))
    contents = G.encode_request(r, FLASH25, CAPS)["contents"]
    assert [p["functionResponse"]["name"] for p in contents[2]["parts"]] == ["bash", "bash"]
    # An id Gemini did send is kept.
    body["candidates"][0]["content"]["parts"][0]["functionCall"]["id"] = "fc-1"
    assert G.decode_response(body).content[0].id == "fc-1"  # type: ignore[union-attr]


# ---------------------------------------------------------------- thought signatures


def test_signatures_decode_into_thinking_and_go_back_on_the_same_parts() -> None:
    body = {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "Let me think. ", "thought": True},
            {"text": "Done.", "thought": True},
            {"functionCall": {"name": "bash", "args": {"cmd": "ls"}},
             "thoughtSignature": "U0lHMQ=="},
            {"functionCall": {"name": "read", "args": {"p": "a"}}},
        ]}, "finishReason": "STOP"}],
    }
    resp = G.decode_response(body)
    assert resp.content[0] == ir.Thinking("Let me think. Done.", gsig("f", "U0lHMQ=="))
    assert signatures.is_ours(resp.content[0].signature)  # never sent to a real Claude
    r = req(user(ir.Text("go")), assistant(*resp.content),
            user(*[ir.ToolResult(c.id, [ir.Text("ok")]) for c in resp.content
                   if isinstance(c, ir.ToolCall)]))
    model_turn = G.encode_request(r, PRO3, CAPS)["contents"][1]
    assert model_turn["parts"] == [
        {"text": "Let me think. Done.", "thought": True},
        {"functionCall": {"name": "bash", "args": {"cmd": "ls"}}, "thoughtSignature": "U0lHMQ=="},
        {"functionCall": {"name": "read", "args": {"p": "a"}}},
    ]


def test_signature_without_thought_text_and_on_thought_parts() -> None:
    body = {"candidates": [{"content": {"parts": [
        {"text": "Hello", "thoughtSignature": "dGV4dA=="},  # optional for Gemini: dropped
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "Zg=="},
        {"text": "plan", "thought": True, "thoughtSignature": "dA=="},
        {"text": "", "thoughtSignature": "ZW5k"},
    ]}, "finishReason": "STOP"}]}
    content = G.decode_response(body).content
    call = content[2]
    assert isinstance(call, ir.ToolCall)
    assert content == [
        ir.Text("Hello"),
        ir.Thinking("", gsig("f", "Zg==")),
        ir.ToolCall(call.id, "f", "{}"),
        ir.Thinking("plan", gsig("t", "dA==")),
    ]
    r = req(user(ir.Text("x")), assistant(ir.Thinking("plan", gsig("t", "dA==")),
                                          ir.Text("answer")), user(ir.Text("more")))
    assert G.encode_request(r, PRO3, CAPS)["contents"][1]["parts"] == [
        {"text": "plan", "thought": True, "thoughtSignature": "dA=="},
        {"text": "answer"},
    ]


def test_foreign_reasoning_is_never_sent_as_gemini_thoughts() -> None:
    r = req(
        user(ir.Text("x")),
        assistant(ir.Thinking("claude thinking", "EqQBCkYIBxgCKkA"),  # Anthropic's
                  ir.Thinking("deepseek reasoning"),  # none
                  ir.Thinking("minted", signatures.mint("minted")),  # crossway's
                  ir.RedactedThinking("opaque"),
                  ir.Text("answer")),
        user(ir.Text("more")),
    )
    assert G.encode_request(r, PRO3, CAPS)["contents"][1] == {
        "role": "model", "parts": [{"text": "answer"}]}


def test_skip_signature_only_for_current_turn_steps_missing_one() -> None:
    r = req(
        user(ir.Text("first task")),
        assistant(ir.ToolCall("c1", "bash", "{}")),  # earlier turn: not validated
        user(ir.ToolResult("c1", [ir.Text("ok")])),
        assistant(ir.Text("done")),
        user(ir.Text("second task")),
        assistant(ir.Thinking("", gsig("f", "cmVhbA==")), ir.ToolCall("c2", "bash", "{}")),
        user(ir.ToolResult("c2", [ir.Text("ok")])),
        assistant(ir.ToolCall("c3", "bash", "{}"), ir.ToolCall("c4", "bash", "{}")),
        user(ir.ToolResult("c3", [ir.Text("ok")]), ir.ToolResult("c4", [ir.Text("ok")])),
    )
    contents = G.encode_request(r, PRO3, CAPS)["contents"]
    sigs = [[p.get("thoughtSignature") for p in c["parts"] if "functionCall" in p]
            for c in contents if c["role"] == "model"]
    assert sigs == [[None], [], ["cmVhbA=="], [G.SKIP_SIGNATURE, None]]


def test_signature_wrapping_is_recognised_only_when_ours() -> None:
    assert G.unwrap_signature(gsig("f", "abc")) == ("f", "abc")
    assert G.unwrap_signature("abc") is None
    assert G.unwrap_signature(signatures.mint("x")) is None
    assert G.unwrap_signature(signatures.PREFIX + "gemini.q.abc") is None
    assert G.unwrap_signature(None) is None


# ---------------------------------------------------------------- thinking config


@pytest.mark.parametrize(("model", "thinking", "expected"), [
    (FLASH25, ir.ThinkingConfig("enabled", effort="low"),
     {"includeThoughts": True, "thinkingBudget": 2048}),
    (FLASH25, ir.ThinkingConfig("enabled", budget_tokens=5000),
     {"includeThoughts": True, "thinkingBudget": 5000}),
    (FLASH25, ir.ThinkingConfig("enabled", budget_tokens=99999),
     {"includeThoughts": True, "thinkingBudget": 32768}),
    (FLASH25, ir.ThinkingConfig("adaptive"), {"includeThoughts": True, "thinkingBudget": -1}),
    (FLASH25, ir.ThinkingConfig("disabled"), {"thinkingBudget": 0}),
    ("gemini-2.5-pro", ir.ThinkingConfig("disabled"), None),
    (PRO3, ir.ThinkingConfig("enabled", effort="medium"),
     {"includeThoughts": True, "thinkingLevel": "high"}),
    (PRO3, ir.ThinkingConfig("enabled", effort="minimal"),
     {"includeThoughts": True, "thinkingLevel": "low"}),
    ("gemini-3-flash-preview", ir.ThinkingConfig("enabled", effort="medium"),
     {"includeThoughts": True, "thinkingLevel": "medium"}),
    ("gemini-3-flash-preview", ir.ThinkingConfig("disabled", effort="none"),
     {"thinkingLevel": "minimal"}),
    (PRO3, ir.ThinkingConfig("disabled"), {"thinkingLevel": "low"}),
    (PRO3, ir.ThinkingConfig("adaptive"), {"includeThoughts": True}),
    (PRO3, ir.ThinkingConfig("enabled", budget_tokens=4096),
     {"includeThoughts": True, "thinkingBudget": 4096}),
])
def test_thinking_config(model: str, thinking: ir.ThinkingConfig,
                         expected: dict[str, Any] | None) -> None:
    body = G.encode_request(req(user(ir.Text("x")), thinking=thinking), model, CAPS)
    assert body.get("generationConfig", {}).get("thinkingConfig") == expected
    config = expected or {}
    assert not ("thinkingLevel" in config and "thinkingBudget" in config)


# ---------------------------------------------------------------- responses


def test_golden_response_with_usage() -> None:
    body = {
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "Plan: greet.", "thought": True},
                {"text": "Hello"}, {"text": " there!"},
                {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
            ]},
            "finishReason": "STOP", "index": 0,
        }],
        "usageMetadata": {"promptTokenCount": 120, "cachedContentTokenCount": 100,
                          "candidatesTokenCount": 7, "thoughtsTokenCount": 30,
                          "toolUsePromptTokenCount": 3, "totalTokenCount": 160},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1",
    }
    resp = G.decode_response(body)
    assert resp == ir.Response(
        id="resp-1", model="gemini-2.5-flash",
        content=[ir.Thinking("Plan: greet."), ir.Text("Hello there!")],
        stop_reason="end_turn",
        usage=ir.Usage(input_tokens=23, output_tokens=37, cache_read_tokens=100,
                       reasoning_tokens=30),
    )
    assert resp.usage.prompt_tokens == 123


@pytest.mark.parametrize(("finish", "stop"), [
    ("STOP", "end_turn"), ("MAX_TOKENS", "max_tokens"), ("FINISH_REASON_UNSPECIFIED", "end_turn"),
    (None, "end_turn"),
])
def test_finish_reasons(finish: str | None, stop: str) -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": finish}]}
    assert G.decode_response(body).stop_reason == stop


def test_max_tokens_spent_thinking_is_an_empty_answer_not_an_error() -> None:
    body = {"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 5, "thoughtsTokenCount": 100}}
    resp = G.decode_response(body)
    assert resp.content == [] and resp.stop_reason == "max_tokens"
    assert resp.usage.output_tokens == 100


@pytest.mark.parametrize(("finish", "words"), [
    ("SAFETY", "safety filters"),
    ("RECITATION", "recitation"),
    ("PROHIBITED_CONTENT", "prohibited-content"),
    ("SPII", "personal information"),
])
def test_withheld_answers_are_clear_errors(finish: str, words: str) -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "partial"}]},
                            "finishReason": finish}]}
    with pytest.raises(UpstreamError, match=words) as exc:
        G.decode_response(body)
    assert exc.value.code == "content_filter"
    assert finish in exc.value.message


@pytest.mark.parametrize("finish", ["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"])
def test_failed_generations_are_errors(finish: str) -> None:
    body = {"candidates": [{"content": {}, "finishReason": finish}]}
    with pytest.raises(UpstreamError, match="generation failed"):
        G.decode_response(body)


def test_other_without_content_is_an_error() -> None:
    with pytest.raises(UpstreamError, match="OTHER"):
        G.decode_response({"candidates": [{"finishReason": "OTHER"}]})
    ok = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "OTHER"}]}
    assert G.decode_response(ok).content == [ir.Text("x")]


def test_blocked_prompt_is_a_client_error() -> None:
    body = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT",
                               "safetyRatings": []},
            "usageMetadata": {"promptTokenCount": 9}}
    with pytest.raises(InvalidRequest, match="blocked the prompt") as exc:
        G.decode_response(body)
    assert exc.value.code == "prompt_blocked" and exc.value.status == 400


def test_malformed_responses() -> None:
    with pytest.raises(UpstreamError, match="no candidates"):
        G.decode_response({"usageMetadata": {}})
    with pytest.raises(UpstreamError, match="not a JSON object"):
        G.decode_response("nope")  # type: ignore[arg-type]
    with pytest.raises(UpstreamError, match="without a name"):
        G.decode_response({"candidates": [{"content": {"parts": [{"functionCall": {}}]}}]})
    with pytest.raises(NotFound):
        G.decode_response({"error": {"code": 404, "message": "no", "status": "NOT_FOUND"}})


# ---------------------------------------------------------------- streams


def sse(*chunks: dict[str, Any] | bytes) -> bytes:
    """Gemini's framing: `data: <json>` and CRLF blank lines."""
    out = b""
    for c in chunks:
        data = c if isinstance(c, bytes) else orjson.dumps(c)
        out += b"data: " + data + b"\r\n\r\n"
    return out


def run_stream(raw: bytes, split: int = 7, eof: bool = True) -> list[ir.StreamEvent]:
    parser, dec = SSEParser(), G.StreamDecoder()
    events: list[ir.StreamEvent] = []
    for i in range(0, len(raw), split):
        for ev in parser.feed(raw[i : i + split]):
            events.extend(dec.feed(ev))
    for ev in parser.flush():
        events.extend(dec.feed(ev))
    if eof:
        events.extend(dec.finish())
    assert dec.done
    return events


def chunk(*parts: dict[str, Any], finish: str | None = None,
          usage: dict[str, Any] | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [cand], "modelVersion": "gemini-3-pro-preview",
                           "responseId": "r-9"}
    if usage:
        out["usageMetadata"] = usage
    return out


def test_golden_stream_with_thoughts_text_and_calls() -> None:
    raw = sse(
        chunk({"text": "Think", "thought": True}),
        chunk({"text": "ing.", "thought": True}),
        chunk({"text": "I'll run it."}),
        chunk({"functionCall": {"name": "bash", "args": {"cmd": "ls"}},
               "thoughtSignature": "c2lnLTE="},
              {"functionCall": {"name": "noargs"}}),
        chunk({"text": "", "thoughtSignature": "ZW5k"}, finish="STOP",
              usage={"promptTokenCount": 50, "candidatesTokenCount": 12,
                     "thoughtsTokenCount": 8}),
    )
    events = run_stream(raw)
    starts = [e for e in events if isinstance(e, ir.ToolCallStart)]
    assert events == [
        ir.MessageStart(id="r-9", model="gemini-3-pro-preview"),
        ir.ThinkingDelta("Think"), ir.ThinkingDelta("ing."),
        ir.TextDelta("I'll run it."),
        ir.ThinkingSignature(gsig("f", "c2lnLTE=")),
        ir.ToolCallStart(starts[0].id, "bash"), ir.ToolCallDelta('{"cmd":"ls"}'),
        ir.ToolCallStart(starts[1].id, "noargs"),
        ir.MessageEnd("tool_use", ir.Usage(input_tokens=50, output_tokens=20,
                                           reasoning_tokens=8)),
    ]
    assert starts[0].id != starts[1].id


def test_stream_and_unary_decode_agree() -> None:
    parts = [{"text": "a", "thought": True},
             {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": "Zg=="},
             {"text": "b"}]
    unary = G.decode_response({"candidates": [{"content": {"parts": parts},
                                               "finishReason": "STOP"}]})
    events = run_stream(sse(chunk(*parts, finish="STOP")))
    # Rebuild the content from the events the way a client encoder does.
    rebuilt: list[Any] = []
    for e in events:
        if isinstance(e, ir.ThinkingDelta):
            rebuilt.append(ir.Thinking(e.text))
        elif isinstance(e, ir.ThinkingSignature):
            rebuilt[-1].signature = e.signature
        elif isinstance(e, ir.ToolCallStart):
            rebuilt.append(ir.ToolCall(e.id, e.name, ""))
        elif isinstance(e, ir.ToolCallDelta):
            rebuilt[-1].arguments += e.arguments
        elif isinstance(e, ir.TextDelta):
            rebuilt.append(ir.Text(e.text))
    for a, b in zip(unary.content, rebuilt, strict=True):
        if isinstance(a, ir.ToolCall):
            assert (a.name, a.arguments) == (b.name, b.arguments)
        else:
            assert a == b


def test_stream_eof_before_finish_reason_is_an_error() -> None:
    events = run_stream(sse(chunk({"text": "Hel"})))
    assert events[-1] == ir.StreamError("Gemini's stream ended before a finishReason",
                                        "api_error", 502)
    assert sum(isinstance(e, ir.StreamError | ir.MessageEnd) for e in events) == 1


def test_stream_safety_after_text_is_an_error_not_an_end() -> None:
    events = run_stream(sse(chunk({"text": "Sure, here"}), chunk(finish="SAFETY")))
    assert isinstance(events[-1], ir.StreamError)
    assert "safety" in events[-1].message
    assert not any(isinstance(e, ir.MessageEnd) for e in events)


def test_stream_blocked_prompt() -> None:
    events = run_stream(sse({"promptFeedback": {"blockReason": "SAFETY"},
                             "usageMetadata": {"promptTokenCount": 3}}))
    assert events[0] == ir.MessageStart(usage=ir.Usage(input_tokens=3))  # known at start
    assert events[1] == ir.StreamError(events[1].message, "invalid_request_error", 400)  # type: ignore[union-attr]
    assert "blockReason SAFETY" in events[1].message  # type: ignore[union-attr]


def test_stream_error_event_and_garbage() -> None:
    err = {"error": {"code": 503, "message": "The model is overloaded. Please try again later.",
                     "status": "UNAVAILABLE"}}
    events = run_stream(sse(chunk({"text": "a"}), err, chunk({"text": "ignored"})))
    assert events[-1] == ir.StreamError("The model is overloaded. Please try again later.",
                                        "overloaded_error", 529)
    events = run_stream(sse(b"{not json"))
    assert events == [ir.StreamError(events[0].message, "api_error", 502)]  # type: ignore[union-attr]
    assert "not valid JSON" in events[0].message  # type: ignore[union-attr]


def test_nothing_after_the_terminal_event() -> None:
    dec = G.StreamDecoder()
    raw = sse(chunk({"text": "x"}, finish="STOP"), chunk({"text": "late"}))
    events = [e for ev in SSEParser().feed(raw) for e in dec.feed(ev)] + dec.finish()
    assert isinstance(events[-1], ir.MessageEnd)
    assert not any(isinstance(e, ir.TextDelta) and e.text == "late" for e in events)


# ---------------------------------------------------------------- errors


def test_error_body_shape() -> None:
    assert G.error_body(404, "models/x is not found") == {
        "error": {"code": 404, "message": "models/x is not found", "status": "NOT_FOUND"}}


def test_error_mapping() -> None:
    bad_key = orjson.dumps({"error": {
        "code": 400, "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})
    failure = G.parse_error(400, bad_key)
    assert failure.reason == "API_KEY_INVALID"
    assert isinstance(G.map_error(failure), AuthenticationFailed)

    quota = [{"error": {"code": 429, "message": "You exceeded your current quota",
                        "status": "RESOURCE_EXHAUSTED", "details": [
                            {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                             "retryDelay": "31.5s"}]}}]
    err = G.map_error(G.parse_error(429, orjson.dumps(quota)))
    assert isinstance(err, RateLimited) and err.headers == {"retry-after": "32"}

    overflow = G.error_body(400, "The input token count (1200000) exceeds the maximum number "
                                 "of tokens allowed (1048576).")
    err = G.map_error(G.parse_error(400, overflow))
    assert isinstance(err, InvalidRequest) and err.code == "context_length_exceeded"
    assert err.message.startswith("prompt is too long: 1200000 tokens > 1048576 maximum")

    busy = G.error_body(503, "The model is overloaded. Please try again later.")
    assert isinstance(G.map_error(G.parse_error(503, busy)), Overloaded)
    internal = G.map_error(G.parse_error(500, G.error_body(500, "Internal error")))
    assert internal.status == 500 and isinstance(internal, UpstreamError)

    html = G.parse_error(502, b"<html>Bad Gateway</html>")
    assert html.message == "Gemini answered HTTP 502: <html>Bad Gateway</html>"
    assert G.map_error(html).status == 502


# ---------------------------------------------------------------- through other codecs


def test_openai_chat_client_to_gemini_request() -> None:
    chat = {
        "model": "gemini/gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "what is here?"},
                                         {"type": "image_url", "image_url": {
                                             "url": "data:image/png;base64,iVBORw0K"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_x", "type": "function",
                 "function": {"name": "ls", "arguments": "{\"dir\": \".\"}"}}]},
            {"role": "tool", "tool_call_id": "call_x", "content": "a.txt"},
        ],
        "tools": [{"type": "function", "function": {"name": "ls", "parameters": {
            "type": "object", "properties": {"dir": {"type": "string"}},
            "additionalProperties": False}}}],
        "reasoning_effort": "low",
        "max_tokens": 500,
    }
    body = G.encode_request(OC.decode_request(chat), FLASH25, CAPS)
    assert body == {
        "systemInstruction": {"parts": [{"text": "You are terse."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "what is here?"},
                                       {"inlineData": {"mimeType": "image/png",
                                                       "data": "iVBORw0K"}}]},
            {"role": "model", "parts": [{"functionCall": {"name": "ls", "args": {"dir": "."}},
                                         "thoughtSignature": G.SKIP_SIGNATURE}]},
            {"role": "user", "parts": [{"functionResponse": {
                "name": "ls", "response": {"output": "a.txt"}}}]},
        ],
        "tools": [{"functionDeclarations": [{"name": "ls", "parameters": {
            "type": "OBJECT", "properties": {"dir": {"type": "STRING"}}}}]}],
        "generationConfig": {"maxOutputTokens": 500, "thinkingConfig": {
            "includeThoughts": True, "thinkingBudget": 2048}},
    }


def test_anthropic_client_round_trip_keeps_gemini_signature() -> None:
    """Gemini answer -> Claude Code -> next request: the signature returns to its call."""
    gemini_answer = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Need to list files.", "thought": True},
        {"functionCall": {"name": "Bash", "args": {"command": "ls"}},
         "thoughtSignature": "Q3JlYWxTaWc="},
    ]}, "finishReason": "STOP"}], "responseId": "abc"}
    client_view = A.encode_response(G.decode_response(gemini_answer), "gemini-3-pro-preview")
    thinking, tool_use = client_view["content"]
    assert thinking["type"] == "thinking" and thinking["signature"] == gsig("f", "Q3JlYWxTaWc=")
    replay = {
        "model": "gemini-3-pro-preview", "max_tokens": 1000,
        "messages": [
            {"role": "user", "content": "list files"},
            {"role": "assistant", "content": client_view["content"]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"],
                                          "content": "a.txt"}]},
        ],
        "tools": [{"name": "Bash", "input_schema": {"type": "object", "properties": {
            "command": {"type": "string"}}}}],
    }
    contents = G.encode_request(A.decode_request(replay), PRO3, CAPS)["contents"]
    assert contents[1]["parts"] == [
        {"text": "Need to list files.", "thought": True},
        {"functionCall": {"name": "Bash", "args": {"command": "ls"}},
         "thoughtSignature": "Q3JlYWxTaWc="},
    ]
    assert contents[2]["parts"] == [{"functionResponse": {
        "name": "Bash", "response": {"output": "a.txt"}}}]
    # The same history sent to a real Claude drops the Gemini signature's block.
    claude = A.encode_request(A.decode_request(replay), "claude-sonnet-4-6",
                              Capabilities(anthropic_native=True))
    assert all(b["type"] != "thinking" for b in claude["messages"][1]["content"])


def test_gemini_stream_to_claude_code_and_back() -> None:
    """Streamed to an Anthropic client, the signature lands in a thinking block that the
    client replays; crossway puts it back on the same functionCall."""
    raw = sse(
        chunk({"text": "Listing first.", "thought": True}),
        chunk({"functionCall": {"name": "Bash", "args": {"command": "ls"}},
               "thoughtSignature": "U3RyZWFtU2ln"}, finish="STOP",
              usage={"promptTokenCount": 9, "candidatesTokenCount": 3}),
    )
    encoder = A.StreamEncoder("gemini-3-pro-preview")
    wire_out = b"".join(encoder.encode(e) for e in run_stream(raw))
    blocks: list[dict[str, Any]] = []
    for ev in SSEParser().feed(wire_out):
        data = orjson.loads(ev.data)
        if data["type"] == "content_block_start":
            blocks.append(dict(data["content_block"]))
        elif data["type"] == "content_block_delta":
            delta, block = data["delta"], blocks[-1]
            if delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                block["partial"] = block.get("partial", "") + delta["partial_json"]
    thinking, tool_use = blocks
    assert thinking == {"type": "thinking", "thinking": "Listing first.",
                        "signature": gsig("f", "U3RyZWFtU2ln")}
    tool_use["input"] = orjson.loads(tool_use.pop("partial"))
    replay = {"model": "gemini-3-pro-preview", "max_tokens": 100, "messages": [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": [thinking, tool_use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"],
                                      "content": "a.txt"}]},
    ]}
    contents = G.encode_request(A.decode_request(replay), PRO3, CAPS)["contents"]
    assert contents[1]["parts"][1] == {"functionCall": {"name": "Bash",
                                                        "args": {"command": "ls"}},
                                       "thoughtSignature": "U3RyZWFtU2ln"}


def test_request_paths_and_model_listing() -> None:
    assert G.request_path("gemini-2.5-flash", False) == "/models/gemini-2.5-flash:generateContent"
    assert G.request_path("models/gemini-3-pro-preview", True) == \
        "/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
    listing = {"models": [
        {"name": "models/gemini-2.5-flash", "supportedGenerationMethods": ["generateContent"]},
        {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]},
        {"name": "models/gemini-x"}, {"displayName": "nameless"}, "junk"],
        "nextPageToken": "x"}
    assert G.model_ids(listing) == ["gemini-2.5-flash", "gemini-x"]
    assert G.model_ids([]) == []
