"""OpenAI Chat Completions codec: golden wire data in, expected data out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from crossway import ir
from crossway.dialects import Capabilities, openai_chat
from crossway.dialects.sse import SSEEvent, SSEParser
from crossway.errors import InvalidRequest, UpstreamError

# ---------------------------------------------------------------- helpers


def body(messages: list[Any], **extra: Any) -> dict[str, Any]:
    return {"model": "glm-5", "messages": messages, **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def ev(obj: Any) -> SSEEvent:
    data = obj if isinstance(obj, bytes) else orjson.dumps(obj)
    return SSEEvent(None, data, b"data: " + data)


DONE = SSEEvent(None, b"[DONE]", b"data: [DONE]")


def chunk(
    delta: dict[str, Any] | None = None,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-up1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "glm-5",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }
    if usage is not None:
        out["usage"] = usage
    return out


def usage_chunk(usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": "chatcmpl-up1", "object": "chat.completion.chunk", "choices": [], "usage": usage}


def tc(
    index: int | None,
    *,
    id: str | None = None,
    name: str | None = None,
    args: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"function": {}}
    if index is not None:
        out["index"] = index
    if id is not None:
        out["id"] = id
        out["type"] = "function"
    if name is not None:
        out["function"]["name"] = name
    if args is not None:
        out["function"]["arguments"] = args
    return out


def decode_stream(frames: list[Any], *, eof: bool = True) -> list[ir.StreamEvent]:
    dec = openai_chat.StreamDecoder()
    events: list[ir.StreamEvent] = []
    for f in frames:
        events.extend(dec.feed(f if isinstance(f, SSEEvent) else ev(f)))
    if eof:
        events.extend(dec.finish())
    return events


def parse_frames(data: bytes) -> list[Any]:
    """Client SSE bytes -> list of JSON objects, with "[DONE]" kept as a string."""
    parser = SSEParser()
    out: list[Any] = []
    for e in parser.feed(data):
        assert e.event is None  # chat completions frames never carry `event:` lines
        out.append("[DONE]" if e.data == b"[DONE]" else orjson.loads(e.data))
    return out


# ---------------------------------------------------------------- decode_request: validation


@pytest.mark.parametrize(
    ("raw", "param", "words"),
    [
        ({"messages": [user("hi")]}, "model", "model"),
        ({"model": "", "messages": [user("hi")]}, "model", "model"),
        ({"model": 3, "messages": [user("hi")]}, "model", "model"),
        ({"model": "m"}, "messages", "messages"),
        ({"model": "m", "messages": []}, "messages", "non-empty"),
        ({"model": "m", "messages": "hi"}, "messages", "messages"),
        (body([user("hi")], n=2), "n", "n > 1 is not supported"),
        (body([user("hi")], n="2"), "n", "positive integer"),
        (body(["hi"]), "messages[0]", "object"),
        (body([user("a"), {"role": "bot", "content": "x"}]), "messages[1].role", "one of"),
        (body([{"role": "function", "name": "f", "content": "x"}]), "messages[0].role", "tool"),
        (body([user(None)]), "messages[0].content", "string or an array"),
        (body([user(3)]), "messages[0].content", "string or an array"),
        (body([user([{"type": "text", "text": 1}])]), "messages[0].content[0].text", "string"),
        (
            body([user([{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}])]),
            "messages[0].content[0].type",
            "does not support",
        ),
        (
            body([user("a"), user([{"type": "file", "file": {"file_id": "f"}}])]),
            "messages[1].content[0].type",
            "'file'",
        ),
        (
            body([user([{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}])]),
            "messages[0].content[0].image_url.url",
            "http",
        ),
        (
            body([user([{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}])]),
            "messages[0].content[0].image_url.url",
            "base64",
        ),
        (
            body([user([{"type": "image_url", "image_url": {}}])]),
            "messages[0].content[0].image_url.url",
            "string",
        ),
        (
            body(
                [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
            ),
            "messages[0].content[0].type",
            "only text",
        ),
        (body([{"role": "tool", "content": "x"}]), "messages[0].tool_call_id", "non-empty"),
        (
            body(
                [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {}}}],
                    }
                ]
            ),
            "messages[0].tool_calls[0].function.arguments",
            "string",
        ),
        (
            body(
                [
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}],
                    }
                ]
            ),
            "messages[0].tool_calls[0].function.name",
            "non-empty",
        ),
        (
            body([{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]),
            "messages[0].tool_calls[0].id",
            "non-empty",
        ),
        (
            body([{"role": "assistant", "reasoning_content": 5}]),
            "messages[0].reasoning_content",
            "string",
        ),
        (body([user("a")], max_tokens=0), "max_tokens", "positive"),
        (body([user("a")], max_completion_tokens="9"), "max_completion_tokens", "positive"),
        (body([user("a")], temperature="hot"), "temperature", "number"),
        (body([user("a")], temperature=True), "temperature", "number"),
        (body([user("a")], stop=[1]), "stop", "string"),
        (body([user("a")], stream="yes"), "stream", "boolean"),
        (body([user("a")], tools=[{"type": "web_search"}]), "tools[0].type", "only 'function'"),
        (
            body([user("a")], tools=[{"type": "function", "function": {}}]),
            "tools[0].function.name",
            "non-empty",
        ),
        (
            body(
                [user("a")],
                tools=[{"type": "function", "function": {"name": "f", "parameters": []}}],
            ),
            "tools[0].function.parameters",
            "object",
        ),
        (body([user("a")], tool_choice="any"), "tool_choice", "required"),
        (body([user("a")], tool_choice={"type": "function"}), "tool_choice", "required"),
        (body([user("a")], reasoning_effort=3), "reasoning_effort", "string"),
        (body([user("a")], response_format="json"), "response_format", "object"),
    ],
)
def test_decode_request_rejects(raw: dict[str, Any], param: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        openai_chat.decode_request(raw)
    assert info.value.param == param
    assert info.value.message.startswith(param) or param == "n"
    assert words in info.value.message
    assert info.value.status == 400


def test_decode_request_minimal_and_options() -> None:
    req = openai_chat.decode_request(
        body(
            [user("hi")],
            max_tokens=100,
            max_completion_tokens=200,
            temperature=1,
            top_p=0.5,
            stop="END",
            stream=True,
            stream_options={"include_usage": True},
            parallel_tool_calls=False,
            reasoning_effort="high",
            response_format={"type": "json_object"},
            user="u1",
            seed=7,
            presence_penalty=0.1,
            frequency_penalty=None,
            logit_bias={"1": 2},
            prompt_cache_key="k",
            n=1,
            unknown_field="ignored",
        )
    )
    assert req.model == "glm-5"
    assert req.messages == [ir.Message("user", [ir.Text("hi")])]
    assert req.max_tokens == 200  # max_completion_tokens wins
    assert req.temperature == 1.0 and isinstance(req.temperature, float)
    assert req.top_p == 0.5
    assert req.stop == ["END"]
    assert req.stream is True
    assert req.parallel_tool_calls is False
    assert req.thinking == ir.ThinkingConfig(type="enabled", effort="high")
    assert req.response_format == {"type": "json_object"}
    assert req.user == "u1"
    assert req.openai_extra == {
        "seed": 7,
        "presence_penalty": 0.1,
        "logit_bias": {"1": 2},
        "prompt_cache_key": "k",
    }


def test_decode_request_defaults() -> None:
    req = openai_chat.decode_request(body([user("hi")], stop=["a", "b"]))
    assert req.max_tokens is None and req.stream is False and req.thinking is None
    assert req.tools == [] and req.tool_choice is None and req.openai_extra == {}
    assert req.stop == ["a", "b"]


def test_reasoning_effort_none_disables_thinking() -> None:
    req = openai_chat.decode_request(body([user("hi")], reasoning_effort="none"))
    assert req.thinking == ir.ThinkingConfig(type="disabled", effort="none")


def test_system_and_developer_messages() -> None:
    req = openai_chat.decode_request(
        body(
            [
                {"role": "system", "content": "You are terse."},
                {
                    "role": "developer",
                    "content": [
                        {"type": "text", "text": "Use tools."},
                        {"type": "text", "text": ""},
                    ],
                },
                user("hi"),
                {"role": "assistant", "content": "hello"},
                {"role": "developer", "content": "Reminder: be nice."},
                {"role": "system", "content": ""},
                user("again"),
            ]
        )
    )
    assert req.system == [ir.Text("You are terse."), ir.Text("Use tools.")]
    assert [m.role for m in req.messages] == ["user", "assistant", "system", "user"]
    assert req.messages[2].content == [ir.Text("Reminder: be nice.")]


def test_user_parts_and_images() -> None:
    req = openai_chat.decode_request(
        body(
            [
                user(
                    [
                        {"type": "text", "text": "look"},
                        {"type": "text", "text": ""},
                        {
                            "type": "image_url",
                            "image_url": {
                                "url": "data:image/png;base64,iVBORw0KGgo=",
                                "detail": "high",
                            },
                        },
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                    ]
                )
            ]
        )
    )
    assert req.messages[0].content == [
        ir.Text("look"),
        ir.Image(media_type="image/png", data="iVBORw0KGgo="),
        ir.Image(url="https://example.com/cat.jpg"),
    ]


def test_assistant_reasoning_text_refusal_and_tool_calls() -> None:
    req = openai_chat.decode_request(
        body(
            [
                user("hi"),
                {
                    "role": "assistant",
                    "reasoning_content": "let me think",
                    "content": [
                        {"type": "text", "text": "sure"},
                        {"type": "refusal", "refusal": "not that"},
                    ],
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "ls", "arguments": '{"p":"/"}'},
                        },
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "pwd", "arguments": ""},
                        },
                    ],
                },
                {"role": "assistant", "reasoning": "alt field", "content": None, "refusal": "no"},
                {
                    "role": "assistant",
                    "reasoning_content": "",
                    "content": "x",
                },  # DeepSeek placeholder
            ]
        )
    )
    assert req.messages[1].content == [
        ir.Thinking("let me think"),
        ir.Text("sure"),
        ir.Text("not that"),
        ir.ToolCall("c1", "ls", '{"p":"/"}'),
        ir.ToolCall("c2", "pwd", ""),
    ]
    assert req.messages[2].content == [ir.Thinking("alt field"), ir.Text("no")]
    assert req.messages[3].content == [ir.Text("x")]


def test_tool_messages_grouped_into_one_user_turn() -> None:
    req = openai_chat.decode_request(
        body(
            [
                user("do it"),
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "a",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        },
                        {
                            "id": "b",
                            "type": "function",
                            "function": {"name": "g", "arguments": "{}"},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "a", "content": "A out"},
                {
                    "role": "tool",
                    "tool_call_id": "b",
                    "content": [{"type": "text", "text": "B out"}],
                },
                user("thanks"),
                {"role": "tool", "tool_call_id": "c", "content": ""},
            ]
        )
    )
    roles = [m.role for m in req.messages]
    assert roles == ["user", "assistant", "user", "user", "user"]
    assert req.messages[2].content == [
        ir.ToolResult("a", [ir.Text("A out")]),
        ir.ToolResult("b", [ir.Text("B out")]),
    ]
    assert req.messages[3].content == [ir.Text("thanks")]
    assert req.messages[4].content == [ir.ToolResult("c", [])]


def test_tools_and_tool_choice() -> None:
    req = openai_chat.decode_request(
        body(
            [user("hi")],
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "ls",
                        "description": "list",
                        "parameters": {"type": "object", "properties": {"p": {"type": "string"}}},
                        "strict": True,
                    },
                },
                {"type": "function", "function": {"name": "now"}},
            ],
            tool_choice={"type": "function", "function": {"name": "ls"}},
        )
    )
    assert req.tools == [
        ir.Tool("ls", "list", {"type": "object", "properties": {"p": {"type": "string"}}}, True),
        ir.Tool("now", None, {"type": "object", "properties": {}}, None),
    ]
    assert req.tool_choice == ir.ToolChoice("tool", "ls")
    for wire, expected in (
        ("auto", ir.ToolChoice("auto")),
        ("none", ir.ToolChoice("none")),
        ("required", ir.ToolChoice("any")),
    ):
        got = openai_chat.decode_request(body([user("x")], tool_choice=wire)).tool_choice
        assert got == expected


# ---------------------------------------------------------------- encode_request


def test_encode_request_tool_results_before_user_text() -> None:
    req = ir.Request(
        model="claude-sonnet-4-6",
        system=[ir.Text("sys one", cache_control={"type": "ephemeral"}), ir.Text("sys two")],
        messages=[
            ir.Message("user", [ir.Text("run both")]),
            ir.Message(
                "assistant",
                [
                    ir.Thinking("plan", signature="sig"),
                    ir.RedactedThinking("xx"),
                    ir.ToolCall("t1", "Bash", '{"cmd":"ls"}'),
                    ir.ToolCall("t2", "Read", ""),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.Text("and then summarise", cache_control={"type": "ephemeral"}),
                    ir.ToolResult("t1", [ir.Text("a.txt"), ir.Text("b.txt")]),
                    ir.ToolResult(
                        "t2",
                        [ir.Text("boom"), ir.Image(media_type="image/png", data="QUJD")],
                        is_error=True,
                    ),
                ],
            ),
            ir.Message("system", [ir.Text("mid-conversation reminder")]),
        ],
    )
    out = openai_chat.encode_request(req, "glm-5.1", Capabilities(reasoning_replay=False))
    assert out == {
        "model": "glm-5.1",
        "messages": [
            {"role": "system", "content": "sys one\n\nsys two"},
            {"role": "user", "content": "run both"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "Bash", "arguments": '{"cmd":"ls"}'},
                    },
                    {
                        "id": "t2",
                        "type": "function",
                        "function": {"name": "Read", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "a.txt\nb.txt"},
            {"role": "tool", "tool_call_id": "t2", "content": "[tool error] boom"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Images returned by tool t2:"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
                    {"type": "text", "text": "and then summarise"},
                ],
            },
            {"role": "system", "content": "mid-conversation reminder"},
        ],
    }


def test_encode_request_only_tool_results_emit_no_user_message() -> None:
    req = ir.Request(
        model="m",
        messages=[
            ir.Message("assistant", [ir.ToolCall("t1", "Read", "{}")]),
            ir.Message("user", [ir.ToolResult("t1", [ir.Image(url="https://x/y.png")])]),
        ],
    )
    msgs = openai_chat.encode_request(req, "m", Capabilities(reasoning_replay=False))["messages"]
    assert [m["role"] for m in msgs] == ["assistant", "tool", "user"]
    assert msgs[1]["content"]  # never empty: some providers reject empty tool content
    assert msgs[2]["content"][1] == {"type": "image_url", "image_url": {"url": "https://x/y.png"}}

    req.messages[1] = ir.Message("user", [ir.ToolResult("t1", [ir.Text("done")])])
    msgs = openai_chat.encode_request(req, "m", Capabilities(reasoning_replay=False))["messages"]
    assert msgs[1:] == [{"role": "tool", "tool_call_id": "t1", "content": "done"}]


def test_encode_request_user_content_shapes() -> None:
    req = ir.Request(
        model="m",
        messages=[
            ir.Message("user", [ir.Text("one")]),
            ir.Message("user", [ir.Text("a"), ir.Text(""), ir.Text("b")]),
            ir.Message("user", [ir.Image(url="https://x/i.png")]),
        ],
    )
    msgs = openai_chat.encode_request(req, "m", Capabilities())["messages"]
    assert msgs == [
        {"role": "user", "content": "one"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x/i.png"}}],
        },
    ]


@pytest.mark.parametrize(
    ("replay", "expected"),
    [
        (
            True,
            [
                {"role": "assistant", "content": "hi", "reasoning_content": "step 1\n\nstep 2"},
                {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "assistant", "content": "plain", "reasoning_content": ""},
            ],
        ),
        (
            False,
            [
                {"role": "assistant", "content": "hi"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "assistant", "content": "plain"},
            ],
        ),
    ],
)
def test_encode_request_reasoning_replay(replay: bool, expected: list[dict[str, Any]]) -> None:
    req = ir.Request(
        model="m",
        messages=[
            ir.Message(
                "assistant",
                [ir.Thinking("step 1"), ir.Text("h"), ir.Thinking("step 2"), ir.Text("i")],
            ),
            ir.Message("assistant", [ir.ToolCall("c", "f", "{}")]),
            ir.Message("assistant", [ir.Text("plain")]),
        ],
    )
    msgs = openai_chat.encode_request(req, "m", Capabilities(reasoning_replay=replay))["messages"]
    assert msgs == expected


def test_encode_request_options() -> None:
    req = ir.Request(
        model="claude-x",
        messages=[ir.Message("user", [ir.Text("hi")])],
        max_tokens=32000,
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        stop=["END"],
        stream=True,
        tools=[
            ir.Tool(
                "ls",
                "list files",
                {"type": "object", "properties": {}},
                cache_control={"type": "ephemeral"},
            ),
            ir.Tool("now", None, {"type": "object"}, strict=True),
        ],
        tool_choice=ir.ToolChoice("any"),
        parallel_tool_calls=False,
        thinking=ir.ThinkingConfig("enabled", effort="high"),
        response_format={"type": "json_object"},
        user="u",
        openai_extra={"seed": 1, "model": "must-not-override"},
    )
    out = openai_chat.encode_request(
        req, "kimi-k2.6", Capabilities(max_output_tokens=16384, reasoning_effort=True))
    assert out == {
        "model": "kimi-k2.6",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 16384,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END"],
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "ls",
                    "description": "list files",
                    "parameters": {"type": "object", "properties": {}},
                },
            },
            {
                "type": "function",
                "function": {"name": "now", "parameters": {"type": "object"}, "strict": True},
            },
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "reasoning_effort": "high",
        "response_format": {"type": "json_object"},
        "user": "u",
        "seed": 1,
    }


def test_encode_request_option_edges() -> None:
    base = ir.Request(model="m", messages=[ir.Message("user", [ir.Text("hi")])])
    caps = Capabilities(parallel_tool_calls=False)
    out = openai_chat.encode_request(base, "m", caps)
    assert out == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

    base.max_tokens = 100
    base.tools = [ir.Tool("f", None, {"type": "object"})]
    base.parallel_tool_calls = True
    base.thinking = ir.ThinkingConfig("disabled", effort="none")
    for choice, wire in (
        (ir.ToolChoice("auto"), "auto"),
        (ir.ToolChoice("none"), "none"),
        (ir.ToolChoice("tool", "f"), {"type": "function", "function": {"name": "f"}}),
    ):
        base.tool_choice = choice
        out = openai_chat.encode_request(base, "m", Capabilities(max_output_tokens=4096))
        assert out["tool_choice"] == wire
        assert out["max_tokens"] == 100
        assert out["parallel_tool_calls"] is True
        assert "reasoning_effort" not in out
    assert "parallel_tool_calls" not in openai_chat.encode_request(base, "m", caps)
    base.tools = []  # no tools: OpenAI rejects tool_choice and parallel_tool_calls
    out = openai_chat.encode_request(base, "m", Capabilities())
    assert "tool_choice" not in out and "parallel_tool_calls" not in out


def test_decode_encode_request_round_trip() -> None:
    wire = body(
        [
            {"role": "system", "content": "sys"},
            user("hi"),
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "think",
                "tool_calls": [
                    {
                        "id": "a",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x":1}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": "ok"},
            user("next"),
        ],
        max_tokens=50,
    )
    out = openai_chat.encode_request(
        openai_chat.decode_request(wire), "glm-5", Capabilities(reasoning_replay=True)
    )
    assert out == {
        **wire,
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "think",
                "tool_calls": [
                    {
                        "id": "a",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x":1}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": "ok"},
            {"role": "user", "content": "next"},
        ],
    }


# ---------------------------------------------------------------- decode_response


def completion(
    message: dict[str, Any], finish: str | None = "stop", usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-abc",
        "object": "chat.completion",
        "created": 1,
        "model": "deepseek-v4",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
        ],
        "usage": usage or {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


@pytest.mark.parametrize(
    ("message", "thinking"),
    [
        ({"reasoning_content": "rc", "reasoning": "r"}, "rc"),
        ({"reasoning": "r"}, "r"),
        ({"reasoning_content": "", "reasoning": "r"}, "r"),
        (
            {
                "reasoning_details": [
                    {"type": "reasoning.text", "text": "a"},
                    {"type": "reasoning.encrypted", "data": "x"},
                    {"text": "b"},
                ]
            },
            "ab",
        ),
        ({}, None),
    ],
)
def test_decode_response_reasoning_variants(message: dict[str, Any], thinking: str | None) -> None:
    resp = openai_chat.decode_response(completion({**message, "content": "answer"}))
    expected: list[Any] = [ir.Thinking(thinking)] if thinking else []
    assert resp.content == [*expected, ir.Text("answer")]
    assert resp.id == "chatcmpl-abc" and resp.model == "deepseek-v4"
    assert resp.stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("finish", "with_tools", "stop"),
    [
        ("stop", False, "end_turn"),
        ("length", False, "max_tokens"),
        ("tool_calls", True, "tool_use"),
        ("function_call", False, "tool_use"),
        ("content_filter", False, "refusal"),
        (None, False, "end_turn"),
        ("stop", True, "tool_use"),
        ("length", True, "max_tokens"),
        ("eos", False, "end_turn"),
    ],
)
def test_decode_response_finish_mapping(finish: str | None, with_tools: bool, stop: str) -> None:
    message: dict[str, Any] = {"content": "x"}
    if with_tools:
        message["tool_calls"] = [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]
    assert openai_chat.decode_response(completion(message, finish)).stop_reason == stop


def test_decode_response_tool_calls() -> None:
    resp = openai_chat.decode_response(
        completion(
            {
                "content": "",
                "tool_calls": [
                    {
                        "id": "functions.Bash:0",
                        "type": "function",
                        "function": {"name": "Bash", "arguments": '{"c":1}'},
                    },
                    {"type": "function", "function": {"name": "Read", "arguments": None}},
                    {"index": 5, "function": {"name": "Grep", "arguments": {"q": "x"}}},
                ],
            },
            "tool_calls",
        )
    )
    assert resp.content == [
        ir.ToolCall("functions.Bash:0", "Bash", '{"c":1}'),
        ir.ToolCall("call_1", "Read", ""),
        ir.ToolCall("call_5", "Grep", '{"q":"x"}'),
    ]


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {
                "prompt_tokens": 1000,
                "completion_tokens": 50,
                "total_tokens": 1050,
                "prompt_tokens_details": {"cached_tokens": 800},
                "completion_tokens_details": {"reasoning_tokens": 30},
            },
            ir.Usage(200, 50, 800, 0, 30),
        ),
        (  # Moonshot: cached_tokens at the top level
            {"prompt_tokens": 1000, "completion_tokens": 50, "cached_tokens": 600},
            ir.Usage(400, 50, 600, 0, None),
        ),
        (  # DeepSeek native
            {
                "prompt_tokens": 1000,
                "completion_tokens": 50,
                "prompt_cache_hit_tokens": 900,
                "prompt_cache_miss_tokens": 100,
            },
            ir.Usage(100, 50, 900, 0, None),
        ),
        (
            {
                "prompt_tokens": 1000,
                "completion_tokens": 1,
                "prompt_tokens_details": {"cached_tokens": 300, "cache_creation_tokens": 200},
            },
            ir.Usage(500, 1, 300, 200, None),
        ),
        (
            {"prompt_tokens": 10, "completion_tokens": 1, "cached_tokens": 50},
            ir.Usage(0, 1, 50, 0, None),
        ),
    ],
)
def test_decode_response_usage(usage: dict[str, Any], expected: ir.Usage) -> None:
    assert openai_chat.decode_response(completion({"content": "x"}, usage=usage)).usage == expected


@pytest.mark.parametrize(
    "raw",
    [
        {"error": {"message": "boom"}},
        {"choices": []},
        {"choices": [{"index": 0}]},
        {"choices": [{"message": {"content": "x"}, "finish_reason": "error"}]},
        {"choices": [{"message": {"tool_calls": [{"id": "a", "function": {"arguments": "{}"}}]}}]},
    ],
)
def test_decode_response_unusable(raw: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError):
        openai_chat.decode_response(raw)


# ---------------------------------------------------------------- encode_response


def test_encode_response() -> None:
    resp = ir.Response(
        id="msg_01",
        model="glm-5",
        content=[
            ir.Thinking("hmm", signature="s"),
            ir.RedactedThinking("r"),
            ir.Text("Hello "),
            ir.Text("world"),
            ir.ToolCall("toolu_1", "ls", '{"p":"."}'),
            ir.ToolCall("toolu_2", "now", ""),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(
            input_tokens=100,
            output_tokens=20,
            cache_read_tokens=900,
            cache_creation_tokens=50,
            reasoning_tokens=7,
        ),
    )
    out = openai_chat.encode_response(resp, "my-model")
    assert out["id"].startswith("chatcmpl-") and len(out["id"]) == len("chatcmpl-") + 24
    assert isinstance(out["created"], int)
    del out["id"], out["created"]
    assert out == {
        "object": "chat.completion",
        "model": "my-model",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello world",
                    "reasoning_content": "hmm",
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "ls", "arguments": '{"p":"."}'},
                        },
                        {
                            "id": "toolu_2",
                            "type": "function",
                            "function": {"name": "now", "arguments": "{}"},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 1050,
            "completion_tokens": 20,
            "total_tokens": 1070,
            "prompt_tokens_details": {"cached_tokens": 900},
            "completion_tokens_details": {"reasoning_tokens": 7},
        },
    }


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_encode_response_finish_and_empty(stop: ir.StopReason | None, finish: str) -> None:
    out = openai_chat.encode_response(ir.Response("chatcmpl-keep", "x", [], stop, ir.Usage()), "m")
    assert out["id"] == "chatcmpl-keep"
    assert out["choices"][0]["finish_reason"] == finish
    assert out["choices"][0]["message"] == {"role": "assistant", "content": None}
    assert "completion_tokens_details" not in out["usage"]


def test_error_body() -> None:
    assert openai_chat.error_body("invalid_request_error", "bad", param="messages") == {
        "error": {
            "message": "bad",
            "type": "invalid_request_error",
            "param": "messages",
            "code": None,
        }
    }


# ---------------------------------------------------------------- StreamDecoder

ZEN_COST = {
    "id": "chatcmpl-up1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "glm-5",
    "choices": [],
    "cost": "0.0012",
}


def test_stream_decode_text_usage_done_and_trailing_cost_chunk() -> None:
    frames = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Think"}),
        chunk({"reasoning_content": "ing."}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        usage_chunk(
            {
                "prompt_tokens": 120,
                "completion_tokens": 9,
                "total_tokens": 129,
                "prompt_tokens_details": {"cached_tokens": 100},
            }
        ),
        DONE,
        ZEN_COST,
        b"not even json",
    ]
    assert decode_stream(frames) == [
        ir.MessageStart(id="chatcmpl-up1", model="glm-5"),
        ir.ThinkingDelta("Think"),
        ir.ThinkingDelta("ing."),
        ir.TextDelta("Hel"),
        ir.TextDelta("lo"),
        ir.MessageEnd("end_turn", ir.Usage(20, 9, 100, 0, None)),
    ]


def test_stream_decode_tool_call_split_across_fragments() -> None:
    frames = [
        chunk({"role": "assistant", "content": None, "reasoning": "need ls"}),
        chunk({"tool_calls": [tc(0, id="call_a", name="Bash", args="")]}),
        chunk({"tool_calls": [tc(0, args='{"comm')]}),
        chunk({"tool_calls": [tc(0, args='and":"ls"}')]}),
        chunk({}, "tool_calls", usage={"prompt_tokens": 5, "completion_tokens": 3}),
        DONE,
    ]
    assert decode_stream(frames) == [
        ir.MessageStart(id="chatcmpl-up1", model="glm-5"),
        ir.ThinkingDelta("need ls"),
        ir.ToolCallStart("call_a", "Bash"),
        ir.ToolCallDelta('{"comm'),
        ir.ToolCallDelta('and":"ls"}'),
        ir.MessageEnd("tool_use", ir.Usage(5, 3)),
    ]


def test_stream_decode_buffers_fragments_before_name_and_mints_id() -> None:
    frames = [
        chunk({"tool_calls": [tc(0, args='{"pa')]}),
        chunk({"tool_calls": [tc(0, args='th":"/')]}),
        chunk({"tool_calls": [tc(0, name="Read")]}),
        chunk({"tool_calls": [tc(0, args='"}')]}),
        chunk({}, "stop"),  # tool calls + stop -> tool_use
        DONE,
    ]
    assert decode_stream(frames)[1:] == [
        ir.ToolCallStart("call_0", "Read"),
        ir.ToolCallDelta('{"path":"/'),
        ir.ToolCallDelta('"}'),
        ir.MessageEnd("tool_use", ir.Usage()),
    ]


def test_stream_decode_interleaved_parallel_calls_are_emitted_whole() -> None:
    frames = [
        chunk({"tool_calls": [tc(0, id="a", name="Read", args="")]}),
        chunk({"tool_calls": [tc(1, id="b", name="Grep", args="")]}),
        chunk({"tool_calls": [tc(0, args='{"f":')]}),
        chunk({"tool_calls": [tc(1, args='{"q":')]}),
        chunk({"tool_calls": [tc(1, args='"x"}')]}),
        chunk({"tool_calls": [tc(0, args='"y"}')]}),
        chunk({"tool_calls": [tc(2, id="c", name="Glob", args='{"g":"*"}')]}),
        chunk({}, "tool_calls"),
        DONE,
    ]
    events = decode_stream(frames)
    assert events[1:] == [
        ir.ToolCallStart("a", "Read"),
        ir.ToolCallDelta('{"f":'),
        ir.ToolCallDelta('"y"}'),  # a is complete now: b (held) is promoted whole
        ir.ToolCallStart("b", "Grep"),
        ir.ToolCallDelta('{"q":"x"}'),
        ir.ToolCallStart("c", "Glob"),
        ir.ToolCallDelta('{"g":"*"}'),
        ir.MessageEnd("tool_use", ir.Usage()),
    ]


def test_stream_decode_held_calls_flushed_in_index_order_at_finish() -> None:
    frames = [
        chunk({"tool_calls": [tc(0, id="a", name="A", args='{"x":')]}),
        chunk({"tool_calls": [tc(2, id="c", name="C", args="{}")]}),
        chunk({"tool_calls": [tc(1, id="b", name="B", args='{"y":2}')]}),
        chunk({}, "length"),  # a never completed: truncated, not repaired
        DONE,
    ]
    assert decode_stream(frames)[1:] == [
        ir.ToolCallStart("a", "A"),
        ir.ToolCallDelta('{"x":'),
        ir.ToolCallStart("b", "B"),
        ir.ToolCallDelta('{"y":2}'),
        ir.ToolCallStart("c", "C"),
        ir.ToolCallDelta("{}"),
        ir.MessageEnd("max_tokens", ir.Usage()),
    ]


def test_stream_decode_sequential_parallel_calls_stream_live() -> None:
    frames = [
        chunk({"content": "Checking."}),
        chunk({"tool_calls": [tc(0, id="a", name="A", args='{"x":1}')]}),
        chunk({"tool_calls": [tc(1, id="b", name="B", args='{"y"')]}),
        chunk({"tool_calls": [tc(1, args=":2}")]}),
        chunk({}, "tool_calls"),
        DONE,
    ]
    assert decode_stream(frames)[1:] == [
        ir.TextDelta("Checking."),
        ir.ToolCallStart("a", "A"),
        ir.ToolCallDelta('{"x":1}'),
        ir.ToolCallStart("b", "B"),
        ir.ToolCallDelta('{"y"'),
        ir.ToolCallDelta(":2}"),
        ir.MessageEnd("tool_use", ir.Usage()),
    ]


def test_stream_decode_calls_without_index_keyed_by_id() -> None:
    frames = [
        chunk(
            {
                "tool_calls": [
                    {"id": "g1", "type": "function", "function": {"name": "A", "arguments": "{}"}},
                    {
                        "id": "g2",
                        "type": "function",
                        "function": {"name": "B", "arguments": '{"k":1}'},
                    },
                ]
            }
        ),
        chunk({}, "stop"),
        DONE,
    ]
    assert decode_stream(frames)[1:] == [
        ir.ToolCallStart("g1", "A"),
        ir.ToolCallDelta("{}"),
        ir.ToolCallStart("g2", "B"),
        ir.ToolCallDelta('{"k":1}'),
        ir.MessageEnd("tool_use", ir.Usage()),
    ]


def test_stream_decode_reused_index_with_new_id_is_a_new_call() -> None:
    frames = [
        chunk({"tool_calls": [tc(0, id="a", name="A", args="{}")]}),
        chunk({"tool_calls": [tc(0, id="b", name="B", args="{}")]}),
        chunk({}, "tool_calls"),
        DONE,
    ]
    assert decode_stream(frames)[1:] == [
        ir.ToolCallStart("a", "A"),
        ir.ToolCallDelta("{}"),
        ir.ToolCallStart("b", "B"),
        ir.ToolCallDelta("{}"),
        ir.MessageEnd("tool_use", ir.Usage()),
    ]


def test_stream_decode_content_and_finish_in_one_chunk() -> None:
    frames = [
        chunk(
            {"role": "assistant", "content": "all at once"},
            "stop",
            usage={"prompt_tokens": 3, "completion_tokens": 4},
        ),
        DONE,
    ]
    assert decode_stream(frames) == [
        ir.MessageStart(id="chatcmpl-up1", model="glm-5"),
        ir.TextDelta("all at once"),
        ir.MessageEnd("end_turn", ir.Usage(3, 4)),
    ]


def test_stream_decode_whitespace_only_text_never_opens_a_block() -> None:
    frames = [
        chunk({"content": "\n\n"}),
        chunk({"tool_calls": [tc(0, id="a", name="A", args='{"x":')]}),
        chunk({"content": "\n"}),  # between fragments: dropped, the call stays open
        chunk({"tool_calls": [tc(0, args="1}")]}),
        chunk({"content": " "}),
        chunk({"content": "Done"}),
        chunk({"content": " "}),
        chunk({}, "stop"),
        DONE,
    ]
    assert decode_stream(frames)[1:] == [
        ir.ToolCallStart("a", "A"),
        ir.ToolCallDelta('{"x":'),
        ir.ToolCallDelta("1}"),
        ir.TextDelta(" Done"),
        ir.TextDelta(" "),
        ir.MessageEnd("tool_use", ir.Usage()),
    ]


def test_stream_decode_reasoning_variants() -> None:
    frames = [
        chunk({"reasoning": "a"}),
        chunk({"reasoning": "b", "reasoning_details": [{"type": "reasoning.text", "text": "b"}]}),
        chunk({"reasoning_details": [{"type": "reasoning.text", "text": "c"}]}),
        chunk({"content": "x"}, "stop"),
        DONE,
    ]
    assert decode_stream(frames)[1:4] == [
        ir.ThinkingDelta("a"),
        ir.ThinkingDelta("b"),
        ir.ThinkingDelta("c"),
    ]


@pytest.mark.parametrize(
    ("frame", "message", "etype"),
    [
        (
            {"error": {"message": "Upstream overloaded", "type": "server_error", "code": 529}},
            "Upstream overloaded",
            "overloaded_error",
        ),
        ({"error": {"message": "boom", "type": "server_error"}}, "boom", "api_error"),
        (
            {
                "id": "x",
                "error": {"code": 502, "message": "provider died"},
                "choices": [{"delta": {}, "finish_reason": "error"}],
            },
            "provider died",
            "api_error",
        ),
        ({"error": "plain string"}, "plain string", "api_error"),
    ],
)
def test_stream_decode_error_frame(frame: dict[str, Any], message: str, etype: str) -> None:
    dec = openai_chat.StreamDecoder()
    first = dec.feed(ev(chunk({"content": "partial"})))
    assert first == [ir.MessageStart(id="chatcmpl-up1", model="glm-5"), ir.TextDelta("partial")]
    events = dec.feed(ev(frame))
    assert len(events) == 1 and isinstance(events[0], ir.StreamError)
    assert events[0].message == message and events[0].type == etype
    assert dec.done
    assert dec.feed(DONE) == [] and dec.finish() == []


def test_stream_decode_invalid_json_and_finish_error() -> None:
    events = decode_stream([chunk({"content": "a"}), b"{not json", chunk({}, "stop"), DONE])
    assert isinstance(events[-1], ir.StreamError) and len(events) == 3
    events = decode_stream([chunk({"content": "a"}, "error"), DONE])
    assert events[-1] == ir.StreamError("upstream generation failed (finish_reason 'error')")


def test_stream_decode_eof_without_finish_is_an_error() -> None:
    events = decode_stream(
        [chunk({"tool_calls": [tc(0, id="a", name="Write", args='{"content":"trunc')]})]
    )
    assert events[-1] == ir.StreamError("upstream stream ended before finish_reason", "api_error")
    assert not any(isinstance(e, ir.MessageEnd) for e in events)


def test_stream_decode_done_without_finish_is_an_error() -> None:
    events = decode_stream([chunk({"content": "a"}), DONE])
    assert events[-1] == ir.StreamError("upstream stream ended without a finish_reason")


def test_stream_decode_eof_after_finish_without_done_ends_the_message() -> None:
    events = decode_stream(
        [
            chunk({"content": "a"}),
            chunk({}, "length"),
            usage_chunk({"prompt_tokens": 2, "completion_tokens": 1}),
        ]
    )
    assert events[-1] == ir.MessageEnd("max_tokens", ir.Usage(2, 1))


def test_stream_decode_tool_without_name_is_an_error() -> None:
    events = decode_stream(
        [chunk({"tool_calls": [tc(0, id="a", args="{}")]}), chunk({}, "tool_calls"), DONE]
    )
    assert events[-1] == ir.StreamError("upstream sent a tool call without a function name")


def test_stream_decode_ignores_keepalives_and_sets_done() -> None:
    dec = openai_chat.StreamDecoder()
    assert dec.feed(SSEEvent(None, b"", b"data:")) == []
    assert not dec.done
    dec.feed(ev(chunk({}, "stop")))
    assert dec.feed(SSEEvent(None, b" [DONE] ", b"")) == [ir.MessageEnd("end_turn", ir.Usage())]
    assert dec.done


# ---------------------------------------------------------------- StreamEncoder


def test_stream_encode_sequence() -> None:
    enc = openai_chat.StreamEncoder("my-model")
    events: list[ir.StreamEvent] = [
        ir.MessageStart(id="msg_1", model="glm-5", usage=ir.Usage(10)),
        ir.ThinkingDelta("hmm"),
        ir.ThinkingSignature("sig"),
        ir.TextDelta("Hi"),
        ir.ToolCallStart("toolu_a", "ls"),
        ir.ToolCallDelta('{"p":'),
        ir.ToolCallDelta('"."}'),
        ir.ToolCallStart("toolu_b", "now"),  # no arguments: gets "{}"
        ir.MessageEnd("tool_use", ir.Usage(10, 5, 100, 0, 2)),
        ir.TextDelta("after the end"),
        ir.StreamError("late"),
    ]
    data = b"".join(enc.encode(e) for e in events)
    frames = parse_frames(data)
    assert frames[-1] == "[DONE]"
    chunks = frames[:-1]
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-")
    assert {c["created"] for c in chunks} == {chunks[0]["created"]}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "my-model" for c in chunks)
    choices = [c["choices"] for c in chunks]
    assert choices == [
        [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        [{"index": 0, "delta": {"reasoning_content": "hmm"}, "finish_reason": None}],
        [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
        [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "toolu_a",
                            "type": "function",
                            "function": {"name": "ls", "arguments": ""},
                        }
                    ]
                },
                "finish_reason": None,
            }
        ],
        [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"p":'}}]},
                "finish_reason": None,
            }
        ],
        [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '"."}'}}]},
                "finish_reason": None,
            }
        ],
        [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "toolu_b",
                            "type": "function",
                            "function": {"name": "now", "arguments": ""},
                        }
                    ]
                },
                "finish_reason": None,
            }
        ],
        [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
                "finish_reason": None,
            }
        ],
        [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
        [],
    ]
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 110,
        "completion_tokens": 5,
        "total_tokens": 115,
        "prompt_tokens_details": {"cached_tokens": 100},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    assert "usage" not in chunks[0]
    assert enc.done and enc.encode(ir.MessageEnd("end_turn", ir.Usage())) == b""


def test_stream_encode_synthesizes_role_chunk_and_respects_include_usage() -> None:
    enc = openai_chat.StreamEncoder("m", include_usage=False)
    data = enc.encode(ir.TextDelta("x")) + enc.encode(ir.MessageEnd("max_tokens", ir.Usage(1, 1)))
    frames = parse_frames(data)
    assert [f if f == "[DONE]" else f["choices"][0]["delta"] for f in frames] == [
        {"role": "assistant", "content": ""},
        {"content": "x"},
        {},
        "[DONE]",
    ]
    assert frames[2]["choices"][0]["finish_reason"] == "length"


def test_stream_encode_keeps_upstream_chatcmpl_id() -> None:
    enc = openai_chat.StreamEncoder("m")
    frames = parse_frames(
        enc.encode(ir.MessageStart(id="chatcmpl-up9")) + enc.encode(ir.TextDelta("y"))
    )
    assert [f["id"] for f in frames] == ["chatcmpl-up9", "chatcmpl-up9"]
    assert enc.response_id == "chatcmpl-up9"


@pytest.mark.parametrize(
    ("etype", "wire_type"),
    [
        ("overloaded_error", "service_unavailable"),
        ("api_error", "server_error"),
        ("rate_limit_error", "rate_limit_error"),
    ],
)
def test_stream_encode_error_frame_is_terminal(etype: str, wire_type: str) -> None:
    enc = openai_chat.StreamEncoder("m")
    data = (
        enc.encode(ir.MessageStart())
        + enc.encode(ir.TextDelta("a"))
        + enc.encode(ir.StreamError("it broke", etype))
    )
    data += enc.encode(ir.MessageEnd("end_turn", ir.Usage())) + enc.encode(ir.TextDelta("b"))
    frames = parse_frames(data)
    assert frames[-1] == {"error": {"message": "it broke", "type": wire_type, "code": None}}
    assert len(frames) == 3 and "[DONE]" not in frames


# ---------------------------------------------------------------- round trip


def test_stream_round_trip_encoder_to_decoder() -> None:
    events: list[ir.StreamEvent] = [
        ir.ThinkingDelta("plan "),
        ir.ThinkingDelta("it"),
        ir.TextDelta("Running."),
        ir.ToolCallStart("call_1", "Bash"),
        ir.ToolCallDelta('{"cmd":'),
        ir.ToolCallDelta('"ls -la"}'),
        ir.ToolCallStart("call_2", "Read"),
        ir.ToolCallDelta('{"path":"/etc/hosts"}'),
        ir.MessageEnd("tool_use", ir.Usage(40, 12, 960, 0, 5)),
    ]
    enc = openai_chat.StreamEncoder("client-model")
    wire = enc.encode(ir.MessageStart()) + b"".join(enc.encode(e) for e in events)
    wire += b'data: {"choices":[],"cost":"0.1"}\n\n'  # Zen's trailing cost chunk
    parser = SSEParser()
    dec = openai_chat.StreamDecoder()
    out: list[ir.StreamEvent] = []
    # feed in awkward slices to exercise the parser's buffering too
    for i in range(0, len(wire), 7):
        for sse in parser.feed(wire[i : i + 7]):
            out.extend(dec.feed(sse))
    for sse in parser.flush():
        out.extend(dec.feed(sse))
    out.extend(dec.finish())
    assert out == [ir.MessageStart(id=enc.response_id, model="client-model"), *events]


def test_encode_request_thinking_switch_and_effort_per_capability() -> None:
    def encode(thinking: ir.ThinkingConfig, caps: Capabilities) -> dict[str, object]:
        req = ir.Request(model="m", messages=[ir.Message("user", [ir.Text("hi")])],
                         thinking=thinking)
        out = openai_chat.encode_request(req, "m", caps)
        return {k: out[k] for k in ("thinking", "reasoning_effort") if k in out}

    on = ir.ThinkingConfig("adaptive", effort="high")
    off = ir.ThinkingConfig("disabled")
    switch = Capabilities(thinking_switch=True)
    both = Capabilities(thinking_switch=True, reasoning_effort=True)
    assert encode(on, switch) == {"thinking": {"type": "enabled"}}  # GLM: no reasoning_effort
    assert encode(off, switch) == {"thinking": {"type": "disabled"}}
    assert encode(on, both) == {"thinking": {"type": "enabled"}, "reasoning_effort": "high"}
    assert encode(ir.ThinkingConfig("enabled", effort="none"), both) == {
        "thinking": {"type": "disabled"}}
    assert encode(on, Capabilities()) == {}  # a plain OpenAI-compatible model: neither
