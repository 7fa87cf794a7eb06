"""The Responses fast path: a Responses client (Codex) on a Responses upstream, forwarded with
the edits a stateless upstream needs, and the door's cheap checks before routing.

The body keeps what the client sent except: the upstream model id; `store: false` and
`include: ["reasoning.encrypted_content"]` (crossway keeps conversations itself, so the
upstream must not be asked to); no input item ids (a stateless upstream answers an id it does
not hold with 404, spec B9); no reasoning items it could only resolve by id; no built-in
tools or their call records (crossway runs none, spec B9); the model's output limits.
Stream frames are forwarded as received, each parsed once: to know when content starts (the
relay commits the client response there), to read usage, to stop at the terminal event
(Zen's cost frame follows it) and to keep a frame the client could not parse from reaching it.
"""

from __future__ import annotations

from typing import Any

import orjson

from crossway import ir, signatures
from crossway.dialects import Capabilities
from crossway.dialects.common import bad
from crossway.dialects.openai_responses.wire import decode_usage, failed_code, stream_error_in
from crossway.dialects.sse import SSEEvent, frame

_ENCRYPTED = "reasoning.encrypted_content"
_MIN_OUTPUT_TOKENS = 16
_CALL_ITEMS = frozenset(("message", "function_call", "function_call_output", "custom_tool_call",
                         "custom_tool_call_output", "reasoning"))
# Events after which the client has something: a delta, a finished item, a finished response.
_CONTENT_EVENTS = frozenset((
    "response.output_text.delta", "response.refusal.delta",
    "response.reasoning_summary_text.delta", "response.reasoning_text.delta",
    "response.function_call_arguments.delta", "response.custom_tool_call_input.delta",
    "response.output_item.done", "response.completed", "response.incomplete",
))
_TERMINAL = frozenset(("response.completed", "response.incomplete"))
# What Codex sends for its own backend's bookkeeping; stricter Responses routes refuse an
# unknown parameter ("Unknown parameter: 'client_metadata'").
_CLIENT_ONLY = frozenset(("client_metadata",))


