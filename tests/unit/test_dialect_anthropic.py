"""Anthropic Messages codec, tested as data: wire in, expected ir / wire out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from crossway import ir, signatures, toolids
from crossway.dialects import Capabilities
from crossway.dialects import anthropic as A
from crossway.dialects.sse import SSEEvent, SSEParser
from crossway.errors import InvalidRequest, UpstreamError

NATIVE = Capabilities(anthropic_native=True)
COMPAT = Capabilities()


def body(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 32000,
        "messages": [{"role": "user", "content": "hi"}],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


# ---------------------------------------------------------------- decode_request: validation

INVALID = [
    (body(model=None), "model", "field required"),
    (body(model=""), "model", "non-empty string"),
    (body(model=5), "model", "non-empty string"),
    (body(max_tokens=None), "max_tokens", "field required"),
    (body(max_tokens=0), "max_tokens", ">= 1"),
    (body(max_tokens="10"), "max_tokens", ">= 1"),
    (body(max_tokens=True), "max_tokens", ">= 1"),
    (body(messages=None), "messages", "field required"),
    (body(messages=[]), "messages", "non-empty list"),
    (body(messages={"role": "user"}), "messages", "non-empty list"),
    (body(messages=["hi"]), "messages.0", "must be an object"),
    (body(messages=[{"role": "bot", "content": "x"}]), "messages.0.role", "must be"),
    (body(messages=[{"role": "user", "content": 3}]), "messages.0.content", "string or a list"),
    (
        body(messages=[{"role": "user", "content": [{"type": "text", "text": 1}]}]),
        "messages.0.content.0.text",
        "must be a string",
    ),
    (
        body(
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "document"}]},
            ]
        ),
        "messages.2.content.1.type",
        "does not support content block type 'document'",
    ),
    (
        body(messages=[{"role": "assistant", "content": [{"type": "server_tool_use"}]}]),
        "messages.0.content.0.type",
        "does not support content block type 'server_tool_use'",
    ),
    (
        body(messages=[{"role": "user", "content": [{"type": "search_result"}]}]),
        "messages.0.content.0.type",
        "does not support",
    ),
    (
        body(messages=[{"role": "user", "content": [{"text": "no type"}]}]),
        "messages.0.content.0.type",
        "field required",
    ),
    (
        body(
            messages=[{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b"}]}]
        ),
        "messages.0.content.0.type",
        "not allowed in a user message",
    ),
    (
        body(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "document"}],
                        }
                    ],
                }
            ]
        ),
        "messages.0.content.0.content.0.type",
        "does not support content block type 'document'",
    ),
    (
        body(
            messages=[{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]
        ),
        "messages.0.content.0.source.type",
        "image source type 'file'",
    ),
    (body(system=5), "system", "string or a list"),
    (body(system=[{"type": "image"}]), "system.0.type", "'text'"),
    (body(tools={"name": "x"}), "tools", "must be a list"),
    (body(tools=[{"name": "x"}]), "tools.0.input_schema", "must be an object"),
    (body(tools=[{"input_schema": {}}]), "tools.0.name", "non-empty string"),
    (body(tool_choice={"type": "required"}), "tool_choice.type", "must be"),
    (body(tool_choice={"type": "tool"}), "tool_choice.name", "non-empty string"),
    (body(temperature="hot"), "temperature", "number"),
    (body(top_k=1.5), "top_k", "integer"),
    (body(stop_sequences="END"), "stop_sequences", "list of strings"),
    (body(stream="yes"), "stream", "boolean"),
    (body(thinking={"type": "enabled"}), "thinking.budget_tokens", ">= 1"),
    (body(thinking={"type": "on"}), "thinking.type", "must be"),
    (body(output_config={"format": {"type": "json"}}), "output_config.format", "json_schema"),
]


@pytest.mark.parametrize(("wire", "param", "words"), INVALID)
def test_decode_request_rejects_bad_input_naming_the_field(
    wire: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        A.decode_request(wire)
    assert info.value.param == param
    assert info.value.message.startswith(param + ": ")
    assert words in info.value.message
    assert info.value.status == 400


def test_decode_request_rejects_non_object_body() -> None:
    with pytest.raises(InvalidRequest):
        A.decode_request([])  # type: ignore[arg-type]


# ---------------------------------------------------------------- decode_request: content


def test_decode_request_claude_code_shape() -> None:
    cc = {"type": "ephemeral"}
    wire = body(
        system=[
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.1"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": cc},
            {"type": "text", "text": "   "},
        ],
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": ""}, {"type": "text", "text": "go"}],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "plan", "signature": "sig1"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": " \n"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Bash",
                        "input": {"command": "ls"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "text", "text": "a.txt"},
                            {"type": "text", "text": ""},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "AAAA",
                                },
                            },
                        ],
                        "is_error": True,
                        "cache_control": cc,
                    },
                ],
            },
            {
                "role": "system",
                "content": "<system-reminder>todo list empty</system-reminder>",
                "output_config": {"effort": "high"},
            },
            {"role": "system", "content": [{"type": "text", "text": "block form"}]},
            {"role": "user", "content": "   "},
        ],
        metadata={"user_id": "user_abc_account_x_session_y"},
        stream=True,
        context_management={"edits": []},
        service_tier="auto",
        container="c",
        mcp_servers=[],
        anthropic_beta=["x"],
        cache_control={"type": "ephemeral"},
    )
    req = A.decode_request(wire)
    assert req.model == "claude-sonnet-4-6"
    assert req.max_tokens == 32000
    assert req.stream is True
    assert req.user == "user_abc_account_x_session_y"
    assert req.system == [
        ir.Text("x-anthropic-billing-header: cc_version=2.1.1"),
        ir.Text("You are Claude Code.", cc),
    ]
    assert req.messages == [
        ir.Message("user", [ir.Text("go")]),
        ir.Message(
            "assistant",
            [
                ir.Thinking("plan", "sig1"),
                ir.RedactedThinking("opaque"),
                ir.ToolCall("toolu_1", "Bash", '{"command":"ls"}'),
            ],
        ),
        ir.Message(
            "user",
            [
                ir.ToolResult(
                    "toolu_1",
                    [ir.Text("a.txt"), ir.Image(media_type="image/png", data="AAAA")],
                    is_error=True,
                    cache_control=cc,
                )
            ],
        ),
        ir.Message("system", [ir.Text("<system-reminder>todo list empty</system-reminder>")]),
        ir.Message("system", [ir.Text("block form")]),
        ir.Message("user", []),
    ]


def test_decode_request_image_url_and_string_tool_result() -> None:
    wire = body(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                    {"type": "tool_result", "tool_use_id": "t", "content": "done"},
                    {"type": "tool_result", "tool_use_id": "u"},
                ],
            }
        ]
    )
    assert A.decode_request(wire).messages[0].content == [
        ir.Image(url="https://x/y.png"),
        ir.ToolResult("t", [ir.Text("done")]),
        ir.ToolResult("u", []),
    ]


def test_decode_request_sampling_and_thinking() -> None:
    req = A.decode_request(
        body(
            temperature=0.7,
            top_p=0.9,
            top_k=40,
            stop_sequences=["END"],
            thinking={"type": "enabled", "budget_tokens": 4096},
            output_config={
                "effort": "high",
                "format": {"type": "json_schema", "schema": {"type": "object"}},
            },
        )
    )
    assert (req.temperature, req.top_p, req.top_k, req.stop) == (0.7, 0.9, 40, ["END"])
    assert req.thinking == ir.ThinkingConfig("enabled", 4096, "high")
    assert req.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": True},
    }
    assert req.stream is False


@pytest.mark.parametrize(
    ("thinking", "config", "expected"),
    [
        (
            {"type": "adaptive", "display": "summarized"},
            {"effort": "medium"},
            ("adaptive", None, "medium"),
        ),
        ({"type": "disabled"}, None, ("disabled", None, None)),
        (None, {"effort": "low"}, ("adaptive", None, "low")),
    ],
)
def test_decode_request_thinking_variants(
    thinking: Any, config: Any, expected: tuple[str, int | None, str | None]
) -> None:
    req = A.decode_request(body(thinking=thinking, output_config=config))
    assert req.thinking == ir.ThinkingConfig(*expected)  # type: ignore[arg-type]


def test_decode_request_no_thinking() -> None:
    assert A.decode_request(body()).thinking is None


SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {}}


def test_decode_request_tools_server_tools_stripped() -> None:
    req = A.decode_request(
        body(
            tools=[
                {
                    "name": "Bash",
                    "description": "run",
                    "input_schema": SCHEMA,
                    "cache_control": {"type": "ephemeral"},
                },
                {
                    "type": "custom",
                    "name": "Read",
                    "input_schema": {"type": "object"},
                    "strict": True,
                },
                {"name": "mcp__x__y", "input_schema": {"type": "object"}, "defer_loading": True},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 8},
                {"type": "web_fetch_20250910", "name": "web_fetch"},
                {"type": "code_execution_20250825", "name": "code_execution"},
            ],
            tool_choice={"type": "any", "disable_parallel_tool_use": True},
        )
    )
    assert req.tools == [
        ir.Tool("Bash", "run", SCHEMA, None, {"type": "ephemeral"}),
        ir.Tool("Read", None, {"type": "object"}, True),
        ir.Tool("mcp__x__y", None, {"type": "object"}),
    ]
    assert req.tools[0].parameters is SCHEMA  # kept as given, not copied
    assert req.tool_choice == ir.ToolChoice("any")
    assert req.parallel_tool_calls is False


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, ir.ToolChoice("auto"), None),
        ({"type": "none"}, ir.ToolChoice("none"), None),
        (
            {"type": "tool", "name": "Bash", "disable_parallel_tool_use": True},
            ir.ToolChoice("tool", "Bash"),
            False,
        ),
        ({"type": "any", "disable_parallel_tool_use": False}, ir.ToolChoice("any"), None),
    ],
)
def test_decode_request_tool_choice(
    choice: dict[str, Any], expected: ir.ToolChoice, parallel: bool | None
) -> None:
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}]
    req = A.decode_request(body(tools=tools, tool_choice=choice))
    assert req.tool_choice == expected
    assert req.parallel_tool_calls is parallel


def test_decode_request_forced_server_tool_is_an_error() -> None:
    wire = body(
        tools=[
            {"name": "Bash", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        tool_choice={"type": "tool", "name": "web_search"},
    )
    with pytest.raises(InvalidRequest) as info:
        A.decode_request(wire)
    assert info.value.param == "tool_choice.name"
    assert "server tool 'web_search'" in info.value.message
    assert "cannot run" in info.value.message


def test_decode_request_any_with_only_server_tools_is_an_error() -> None:
    wire = body(
        tools=[{"type": "web_search_20250305", "name": "web_search"}], tool_choice={"type": "any"}
    )
    with pytest.raises(InvalidRequest, match="server tools"):
        A.decode_request(wire)


# ---------------------------------------------------------------- encode_request


def conversation() -> ir.Request:
    return ir.Request(
        model="client-model",
        system=[ir.Text("You are helpful.", {"type": "ephemeral"}), ir.Text("  ")],
        messages=[
            ir.Message("user", [ir.Text("list files")]),
            ir.Message(
                "assistant",
                [
                    ir.Thinking("let me look", None),
                    ir.Text(""),
                    ir.ToolCall("functions.Bash:0", "Bash", '{"command": "ls"}'),
                    ir.ToolCall("call_ok-1", "Read", ""),
                ],
            ),
            ir.Message("system", [ir.Text("<system-reminder>be brief</system-reminder>")]),
            ir.Message("user", [ir.Text("also this")]),
            ir.Message(
                "user",
                [
                    ir.ToolResult("functions.Bash:0", [ir.Text("a.txt")]),
                    ir.ToolResult(
                        "call_ok-1",
                        [ir.Text("x"), ir.Image(url="data:image/png;base64,QUJD")],
                        is_error=True,
                    ),
                ],
            ),
            ir.Message("assistant", [ir.Text("done")]),
            ir.Message("assistant", [ir.Thinking("more", signatures.mint("more")), ir.Text("!")]),
        ],
        max_tokens=None,
        temperature=1.5,
        top_p=0.9,
        top_k=20,
        stop=["END"],
        stream=True,
        tools=[
            ir.Tool(
                "Bash",
                "Run a command",
                {"type": "object", "properties": {"command": {"type": "string"}}},
            ),
            ir.Tool("Noop", None, {}, cache_control={"type": "ephemeral"}),
        ],
        tool_choice=ir.ToolChoice("auto"),
        parallel_tool_calls=False,
        user="u-1",
    )


def test_encode_request_for_compatible_upstream() -> None:
    """Unsigned thinking is dropped, never sent with a signature crossway made up (B7)."""
    out = A.encode_request(conversation(), "minimax-m2.7", COMPAT)
    assert out == {
        "model": "minimax-m2.7",
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "You are helpful.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "<system-reminder>be brief</system-reminder>"},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "list files"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "functions_Bash_0",
                        "name": "Bash",
                        "input": {"command": "ls"},
                    },
                    {"type": "tool_use", "id": "call_ok-1", "name": "Read", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "functions_Bash_0", "content": "a.txt"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_ok-1",
                        "content": [
                            {"type": "text", "text": "x"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "QUJD",
                                },
                            },
                        ],
                        "is_error": True,
                    },
                    {"type": "text", "text": "also this"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "done"},
                    {"type": "text", "text": "!"},
                ],
            },
        ],
        "tools": [
            {
                "name": "Bash",
                "description": "Run a command",
                "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
            },
            {
                "name": "Noop",
                "input_schema": {"type": "object", "properties": {}},
                "cache_control": {"type": "ephemeral"},
            },
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "temperature": 1.0,
        "top_p": 0.9,
        "top_k": 20,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }


def test_encode_request_for_native_claude_strips_foreign_thinking() -> None:
    req = conversation()
    req.messages[1].content.insert(0, ir.RedactedThinking("opaque=="))
    req.messages[1].content.insert(1, ir.Thinking("real", "EqQBCkYIBxgCKkD"))
    req.messages[1].content.insert(2, ir.Thinking("empty sig", ""))
    out = A.encode_request(
        req, "claude-sonnet-4-6", Capabilities(anthropic_native=True, max_output_tokens=8192)
    )
    assert out["max_tokens"] == 8192
    assert out["messages"][1]["content"][:3] == [
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "thinking", "thinking": "real", "signature": "EqQBCkYIBxgCKkD"},
        {"type": "tool_use", "id": "functions_Bash_0", "name": "Bash", "input": {"command": "ls"}},
    ]
    # the crossway-minted thinking block of the last turn is gone
    assert out["messages"][3]["content"] == [
        {"type": "text", "text": "done"},
        {"type": "text", "text": "!"},
    ]
    # temperature and top_p together are rejected by newer Claude: top_p dropped
    assert out["temperature"] == 1.0
    assert "top_p" not in out
    assert out["top_k"] == 20


def test_encode_request_compat_drops_redacted_thinking_and_keeps_signatures() -> None:
    """A compatible upstream gets back the signatures it issued (carried by crossway), and
    nothing else: not a raw one (Claude's), not another model's, not one crossway minted."""
    req = ir.Request(
        model="m",
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message(
                "assistant",
                [
                    ir.RedactedThinking("x"),
                    ir.Thinking("t", signatures.carry("signature", "their-sig", "Qwen3.6-Plus")),
                    ir.Thinking("raw", "claude-sig"),
                    ir.Thinking("other", signatures.carry("signature", "s2", "minimax-m2.7")),
                    ir.Thinking("minted", signatures.mint("minted")),
                    ir.Thinking("", None),
                    ir.Text("a"),
                ],
            ),
        ],
        max_tokens=100,
    )
    out = A.encode_request(req, "qwen3.6-plus", COMPAT)
    assert out["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "t", "signature": "their-sig"},
        {"type": "text", "text": "a"},
    ]
    assert "system" not in out
    assert "stream" not in out
    assert "tools" not in out


def test_encode_request_id_sanitisation_keeps_pairs_and_is_deterministic() -> None:
    ids = ["functions.Bash:0", "call abc/1", "toolu_01ABC-x"]
    req = ir.Request(
        model="m",
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message("assistant", [ir.ToolCall(i, "T", "{}") for i in ids]),
            ir.Message("user", [ir.ToolResult(i, [ir.Text("r")]) for i in ids]),
        ],
    )
    out = A.encode_request(req, "m", NATIVE)
    uses = [b["id"] for b in out["messages"][1]["content"]]
    results = [b["tool_use_id"] for b in out["messages"][2]["content"]]
    assert uses == results == ["functions_Bash_0", "call_abc_1", "toolu_01ABC-x"]
    assert A.encode_request(req, "m", NATIVE) == out


def test_encode_request_invalid_tool_arguments_names_the_message() -> None:
    req = ir.Request(
        model="m",
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message("assistant", [ir.ToolCall("a", "Write", '{"x":')]),
        ],
    )
    with pytest.raises(InvalidRequest) as info:
        A.encode_request(req, "m", COMPAT)
    assert info.value.param == "messages.1.content.0"
    assert "'Write'" in info.value.message


def test_encode_request_empty_tool_result_content() -> None:
    req = ir.Request(
        model="m",
        messages=[
            ir.Message("user", [ir.Text("q")]),
            ir.Message("assistant", [ir.ToolCall("a", "T", "{}")]),
            ir.Message("user", [ir.ToolResult("a", [ir.Text(" ")])]),
        ],
    )
    native = A.encode_request(req, "m", NATIVE)["messages"][2]["content"]
    compat = A.encode_request(req, "m", COMPAT)["messages"][2]["content"]
    assert native == [{"type": "tool_result", "tool_use_id": "a"}]
    assert compat == [{"type": "tool_result", "tool_use_id": "a", "content": ""}]


def simple(**over: Any) -> ir.Request:
    req = ir.Request(model="m", messages=[ir.Message("user", [ir.Text("q")])])
    for k, v in over.items():
        setattr(req, k, v)
    return req


@pytest.mark.parametrize(
    ("req", "caps", "expected"),
    [
        (simple(max_tokens=64000), Capabilities(max_output_tokens=16384), {"max_tokens": 16384}),
        (simple(max_tokens=1000), Capabilities(max_output_tokens=16384), {"max_tokens": 1000}),
        (simple(), Capabilities(default_max_tokens=4096), {"max_tokens": 4096}),
        (simple(temperature=0.3, top_p=0.5), COMPAT, {"temperature": 0.3, "top_p": 0.5}),
        (simple(temperature=0.3, top_p=0.5), NATIVE, {"temperature": 0.3}),
        (simple(top_p=0.5), NATIVE, {"top_p": 0.5}),
        # thinking is only sent to real Claude
        (simple(thinking=ir.ThinkingConfig("enabled", 4096)), COMPAT, {}),
        (
            simple(
                max_tokens=2000,
                thinking=ir.ThinkingConfig("enabled", 4096),
                temperature=0.5,
                top_k=5,
            ),
            NATIVE,
            {"max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 1999}},
        ),
        (
            simple(max_tokens=20000, thinking=ir.ThinkingConfig("enabled", 100)),
            NATIVE,
            {"max_tokens": 20000, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        ),
        (
            simple(max_tokens=20000, thinking=ir.ThinkingConfig("enabled", None, "high")),
            NATIVE,
            {
                "max_tokens": 20000,
                "thinking": {"type": "enabled", "budget_tokens": 16384},
                "output_config": {"effort": "high"},
            },
        ),
        (
            simple(max_tokens=1000, thinking=ir.ThinkingConfig("enabled", 4096)),
            NATIVE,
            {"max_tokens": 1000},
        ),
        (
            simple(
                thinking=ir.ThinkingConfig("adaptive", None, "max"), temperature=0.2, top_p=0.99
            ),
            NATIVE,
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}, "top_p": 0.99},
        ),
        (
            simple(thinking=ir.ThinkingConfig("disabled"), temperature=0.2),
            NATIVE,
            {"thinking": {"type": "disabled"}, "temperature": 0.2},
        ),
        (
            simple(
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "o", "schema": {"type": "object"}},
                }
            ),
            NATIVE,
            {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
        ),
        (
            simple(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
            COMPAT,
            {},
        ),
    ],
)
def test_encode_request_parameters(
    req: ir.Request, caps: Capabilities, expected: dict[str, Any]
) -> None:
    out = A.encode_request(req, "up", caps)
    base = {
        "model": "up",
        "max_tokens": caps.default_max_tokens,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}],
    }
    assert out == {**base, **expected}


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (ir.ToolChoice("any"), False, {"type": "any", "disable_parallel_tool_use": True}),
        (ir.ToolChoice("tool", "Bash"), None, {"type": "tool", "name": "Bash"}),
        (ir.ToolChoice("none"), False, {"type": "none"}),
    ],
)
def test_encode_request_tool_choice(
    choice: ir.ToolChoice | None, parallel: bool | None, expected: dict[str, Any] | None
) -> None:
    req = simple(
        tools=[ir.Tool("Bash", None, {"type": "object", "properties": {}})],
        tool_choice=choice,
        parallel_tool_calls=parallel,
    )
    assert A.encode_request(req, "m", COMPAT).get("tool_choice") == expected


def test_decode_then_encode_round_trip_for_claude() -> None:
    wire = body(
        system=[{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "q"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "real"},
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"a": [1, 2]}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}],
            },
        ],
        tools=[
            {
                "name": "Bash",
                "description": "d",
                "input_schema": {"type": "object", "properties": {}},
            }
        ],
    )
    out = A.encode_request(A.decode_request(wire), "claude-sonnet-4-6", NATIVE)
    assert out == wire


# ---------------------------------------------------------------- responses


UPSTREAM_MESSAGE = {
    "id": "msg_01XYZ",
    "type": "message",
    "role": "assistant",
    "model": "MiniMax-M2.7",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": ""},
        {"type": "text", "text": ""},
        {"type": "text", "text": "Here:"},
        {"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "ls"}},
        {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100},
}


def test_decode_response() -> None:
    assert A.decode_response(UPSTREAM_MESSAGE) == ir.Response(
        id="msg_01XYZ",
        model="MiniMax-M2.7",
        content=[
            ir.Thinking("hmm", None),
            ir.Text("Here:"),
            ir.ToolCall("call_1", "Bash", '{"command":"ls"}'),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=10, output_tokens=5, cache_read_tokens=100),
    )


@pytest.mark.parametrize(
    "wire",
    [
        [],
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
        {"id": "msg_1", "content": None},
        {"id": "msg_1", "content": ["text"]},
    ],
)
def test_decode_response_unusable(wire: Any) -> None:
    with pytest.raises(UpstreamError):
        A.decode_response(wire)


def test_encode_response_no_empty_text_and_minted_signature() -> None:
    resp = ir.Response(
        id="chatcmpl-123",
        model="kimi-k2.6",
        content=[
            ir.Thinking("reasoning", None),
            ir.Text(""),
            ir.Text("\n\n"),
            ir.ToolCall("functions.Bash:0", "Bash", ""),
            ir.ToolCall("c2", "Read", '{"path":"a"}'),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(7, 3, 2, 1),
    )
    out = A.encode_response(resp, "claude-sonnet-4-6")
    assert out["id"].startswith("msg_") and len(out["id"]) == 28
    assert out == {
        "id": out["id"],
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [
            {
                "type": "thinking",
                "thinking": "reasoning",
                "signature": signatures.mint("reasoning"),
            },
            # Upstream ids are re-minted per response: valid and unique (spec B2, B12).
            {"type": "tool_use", "id": toolids.for_anthropic_client("functions.Bash:0", out["id"]),
             "name": "Bash", "input": {}},
            {"type": "tool_use", "id": toolids.for_anthropic_client("c2", out["id"]),
             "name": "Read", "input": {"path": "a"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 7,
            "output_tokens": 3,
            "cache_creation_input_tokens": 1,
            "cache_read_input_tokens": 2,
        },
    }


def test_encode_response_keeps_msg_id_and_allows_empty_content() -> None:
    resp = ir.Response("msg_keep", "x", [ir.Text(" ")], "end_turn", ir.Usage())
    out = A.encode_response(resp, "m")
    assert out["id"] == "msg_keep"
    assert out["content"] == []


def test_encode_response_truncated_tool_call() -> None:
    call = ir.ToolCall("c", "Write", '{"content": "abc')
    cut = ir.Response("msg_1", "x", [ir.Text("hi"), call], "max_tokens", ir.Usage())
    assert A.encode_response(cut, "m")["content"] == [{"type": "text", "text": "hi"}]
    broken = ir.Response("msg_1", "x", [call], "tool_use", ir.Usage())
    with pytest.raises(UpstreamError):
        A.encode_response(broken, "m")


def test_error_body() -> None:
    assert A.error_body("overloaded_error", "busy") == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "busy"},
    }


# ---------------------------------------------------------------- stream decode


def sse(text: str) -> list[SSEEvent]:
    parser = SSEParser()
    return parser.feed(text.encode()) + parser.flush()


def decode_all(text: str, *, eof: bool = True) -> tuple[list[ir.StreamEvent], A.StreamDecoder]:
    dec = A.StreamDecoder()
    out: list[ir.StreamEvent] = []
    for ev in sse(text):
        out.extend(dec.feed(ev))
    if eof:
        out.extend(dec.finish())
    return out, dec


def ev(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {orjson.dumps(data).decode()}\n\n"


UPSTREAM_STREAM = "".join(
    [
        ev(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_up",
                    "type": "message",
                    "role": "assistant",
                    "model": "MiniMax-M2.7",
                    "content": [],
                    "stop_reason": None,
                    "usage": {
                        "input_tokens": 12,
                        "output_tokens": 1,
                        "cache_read_input_tokens": 300,
                    },
                },
            },
        ),
        ev("ping", {"type": "ping"}),
        ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Let me "},
            },
        ),
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "check."},
            },
        ),
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "sig=="},
            },
        ),
        ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "redacted_thinking", "data": "zzz"},
            },
        ),
        ev("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "text_delta", "text": "Listing"},
            },
        ),
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "text_delta", "text": ""},
            },
        ),
        ev("content_block_stop", {"type": "content_block_stop", "index": 2}),
        ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 3,
                "content_block": {"type": "tool_use", "id": "toolu_9", "name": "Bash", "input": {}},
            },
        ),
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
        ),
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "input_json_delta", "partial_json": '{"command":'},
            },
        ),
        ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "input_json_delta", "partial_json": ' "ls"}'},
            },
        ),
        ev("content_block_stop", {"type": "content_block_stop", "index": 3}),
        ev(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 42},
            },
        ),
        ev("message_stop", {"type": "message_stop"}),
        # Zen's cost frame after message_stop (spec A8): must be ignored
        'event: ping\ndata: {"type":"ping","cost":"0.00123"}\n\n',
        ev("message_start", {"type": "message_start", "message": {"id": "msg_x"}}),
    ]
)

EXPECTED_EVENTS: list[ir.StreamEvent] = [
    ir.MessageStart(
        "msg_up", "MiniMax-M2.7", ir.Usage(input_tokens=12, output_tokens=1, cache_read_tokens=300)
    ),
    ir.ThinkingDelta("Let me "),
    ir.ThinkingDelta("check."),
    ir.ThinkingSignature("sig=="),
    ir.TextDelta("Listing"),
    ir.ToolCallStart("toolu_9", "Bash"),
    ir.ToolCallDelta('{"command":'),
    ir.ToolCallDelta(' "ls"}'),
    ir.MessageEnd("tool_use", ir.Usage(input_tokens=12, output_tokens=42, cache_read_tokens=300)),
]


def test_stream_decode_realistic_transcript() -> None:
    events, dec = decode_all(UPSTREAM_STREAM)
    assert events == EXPECTED_EVENTS
    assert dec.done


def test_stream_decode_crlf_and_data_only_frames() -> None:
    # Some compatible providers omit `event:` lines; dispatch falls back on the JSON type.
    text = UPSTREAM_STREAM.replace("\n", "\r\n")
    text = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("event:"))
    events, _ = decode_all(text)
    assert events == EXPECTED_EVENTS


def test_stream_decode_tool_start_with_input_and_initial_text() -> None:
    text = "".join(
        [
            ev(
                "message_start",
                {"type": "message_start", "message": {"id": "msg_1", "model": "q", "usage": {}}},
            ),
            ev(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": "Hi"},
                },
            ),
            ev(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 1,
                    "content_block": {
                        "type": "tool_use",
                        "id": "t",
                        "name": "Read",
                        "input": {"path": "a"},
                    },
                },
            ),
            ev(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "stop"},
                    "usage": {
                        "input_tokens": 3,
                        "output_tokens": 4,
                        "cache_creation_input_tokens": 9,
                    },
                },
            ),
            ev("message_stop", {"type": "message_stop"}),
        ]
    )
    events, _ = decode_all(text)
    assert events == [
        ir.MessageStart("msg_1", "q", ir.Usage()),
        ir.TextDelta("Hi"),
        ir.ToolCallStart("t", "Read"),
        ir.ToolCallDelta('{"path":"a"}'),
        ir.MessageEnd(
            "end_turn", ir.Usage(input_tokens=3, output_tokens=4, cache_creation_tokens=9)
        ),
    ]


def test_stream_decode_error_event_is_terminal() -> None:
    text = (
        UPSTREAM_STREAM.split("event: content_block_start")[0]
        + ev(
            "error",
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )
        + ev("message_stop", {"type": "message_stop"})
    )
    events, dec = decode_all(text)
    assert events == [
        EXPECTED_EVENTS[0],
        ir.StreamError("Overloaded", "overloaded_error", 529),
    ]
    assert dec.done


def test_stream_decode_eof_before_message_stop() -> None:
    text = UPSTREAM_STREAM.split("event: message_stop")[0]
    events, _ = decode_all(text)
    assert events[:-1] == EXPECTED_EVENTS[:-1]
    assert events[-1] == ir.StreamError(
        "upstream stream ended before message_stop", "api_error", 502
    )


def test_stream_decode_invalid_json() -> None:
    dec = A.StreamDecoder()
    assert dec.feed(SSEEvent("content_block_delta", b"{nope", b"")) == [
        ir.StreamError("upstream sent a stream event that is not valid JSON", "api_error", 502)
    ]
    assert dec.done
    assert dec.feed(SSEEvent("message_stop", b'{"type":"message_stop"}', b"")) == []
    assert dec.finish() == []


def test_stream_decode_synthesizes_message_start() -> None:
    dec = A.StreamDecoder()
    out = dec.feed(
        SSEEvent(
            None,
            b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}',
            b"",
        )
    )
    assert out == [ir.MessageStart(), ir.TextDelta("x")]


# ---------------------------------------------------------------- stream encode


def parse_client(data: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    return [(e.event, orjson.loads(e.data)) for e in SSEParser().feed(data)]


def encode_all(events: list[ir.StreamEvent], model: str = "claude-sonnet-4-6") -> bytes:
    enc = A.StreamEncoder(model)
    return b"".join(enc.encode(e) for e in events)


def test_stream_encode_b3_event_order() -> None:
    events: list[ir.StreamEvent] = [
        ir.MessageStart("chatcmpl-1", "kimi-k2.6", ir.Usage(input_tokens=20, cache_read_tokens=5)),
        ir.TextDelta("\n\n"),  # whitespace before reasoning: held, then discarded
        ir.ThinkingDelta("think"),
        ir.ThinkingDelta("ing"),
        ir.TextDelta("\n"),
        ir.TextDelta(" "),
        ir.TextDelta("Answer"),
        ir.TextDelta(" "),
        ir.ToolCallStart("functions.Bash:0", "Bash"),
        ir.ToolCallDelta('{"command":"ls"}'),
        ir.ToolCallStart("call_2", "Glob"),
        ir.TextDelta("  "),  # trailing whitespace: never opens a block
        ir.MessageEnd("tool_use", ir.Usage(20, 9, 5, 0)),
        ir.TextDelta("after end"),
        ir.StreamError("late"),
    ]
    frames = parse_client(encode_all(events))
    for name, data in frames:
        assert name == data["type"]
    msg = frames[0][1]["message"]
    assert msg["id"].startswith("msg_")
    assert frames == [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg["id"],
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-6",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 20,
                        "output_tokens": 0,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 5,
                    },
                },
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "think"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "ing"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": signatures.mint("thinking")},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": "\n Answer"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": " "},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {
                    "type": "tool_use",
                    "id": toolids.for_anthropic_client("functions.Bash:0", msg["id"]),
                    "name": "Bash",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"command":"ls"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 3,
                "content_block": {
                    "type": "tool_use",
                    "id": toolids.for_anthropic_client("call_2", msg["id"]),
                    "name": "Glob",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "input_json_delta", "partial_json": "{}"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 3}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {
                    "output_tokens": 9,
                    "input_tokens": 20,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 5,
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_stream_encode_raw_bytes_have_event_lines() -> None:
    out = encode_all(
        [ir.MessageStart("msg_a"), ir.TextDelta("hi"), ir.MessageEnd("end_turn", ir.Usage())]
    )
    assert out.startswith(
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_a",'
    )
    assert out.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert b'\n\nevent: ping\ndata: {"type":"ping"}\n\n' in out


def test_stream_encode_whitespace_only_stream_has_no_blocks() -> None:
    frames = parse_client(
        encode_all(
            [
                ir.MessageStart(),
                ir.TextDelta(" \n"),
                ir.TextDelta(""),
                ir.MessageEnd(None, ir.Usage()),
            ]
        )
    )
    assert [n for n, _ in frames] == ["message_start", "ping", "message_delta", "message_stop"]
    assert frames[2][1]["delta"]["stop_reason"] == "end_turn"


def test_stream_encode_synthesizes_message_start_and_error_is_terminal() -> None:
    enc = A.StreamEncoder("m")
    first = parse_client(enc.encode(ir.TextDelta("hi")))
    assert [n for n, _ in first] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
    ]
    err = parse_client(enc.encode(ir.StreamError("upstream went away", "overloaded_error", 529)))
    assert err == [
        (
            "error",
            {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "upstream went away"},
            },
        )
    ]
    assert enc.encode(ir.MessageEnd("end_turn", ir.Usage())) == b""
    assert enc.encode(ir.TextDelta("x")) == b""


def test_stream_encode_error_first_needs_no_message_start() -> None:
    frames = parse_client(encode_all([ir.StreamError("boom")]))
    assert frames == [
        ("error", {"type": "error", "error": {"type": "api_error", "message": "boom"}})
    ]


def test_stream_encode_signature_only_and_consecutive_thinking_blocks() -> None:
    frames = parse_client(
        encode_all(
            [
                ir.MessageStart("msg_1"),
                ir.ThinkingSignature("only-sig"),  # display "omitted": no thinking text
                ir.ThinkingDelta("a"),
                ir.ThinkingSignature("sig-a"),
                ir.ThinkingDelta("b"),
                ir.MessageEnd("end_turn", ir.Usage()),
            ]
        )
    )
    blocks = [
        (n, d.get("index"), d.get("delta") or d.get("content_block")) for n, d in frames[2:-2]
    ]
    assert blocks == [
        ("content_block_start", 0, {"type": "thinking", "thinking": "", "signature": ""}),
        ("content_block_delta", 0, {"type": "signature_delta", "signature": "only-sig"}),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, {"type": "thinking", "thinking": "", "signature": ""}),
        ("content_block_delta", 1, {"type": "thinking_delta", "thinking": "a"}),
        ("content_block_delta", 1, {"type": "signature_delta", "signature": "sig-a"}),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, {"type": "thinking", "thinking": "", "signature": ""}),
        ("content_block_delta", 2, {"type": "thinking_delta", "thinking": "b"}),
        ("content_block_delta", 2, {"type": "signature_delta", "signature": signatures.mint("b")}),
        ("content_block_stop", 2, None),
    ]


def test_stream_round_trip_encode_then_decode() -> None:
    events: list[ir.StreamEvent] = [
        ir.MessageStart(
            "msg_rt",
            "claude-x",
            ir.Usage(input_tokens=5, cache_read_tokens=7, cache_creation_tokens=1),
        ),
        ir.ThinkingDelta("why"),
        ir.ThinkingSignature("s1"),
        ir.TextDelta("Hello"),
        ir.TextDelta(" world"),
        ir.ToolCallStart("toolu_1", "Bash"),
        ir.ToolCallDelta('{"a":'),
        ir.ToolCallDelta("1}"),
        ir.ToolCallStart("toolu_2", "Noop"),
        ir.ToolCallDelta("{}"),
        ir.MessageEnd("tool_use", ir.Usage(5, 11, 7, 1)),
    ]
    data = encode_all(events, model="claude-x")
    parser = SSEParser()
    dec = A.StreamDecoder()
    decoded: list[ir.StreamEvent] = []
    # feed in awkward chunk sizes to exercise the parser too
    for k in range(0, len(data), 7):
        for e in parser.feed(data[k : k + 7]):
            decoded.extend(dec.feed(e))
    decoded.extend(dec.finish())
    # A tool call's arguments reach Anthropic clients whole, in one delta (the SDKs parse
    # every prefix and crash on one that cannot become JSON).
    whole = [*events[:6], ir.ToolCallDelta('{"a":1}'), *events[8:]]
    assert decoded == whole


def test_stream_round_trip_error() -> None:
    events: list[ir.StreamEvent] = [
        ir.MessageStart("msg_e", "m", ir.Usage()),
        ir.TextDelta("x"),
        ir.StreamError("nope", "rate_limit_error", 429),
    ]
    parser = SSEParser()
    dec = A.StreamDecoder()
    decoded = [out for e in parser.feed(encode_all(events, "m")) for out in dec.feed(e)]
    assert decoded == events


def test_signatures_of_compatible_upstreams_travel_with_their_issuer() -> None:
    """MiniMax's signature is wrapped with the model that issued it (only it may get it back);
    a real Claude's stays as Claude issued it (the same-dialect fast path forwards it too)."""
    body = {"id": "msg_1", "model": "MiniMax-M2.7", "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "content": [{"type": "thinking", "thinking": "t", "signature": "sig-1"},
                        {"type": "text", "text": "a"}]}
    compat = A.decode_response(body, COMPAT).content[0]
    assert isinstance(compat, ir.Thinking)
    carried = signatures.unwrap(compat.signature)
    assert carried == signatures.Carried("signature", "MiniMax-M2.7", "sig-1")
    native = A.decode_response(body, NATIVE).content[0]
    assert isinstance(native, ir.Thinking) and native.signature == "sig-1"
    # back upstream: to the issuer bare, to anyone else not at all
    req = ir.Request(model="m", max_tokens=10, messages=[
        ir.Message("user", [ir.Text("q")]), ir.Message("assistant", [compat, ir.Text("a")]),
        ir.Message("user", [ir.Text("again")])])
    assert A.encode_request(req, "minimax-m2.7", COMPAT)["messages"][1]["content"][0] == {
        "type": "thinking", "thinking": "t", "signature": "sig-1"}
    for model, caps in (("qwen3.7-max", COMPAT), ("claude-sonnet-4-6", NATIVE)):
        sent = A.encode_request(req, model, caps)["messages"][1]["content"]
        assert [b["type"] for b in sent] == ["text"]

    dec = A.StreamDecoder(COMPAT)
    events = [e for raw in (
        {"type": "message_start", "message": {"id": "msg_2", "model": "minimax-m2.7",
                                              "usage": {"input_tokens": 1}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "signature_delta", "signature": "sig-2"}})
        for e in dec.feed(SSEEvent(str(raw["type"]), orjson.dumps(raw), b""))]
    sig = [e for e in events if isinstance(e, ir.ThinkingSignature)]
    assert len(sig) == 1
    assert signatures.unwrap(sig[0].signature) == signatures.Carried(
        "signature", "minimax-m2.7", "sig-2")
