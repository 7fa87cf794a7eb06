"""A fake OpenAI-compatible chat/completions service (OpenAI, Z.ai, OpenRouter, Ollama, ...).

It enforces what the real services enforce, in their words:
- `Authorization: Bearer <key>` when it has keys (401 `invalid_api_key`); none needed when
  it has none (Ollama, vLLM without --api-key);
- unknown top-level parameters are refused (`Unrecognized request argument supplied`);
- OpenAI's reasoning models (o-series, gpt-5 but not its -chat variants) refuse `max_tokens`
  (`unsupported_parameter`, "Use 'max_completion_tokens' instead") and any temperature or
  top_p but the default (`unsupported_value`);
- always-thinking models (GLM on Z.ai) refuse `thinking: {"type": "disabled"}` with Z.ai's
  400 `[1210]`;
- DeepSeek's thinking mode wants `reasoning_content` back on every assistant message;
- the reasoning field of the answer is `reasoning_content` (DeepSeek/Z.ai style) or
  `reasoning` (OpenRouter), by flavour.

    with FakeOpenAI(keys=("sk-test",)) as fake:
        fake.script(Reply(text="hi")); POST {fake.base_url}/chat/completions

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.opencode_responses import check_responses, responses_object, responses_stream
from tests.fakes.opencode_wire import ToolOut, Turn
from tests.fakes.threaded import Recorded, Rejected, ThreadedFake

KNOWN_PARAMS = frozenset((
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
    "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty", "logit_bias",
    "logprobs", "top_logprobs", "user", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "seed", "reasoning_effort", "metadata", "store", "service_tier",
    "prediction", "modalities", "audio", "prompt_cache_key", "safety_identifier", "verbosity",
))
REASONING_MODEL = re.compile(r"^(?:o\d|gpt-5(?!.*-chat))")
MAX_TOKENS_REFUSED = ("Unsupported parameter: 'max_tokens' is not supported with this model. "
                      "Use 'max_completion_tokens' instead.")
REPLAY_MISSING = ("The reasoning_content in the thinking mode must be passed back to the "
                  "API.")
ZAI_1210 = "[1210] Invalid API parameter, please check the documentation: thinking cannot be " \
    "disabled for this model"


@dataclass
class ToolCall:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    """One scripted answer; `text=None` echoes the last user text."""

    text: str | None = None
    reasoning: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    error: tuple[int, dict[str, Any]] | None = None  # (HTTP status, body)
    headers: dict[str, str] = field(default_factory=dict)


class FakeOpenAI(ThreadedFake[Reply]):
    name = "fake-openai"

    def __init__(self, keys: tuple[str, ...] = ("sk-test",), *, prefix: str = "/v1",
                 models: tuple[str, ...] = ("gpt-4.1", "o3", "gpt-5"),
                 extra_params: frozenset[str] = frozenset(),
                 always_thinking: tuple[str, ...] = (),
                 reasoning_field: str = "reasoning_content",
                 reasoning_replay: tuple[str, ...] = (),
                 responses_only: tuple[str, ...] = ()) -> None:
        """`reasoning_replay`: model prefixes that, thinking, want every assistant message of
        the history to carry `reasoning_content` back (DeepSeek). `responses_only`: models
        served on `/responses` only (OpenAI's -pro and codex models); `/responses` itself
        applies OpenAI's Responses rules (tests.fakes.opencode_responses)."""
        super().__init__()
        self.reasoning_replay = reasoning_replay
        self.responses_only = responses_only
        self.keys, self.prefix, self.models = keys, prefix, models
        self.known = KNOWN_PARAMS | extra_params
        self.always_thinking = always_thinking
        self.reasoning_field = reasoning_field

    @property
    def base_url(self) -> str:
        return self.origin + self.prefix

    def chats(self) -> list[Recorded]:
        return [r for r in self.requests() if r.path.endswith("/chat/completions")]

    async def route(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        self.authorize(rec)
        if request.method == "GET" and rec.path == self.prefix + "/models":
            return web.json_response({"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                for m in self.models]})
        if request.method == "POST" and rec.path == self.prefix + "/responses":
            return await self.respond(request, rec.json)
        if request.method != "POST" or rec.path != self.prefix + "/chat/completions":
            raise Rejected(404, _error(f"Invalid URL ({request.method} {rec.path})",
                                       "invalid_request_error", None))
        return await self.complete(request, rec, rec.json)

    def authorize(self, rec: Recorded) -> None:
        if not self.keys:
            return
        auth = rec.headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.keys:
            raise Rejected(401, _error("Incorrect API key provided.", "invalid_request_error",
                                       "invalid_api_key"))

    async def complete(self, request: web.Request, rec: Recorded, body: Any,
                       model: str | None = None) -> web.StreamResponse:
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise Rejected(400, _error("'messages' is a required property",
                                       "invalid_request_error", None))
        model = model or str(body.get("model") or "")
        if model in self.responses_only:
            raise Rejected(404, _error("This model is only supported in v1/responses and not "
                                       "in v1/chat/completions.", "invalid_request_error",
                                       None, "model"))
        self.validate(body, model)
        reply = self.next_reply(Reply())
        if reply.error is not None:
            raise Rejected(reply.error[0], reply.error[1], reply.headers)
        if body.get("stream"):
            return await self.stream(request, body, model, reply)
        return web.json_response(self.answer(body, model, reply))

    async def respond(self, request: web.Request, body: Any) -> web.StreamResponse:
        """POST /responses: OpenAI's Responses rules, a text or tool-call answer."""
        if not isinstance(body, dict):
            raise Rejected(400, _error("Invalid body", "invalid_request_error", None))
        check_responses(body, _bad, {})
        model = str(body.get("model") or "")
        if REASONING_MODEL.match(model) and "temperature" in body:
            raise Rejected(400, _error("Unsupported parameter: 'temperature' is not supported "
                                       "with this model.", "invalid_request_error",
                                       "unsupported_parameter", "temperature"))
        reply = self.next_reply(Reply())
        if reply.error is not None:
            raise Rejected(reply.error[0], reply.error[1], reply.headers)
        text = reply.text if reply.text is not None else "" if reply.calls else "echo"
        turn = Turn("responses", model, text, reply.reasoning,
                    [ToolOut("call_" + secrets.token_hex(6), c.name, json.dumps(c.args))
                     for c in reply.calls], "stop", 10, 0, 0, max(1, len(text) // 4), 3,
                    id="resp_" + secrets.token_hex(8))
        if not body.get("stream"):
            return web.json_response(responses_object(turn))
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for frame in responses_stream(turn).frames:
            await resp.write(frame)
        await resp.write_eof()
        return resp

    def validate(self, body: dict[str, Any], model: str) -> None:
        for key in body:
            if key not in self.known:
                raise Rejected(400, _error(f"Unrecognized request argument supplied: {key}",
                                           "invalid_request_error", None))
        if REASONING_MODEL.match(model):
            if "max_tokens" in body:
                raise Rejected(400, _error(MAX_TOKENS_REFUSED, "invalid_request_error",
                                           "unsupported_parameter", "max_tokens"))
            for key in ("temperature", "top_p"):
                if key in body and body[key] != 1:
                    raise Rejected(400, _error(
                        f"Unsupported value: '{key}' does not support {body[key]} with this "
                        "model. Only the default (1) value is supported.",
                        "invalid_request_error", "unsupported_value", key))
        thinking = body.get("thinking")
        thinking_on = not (isinstance(thinking, dict) and thinking.get("type") == "disabled")
        if self.reasoning_replay and model.startswith(self.reasoning_replay) and thinking_on:
            for m in body["messages"]:
                if m.get("role") == "assistant" and \
                        not isinstance(m.get("reasoning_content"), str):
                    raise Rejected(400, _error(REPLAY_MISSING, "invalid_request_error",
                                               "invalid_request_error"))
        if model.startswith(self.always_thinking) and self.always_thinking and \
                isinstance(thinking, dict) and thinking.get("type") == "disabled":
            raise Rejected(400, {"error": {"code": "1210", "message": ZAI_1210}})

    def answer(self, body: dict[str, Any], model: str, reply: Reply) -> dict[str, Any]:
        text = _text(body, reply)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if reply.reasoning:
            message[self.reasoning_field] = reply.reasoning
        if reply.calls:
            message["tool_calls"] = [
                {"id": "call_" + secrets.token_hex(6), "type": "function",
                 "function": {"name": c.name, "arguments": json.dumps(c.args)}}
                for c in reply.calls]
        return {"id": "chatcmpl-" + secrets.token_hex(6), "object": "chat.completion",
                "created": 1, "model": model, "choices": [{
                    "index": 0, "message": message,
                    "finish_reason": "tool_calls" if reply.calls else "stop"}],
                "usage": _usage(body, text)}

    async def stream(self, request: web.Request, body: dict[str, Any], model: str,
                     reply: Reply) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        base = {"id": "chatcmpl-" + secrets.token_hex(6), "object": "chat.completion.chunk",
                "created": 1, "model": model}

        async def send(delta: dict[str, Any], finish: str | None = None,
                       **extra: Any) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta,
                                          "finish_reason": finish}], **extra}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        await send({"role": "assistant", "content": ""})
        for piece in _pieces(reply.reasoning):
            await send({self.reasoning_field: piece})
        text = _text(body, reply)
        for piece in _pieces(text):
            await send({"content": piece})
        for i, c in enumerate(reply.calls):
            args = json.dumps(c.args)
            await send({"tool_calls": [{"index": i, "id": "call_" + secrets.token_hex(6),
                                        "type": "function",
                                        "function": {"name": c.name, "arguments": ""}}]})
            for piece in _pieces(args):
                await send({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
        await send({}, "tool_calls" if reply.calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {**base, "choices": [], "usage": _usage(body, text)}
            await resp.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _bad(message: str) -> Rejected:
    return Rejected(400, _error(message, "invalid_request_error", None))


def _error(message: str, etype: str, code: str | None,
           param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


def _text(body: dict[str, Any], reply: Reply) -> str:
    if reply.text is not None:
        return reply.text
    if reply.calls:
        return ""
    for m in reversed(body["messages"]):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return "echo: " + content
            return "echo: " + " ".join(p.get("text", "") for p in content or ()
                                       if isinstance(p, dict))
    return "echo"


def _pieces(text: str, n: int = 3) -> list[str]:
    if not text:
        return []
    step = -(-len(text) // n)
    return [text[i : i + step] for i in range(0, len(text), step)]


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = max(1, len(json.dumps(body["messages"])) // 4)
    completion = max(1, len(text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}