def preflight_fields(body: dict[str, Any]) -> tuple[str, bool]:
    """(model, stream) of a client body, after the checks the fast path relies on: what the
    codec would reject as the wrong type is a 400 here too."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad("model", "a non-empty string is required")
    inp = body.get("input")
    if inp is not None and not isinstance(inp, str | list):
        raise bad("input", "a string or an array of input items is required")
    if isinstance(inp, list):
        for i, item in enumerate(inp):
            if not isinstance(item, dict):
                raise bad(f"input[{i}]", "must be an object")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream", "must be a boolean")
    limit = body.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise bad("max_output_tokens", "must be a positive integer")
    for key in ("tools", "include"):
        if body.get(key) is not None and not isinstance(body[key], list):
            raise bad(key, "must be an array")
    return model, stream is True


def passthrough_ok(body: dict[str, Any], caps: Capabilities) -> bool:
    # A previous_response_id must be resolved from crossway's store first (a rewrite of
    # `input`), which is translation work.
    return body.get("previous_response_id") is None and not caps.repair_output


def passthrough_body(body: dict[str, Any], *, model: str, caps: Capabilities,
                     stream: bool) -> dict[str, Any]:
    out = {k: v for k, v in body.items() if k not in _CLIENT_ONLY}
    out["model"] = model
    out["store"] = False
    include = out.get("include")
    include = [s for s in include if isinstance(s, str)] if isinstance(include, list) else []
    out["include"] = include if _ENCRYPTED in include else [*include, _ENCRYPTED]
    if isinstance(out.get("input"), list):
        out["input"] = _stateless_input(out["input"], model)
    tools = out.get("tools")
    if isinstance(tools, list):
        out["tools"] = [t for t in tools if isinstance(t, dict)
                        and t.get("type") in ("function", "custom")]
        if not out["tools"]:
            for key in ("tools", "tool_choice", "parallel_tool_calls"):
                out.pop(key, None)
    if not caps.parallel_tool_calls:
        out.pop("parallel_tool_calls", None)
    if not caps.reasoning_effort:
        out.pop("reasoning", None)
    limit = out.get("max_output_tokens")
    if isinstance(limit, int) and not isinstance(limit, bool):
        cap = caps.max_output_tokens
        out["max_output_tokens"] = max(min(limit, cap) if cap is not None else limit,
                                       _MIN_OUTPUT_TOKENS)
    if stream:
        out["stream"] = True
    return out


def _stateless_input(items: list[Any], model: str) -> list[Any]:
    kept: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            kept.append(item)
            continue
        itype = item.get("type", "message" if "role" in item else None)
        if itype not in _CALL_ITEMS:
            continue  # built-in tool records and item references
        out = {k: v for k, v in item.items() if k != "id"}
        if itype == "reasoning":
            encrypted = _replayable(item.get("encrypted_content"), model)
            if encrypted is None:
                # Resolvable only from the upstream's storage (which is off), or state issued
                # by another model (which this one would refuse): the item goes.
                continue
            out["encrypted_content"] = encrypted
        kept.append(out)
    # A reasoning item must still be followed by the output it led to (spec B9).
    return [item for n, item in enumerate(kept)
            if not (isinstance(item, dict) and item.get("type") == "reasoning"
                    and not _followed(kept, n))]


def _replayable(encrypted: object, model: str) -> str | None:
    """The encrypted reasoning `model` may get back: a token crossway carried, only from this
    model; a bare one as the client sent it (history from before crossway)."""
    if not isinstance(encrypted, str) or not encrypted:
        return None
    if not signatures.is_ours(encrypted):
        return encrypted
    carried = signatures.unwrap(encrypted)
    return carried.token if carried is not None and carried.valid_for("encrypted", model) \
        else None


def carry_output(output: object, issuer: str) -> bool:
    """Wrap the encrypted reasoning of forwarded output items with the model that issued it
    (crossway.signatures), so it can only go back to that model; True if any was."""
    changed = False
    for item in output if isinstance(output, list) else ():
        if isinstance(item, dict) and item.get("type") == "reasoning":
            encrypted = item.get("encrypted_content")
            if isinstance(encrypted, str) and encrypted and not signatures.is_ours(encrypted):
                item["encrypted_content"] = signatures.carry("encrypted", encrypted, issuer)
                changed = True
    return changed


def _followed(items: list[Any], n: int) -> bool:
    nxt = items[n + 1] if n + 1 < len(items) else None
    if not isinstance(nxt, dict):
        return False
    ntype = nxt.get("type", "message" if "role" in nxt else None)
    return ntype in ("function_call", "custom_tool_call", "reasoning") or (
        ntype == "message" and nxt.get("role") == "assistant")


def passthrough_unary(data: dict[str, Any], requested: str) -> ir.Usage:
    issuer = data.get("model")
    carry_output(data.get("output"), issuer if isinstance(issuer, str) else "")
    data["model"] = requested
    return decode_usage(data.get("usage"))


class ResponsesPassthrough:
    """Forwards a Responses upstream stream frame by frame (crossway.dialects.base)."""

    __slots__ = ("_response", "_seq", "content", "done", "error", "include_usage", "issuer",
                 "protocol_error", "renames", "usage")

    def __init__(self, *, requested: str, upstream_model: str, include_usage: bool) -> None:
        self.done = False
        self.content = False
        self.error: ir.StreamError | None = None
        self.protocol_error = False
        self.usage: ir.Usage | None = None
        self.include_usage = include_usage  # Responses streams always carry usage
        self._response: dict[str, Any] | None = None  # the response.created snapshot
        self._seq = -1  # the last sequence_number forwarded
        self.issuer = upstream_model  # whose encrypted reasoning this stream carries
        # Response snapshots name the upstream's bare id; the client gets the model it sent.
        self.renames: tuple[tuple[bytes, bytes], ...] = ()
        if requested != upstream_model:
            old, new = orjson.dumps(upstream_model), orjson.dumps(requested)
            self.renames = ((b'"model":' + old, b'"model":' + new),
                            (b'"model": ' + old, b'"model": ' + new))

    def feed(self, ev: SSEEvent) -> bytes:
        if self.done or ev.event == "ping" or not ev.data.strip():
            return b""  # Zen's cost frame (spec A8); keep-alives are crossway's to send
        if ev.data == b"[DONE]":
            return self._fail("upstream stream ended before response.completed", protocol=True)
        try:
            obj = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            return self._fail(f"upstream sent a stream frame that is not JSON: "
                              f"{ev.data[:120]!r}", protocol=True)
        if not isinstance(obj, dict):
            return self._fail("upstream sent a stream frame that is not a JSON object",
                              protocol=True)
        typ = obj.get("type") or ev.event
        seq = obj.get("sequence_number")
        if isinstance(seq, int):
            self._seq = seq
        if typ == "response.created" and isinstance(obj.get("response"), dict):
            self._response = obj["response"]
        if typ == "error" or typ == "response.failed":
            response = obj.get("response")
            err = response.get("error") if isinstance(response, dict) else None
            inner = obj.get("error")
            self.error = stream_error_in(err if typ == "response.failed" else
                                         inner if isinstance(inner, dict) else obj)
            self.done = True
        elif typ in _CONTENT_EVENTS:
            self.content = True
            if typ in _TERMINAL:
                response = obj.get("response")
                if isinstance(response, dict):
                    self.usage = decode_usage(response.get("usage"))
                self.done = True
        raw = ev.raw
        if (typ == "response.output_item.done" and carry_output([obj.get("item")], self.issuer)) \
                or (typ in _TERMINAL and carry_output(_output_of(obj), self.issuer)):
            # The only frames re-serialised: those holding encrypted reasoning.
            raw = frame(orjson.dumps(obj), ev.event).rstrip(b"\n")
        for old, new in self.renames:
            raw = raw.replace(old, new)
        return raw + b"\n\n"

    def _fail(self, message: str, *, protocol: bool) -> bytes:
        self.done = True
        self.protocol_error = protocol
        self.error = ir.StreamError(message)
        return b""

    def error_frame(self, message: str, *, status: int = 502,
                    error_type: str = "api_error") -> bytes:
        """The terminal event for a forwarded stream that fails after it was committed: a
        response.failed under the upstream's response id and the next sequence number (the
        openai SDK rejects a lifecycle event naming another response), or a bare `error`
        event when the upstream never said which response this is."""
        error = ir.StreamError(message, error_type, status)
        body = failed_event(error, self._response, self._seq + 1)
        self.done = True
        return body


def _output_of(obj: dict[str, Any]) -> object:
    response = obj.get("response")
    return response.get("output") if isinstance(response, dict) else None


def failed_event(error: ir.StreamError, response: dict[str, Any] | None, seq: int) -> bytes:
    err = {"code": failed_code(error), "message": error.message}
    if response is None:
        bare = {"type": "error", **err, "param": None, "sequence_number": seq}
        return frame(orjson.dumps(bare), "error")
    failed = {**response, "status": "failed", "error": err}
    body = {"type": "response.failed", "response": failed, "sequence_number": seq}
    return frame(orjson.dumps(body), "response.failed")
