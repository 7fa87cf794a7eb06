"""Canonical request, response and stream-event model shared by every dialect codec.

Each wire dialect decodes into these types and encodes from them, so any client dialect
reaches any upstream dialect through two codecs. The shape follows Anthropic Messages
(content as a list of typed parts, tool results as parts of a user turn) because it is the
richer of the two; OpenAI Chat Completions maps onto it without loss for the features we carry.

Plain slotted dataclasses: cheap to build on the hot path, no validation (codecs validate).
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
    """A model's request to call a tool. `arguments` is the JSON text of the input object."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ToolResult:
    tool_call_id: str
    content: list[Text | Image]
    is_error: bool = False
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class Thinking:
    """Model reasoning. `signature` is opaque (Anthropic's, or one crossway minted)."""

    text: str
    signature: str | None = None


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
    name: str
    description: str | None
    parameters: dict[str, Any]  # JSON Schema of the input object
    strict: bool | None = None
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolChoice:
    """`auto`, `any` (must call some tool), `none`, or `tool` (must call `name`)."""

    type: Literal["auto", "any", "none", "tool"]
    name: str | None = None


@dataclass(slots=True)
class ThinkingConfig:
    """Anthropic `thinking` / OpenAI `reasoning_effort`, whichever the client sent.

    `type`: enabled | adaptive | disabled. `effort`: low | medium | high | max | minimal | none.
    """

    type: Literal["enabled", "adaptive", "disabled"]
    budget_tokens: int | None = None
    effort: str | None = None


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
    | ToolCallStart
    | ToolCallDelta
    | MessageEnd
    | StreamError
)
