"""Canonical request, response and stream-event model shared by every dialect codec.

Each wire dialect decodes into these types and encodes from them, so any client dialect
reaches any upstream dialect through two codecs. The shape follows Anthropic Messages
(content as a list of typed parts, tool results as parts of a user turn) because it is the
richer of the two; OpenAI Chat Completions maps onto it without loss for the features we carry.

Plain slotted dataclasses: cheap to build on the hot path, no validation (codecs validate).

OpenAI Responses additions (all optional, with defaults, so the other dialects ignore them):
`Tool.kind` / `Tool.custom_format` and `ToolCall.custom` / `ToolCallStart.custom` for custom
(free-form) tools, `Thinking.encrypted_content` and the `ThinkingEncrypted` stream event for
Responses reasoning state, `ThinkingConfig.summary`, `Request.previous_response_id` and
`Request.responses_extra`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]

# Canonical stop reasons use Anthropic's words (anthropic-sdk-python types/stop_reason.py).
StopReason = Literal[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
]


# ---------------------------------------------------------------- content parts


@dataclass(slots=True)
class Text:
    text: str
    # Anthropic cache breakpoint ({"type": "ephemeral", "ttl"?}); dropped by dialects without one.
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class Image:
    """An image given inline (base64 `data` with `media_type`) or by `url`; exactly one is set."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolCall:
    """A model's request to call a tool. `arguments` is the JSON text of the input object.

    `custom`: a call of a Responses custom (free-form) tool. `arguments` is JSON all the same,
    `{"input": "<the free-form text>"}`, which is what an upstream of another dialect sees
    and produces for the function tool standing in for the custom tool (see `Tool.kind`).
    """

    id: str
    name: str
    arguments: str
    custom: bool = False


@dataclass(slots=True)
class ToolResult:
    tool_call_id: str
    content: list[Text | Image]
    is_error: bool = False
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class Thinking:
    """Model reasoning, with the opaque token its upstream validates on replay (spec B7).

    `signature`: an Anthropic-dialect token: a real Claude's own (bare), another Anthropic-
    dialect model's carried by crossway with its issuer, or one crossway minted (see
    crossway.signatures). `encrypted_content`: a Responses upstream's reasoning state, carried
    by crossway with its issuer (or bare, as a client sent it). Decoders put each token in its
    own field whichever client field it travelled in; an upstream encoder sends only a token
    that upstream issued, and drops the block otherwise.
    """

    text: str
    signature: str | None = None
    encrypted_content: str | None = None


@dataclass(slots=True)
class RedactedThinking:
    data: str


Part = Text | Image | ToolCall | ToolResult | Thinking | RedactedThinking


@dataclass(slots=True)
class Message:
    """One conversation turn.

    `system` messages may appear anywhere (Claude Code injects them mid-conversation);
    `user` messages carry Text, Image and ToolResult parts; `assistant` messages carry
    Thinking, RedactedThinking, Text and ToolCall parts, in the order the model produced them.
    """

    role: Role
    content: list[Part]


# ---------------------------------------------------------------- request


@dataclass(slots=True)
class Tool:
    """A tool the model may call.

    `kind` "custom" is a Responses custom tool (free-form text input, optionally constrained
    by a grammar, as Codex declares `apply_patch`). Its `parameters` are the stand-in schema
    every other dialect sends, an object with one required string property `input`, and
    `custom_format` is the Responses `format` object as the client gave it (None: free text).
    """

    name: str
    description: str | None
    parameters: dict[str, Any]  # JSON Schema of the input object
    strict: bool | None = None
    cache_control: dict[str, Any] | None = None
    kind: Literal["function", "custom"] = "function"
    custom_format: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolChoice:
    """`auto`, `any` (must call some tool), `none`, or `tool` (must call `name`)."""

    type: Literal["auto", "any", "none", "tool"]
    name: str | None = None


@dataclass(slots=True)
class ThinkingConfig:
    """Anthropic `thinking` / OpenAI `reasoning_effort`, whichever the client sent.

    `type`: enabled | adaptive | disabled. `effort`: low | medium | high | max | minimal | none
    (Responses' xhigh is max here). `summary`: the Responses `reasoning.summary` wish
    (auto | concise | detailed), when a client sent one.
    """

    type: Literal["enabled", "adaptive", "disabled"]
    budget_tokens: int | None = None
    effort: str | None = None
    summary: str | None = None


@dataclass(slots=True)
class Request:
    model: str
    messages: list[Message]
    system: list[Text] = field(default_factory=list)  # the leading, top-level system prompt
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None  # False == Anthropic disable_parallel_tool_use
    thinking: ThinkingConfig | None = None
    response_format: dict[str, Any] | None = None  # OpenAI response_format shape
    user: str | None = None  # OpenAI `user` / Anthropic metadata.user_id
    # OpenAI-only sampling fields (seed, presence_penalty, ...) forwarded to OpenAI upstreams.
    openai_extra: dict[str, Any] = field(default_factory=dict)
    # The Responses `previous_response_id` a client sent: the conversation continues a stored
    # response. The codec only carries it; whoever holds the response store resolves it
    # (prepends the stored turns to `messages`) and clears it before any upstream sees it.
    previous_response_id: str | None = None
    # Responses-only request fields (`include`, `store`, `metadata`, `truncation`,
    # `safety_identifier`, ...), forwarded to Responses upstreams only.
    responses_extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- response


@dataclass(slots=True)
class Usage:
    """Token counts with Anthropic semantics: `input_tokens` excludes cache reads and writes.

    The prompt total an upstream billed is input + cache_read + cache_creation.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int | None = None

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_creation_tokens


@dataclass(slots=True)
class Response:
    id: str
    model: str
    content: list[Thinking | RedactedThinking | Text | ToolCall]
    stop_reason: StopReason | None
    usage: Usage
    stop_sequence: str | None = None


# ---------------------------------------------------------------- stream events
#
# A stream is: MessageStart, then content events, then exactly one terminal event
# (MessageEnd or StreamError). Decoders guarantee that content is block-structured:
# ToolCallDelta always belongs to the most recent ToolCallStart, and a tool call's
# fragments are never interleaved with another block's. Encoders therefore open a new
# client-side block whenever the kind of content changes.


@dataclass(slots=True)
class MessageStart:
    id: str | None = None
    model: str | None = None
    usage: Usage | None = None  # what is known at the start (Anthropic gives input tokens)


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    text: str


@dataclass(slots=True)
class ThinkingSignature:
    signature: str


@dataclass(slots=True)
class ToolCallStart:
    id: str
    name: str
    custom: bool = False  # a custom tool call (see ToolCall.custom); deltas are JSON all the same


@dataclass(slots=True)
class ThinkingEncrypted:
    """The opaque `encrypted_content` of the current reasoning block (see Thinking); ends it.

    Anthropic clients keep it in the thinking signature; OpenAI chat clients cannot keep it."""

    encrypted_content: str


@dataclass(slots=True)
class ToolCallDelta:
    arguments: str  # a fragment of the JSON text of the current tool call's input


@dataclass(slots=True)
class MessageEnd:
    stop_reason: StopReason | None
    usage: Usage
    stop_sequence: str | None = None


@dataclass(slots=True)
class StreamError:
    """The upstream failed after the stream began. `type` is an Anthropic error type."""

    message: str
    type: str = "api_error"
    status: int = 502


StreamEvent = (
    MessageStart
    | TextDelta
    | ThinkingDelta
    | ThinkingSignature
    | ThinkingEncrypted
    | ToolCallStart
    | ToolCallDelta
    | MessageEnd
    | StreamError
)
