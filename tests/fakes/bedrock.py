"""A fake Amazon Bedrock runtime serving Anthropic models through InvokeModel.

What Bedrock enforces, in its words (errors are `{"message": ...}` with `x-amzn-ErrorType`):
- AWS SigV4: the signature is recomputed here with botocore from the request as received
  (signed headers, path, query, body) and the fake's own copy of the secret; a missing one is
  403 MissingAuthenticationTokenException, a wrong one 403 InvalidSignatureException, an
  unknown access key 403 UnrecognizedClientException, a wrong region or service in the
  credential scope 403 too;
- `/model/{modelId}/invoke` and `/model/{modelId}/invoke-with-response-stream`; an unknown id
  is 400 ValidationException, a model without access 403 AccessDeniedException;
- Anthropic's body with `anthropic_version: bedrock-2023-05-31`, and no `model` or `stream`
  key (400 "Malformed input request"); tool results must answer the previous turn's tool
  calls; thinking signatures must be the fake's own;
- Converse (`/converse`, `/converse-stream`) for the other families (bedrock_converse.py);
- streams in AWS event-stream framing (binary prelude and CRCs, written here by hand), each
  `chunk` event carrying one Anthropic stream event, base64 encoded; an error mid-stream is
  an `exception` message.

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes import bedrock_converse as converse_rules
from tests.fakes.threaded import Recorded, Rejected, ThreadedFake

MODELS = frozenset(("anthropic.claude-3-5-haiku-20241022-v1:0",
                    "us.anthropic.claude-sonnet-4-20250514-v1:0"))
NO_ACCESS = frozenset(("anthropic.claude-opus-4-20250514-v1:0",))
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you "
                 "provided. Check your AWS Secret Access Key and signing method. Consult the "
                 "service documentation for details.")
_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                   r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})")
_PATH = re.compile(r"/model/([^/]+)/(invoke|invoke-with-response-stream|converse|"
                   r"converse-stream)")
_BODY_KEYS = frozenset(("anthropic_version", "anthropic_beta", "max_tokens", "messages",
                        "system", "temperature", "top_p", "top_k", "stop_sequences", "tools",
                        "tool_choice", "thinking"))


@dataclass
class Call:
    name: str
    input: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    text: str = "hello from bedrock"
    thinking: str = ""  # sent when the request enables thinking
    calls: list[Call] = field(default_factory=list)
    error: tuple[int, str, str] | None = None  # (status, x-amzn-ErrorType, message)
    stream_exception: tuple[str, str] | None = None  # (exception type, message) after text


class FakeBedrock(ThreadedFake[Reply]):
    name = "fake-bedrock"

    def __init__(self, access_key: str = "AKIDFAKE", secret_key: str = "fake-secret",
                 region: str = "us-east-1") -> None:
        super().__init__()
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.signatures: set[str] = set()

    def invocations(self) -> list[Recorded]:
        return [r for r in self.requests() if _PATH.fullmatch(r.path)]

    async def route(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        self._verify_signature(request, rec)
        m = _PATH.fullmatch(rec.path)
        if request.method != "POST" or m is None:
            raise _aws(404, "UnknownOperationException", "Unknown operation")
        model = m.group(1).replace("%3A", ":")
        if model in NO_ACCESS:
            raise _aws(403, "AccessDeniedException",
                       "You don't have access to the model with the specified model ID.")
        converse = m.group(2).startswith("converse")
        if model not in (converse_rules.MODELS if converse else MODELS):
            raise _aws(400, "ValidationException", "The provided model identifier is invalid.")
        if converse:
            return await self._converse(request, rec, model, m.group(2) == "converse-stream")
        body = rec.json
        self._validate(body)
        reply = self.next_reply(Reply())
        if reply.error is not None:
            raise _aws(*reply.error)
        events = self._events(body, model, reply)
        if m.group(2) == "invoke":
            return web.json_response(_assemble(events))
        resp = web.StreamResponse(headers={
            "content-type": "application/vnd.amazon.eventstream",
            "x-amzn-bedrock-content-type": "application/json"})
        await resp.prepare(request)
        for i, ev in enumerate(events):
            if reply.stream_exception and i == len(events) - 2:
                name, message = reply.stream_exception
                await resp.write(encode_message(
                    {":message-type": "exception", ":exception-type": name,
                     ":content-type": "application/json"},
                    json.dumps({"message": message}).encode()))
                break
            payload = {"bytes": base64.b64encode(json.dumps(ev).encode()).decode(),
                       "p": "abcdefgh"}
            await resp.write(encode_message(
                {":event-type": "chunk", ":content-type": "application/json",
                 ":message-type": "event"}, json.dumps(payload).encode()))
        await resp.write_eof()
        return resp

    async def _converse(self, request: web.Request, rec: Recorded, model: str,
                        stream: bool) -> web.StreamResponse:
        try:
            converse_rules.validate(rec.json)
        except converse_rules.ConverseInvalid as exc:
            raise _aws(400, "ValidationException", str(exc)) from None
        reply = self.next_reply(Reply())
        if reply.error is not None:
            raise _aws(*reply.error)
        events = converse_rules.events(rec.json, model, reply.text, reply.thinking,
                                       [(c.name, c.input) for c in reply.calls])
        if not stream:
            return web.json_response(converse_rules.assemble(events))
        resp = web.StreamResponse(headers={"content-type": "application/vnd.amazon.eventstream"})
        await resp.prepare(request)
        for i, (kind, event) in enumerate(events):
            if reply.stream_exception and i == len(events) - 2:
                name, message = reply.stream_exception
                await resp.write(encode_message(
                    {":message-type": "exception", ":exception-type": name,
                     ":content-type": "application/json"},
                    json.dumps({"message": message}).encode()))
                break
            await resp.write(encode_message(
                {":event-type": kind, ":content-type": "application/json",
                 ":message-type": "event"}, converse_rules.padded(event)))
        await resp.write_eof()
        return resp

    def _verify_signature(self, request: web.Request, rec: Recorded) -> None:
        auth = rec.headers.get("authorization")
        if not auth:
            raise _aws(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        m = _AUTH.fullmatch(auth)
        if m is None:
            raise _aws(403, "IncompleteSignatureException", "Authorization header is malformed")
        key, day, region, service, signed, signature = m.groups()
        if key != self.access_key:
            raise _aws(403, "UnrecognizedClientException",
                       "The security token included in the request is invalid.")
        if region != self.region or service != "bedrock":
            raise _aws(403, "InvalidSignatureException",
                       f"Credential should be scoped to a valid region and service "
                       f"({region}/{service})")
        stamp = rec.headers.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        except ValueError:
            raise _aws(403, "IncompleteSignatureException", "Missing X-Amz-Date") from None
        if abs((datetime.datetime.now(datetime.UTC) - when).total_seconds()) > 300 or \
                not stamp.startswith(day):
            raise _aws(403, "InvalidSignatureException", "Signature expired")
        names = signed.split(";")
        if "host" not in names:
            raise _aws(403, "InvalidSignatureException", "host must be signed")
        headers = {n: request.headers.get(n, "") for n in names}
        url = f"http://{request.headers.get('host')}{request.raw_path}"
        aws = AWSRequest(method=request.method, url=url, data=rec.body, headers=headers)
        aws.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key,
                                       rec.headers.get("x-amz-security-token")),
                           "bedrock", self.region)
        expected = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)),
                                    aws)
        if expected != signature:
            raise _aws(403, "InvalidSignatureException", BAD_SIGNATURE)

    def _validate(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise _aws(400, "ValidationException", "Malformed input request, please reformat "
                       "your input and try again.")
        for key in body:
            if key not in _BODY_KEYS:
                raise _aws(400, "ValidationException", f"Malformed input request: #: extraneous "
                           f"key [{key}] is not permitted, please reformat your input and try "
                           "again.")
        for key in ("anthropic_version", "max_tokens", "messages"):
            if key not in body:
                raise _aws(400, "ValidationException",
                           f"Malformed input request: #: required key [{key}] not found")
        if body["anthropic_version"] != "bedrock-2023-05-31":
            raise _aws(400, "ValidationException", "Invalid API version")
        previous: set[str] = set()
        for i, msg in enumerate(body["messages"]):
            content = msg.get("content")
            blocks = content if isinstance(content, list) else []
            for block in blocks:
                kind = block.get("type")
                if kind == "tool_result" and block.get("tool_use_id") not in previous:
                    raise _aws(400, "ValidationException",
                               f"messages.{i}: unexpected `tool_use_id` found in `tool_result` "
                               "blocks. Each `tool_result` block must have a corresponding "
                               "`tool_use` block in the previous message.")
                if kind == "thinking" and block.get("signature") not in self.signatures:
                    raise _aws(400, "ValidationException",
                               f"messages.{i}: Invalid `signature` in `thinking` block")
            previous = {b.get("id") for b in blocks if b.get("type") == "tool_use"}

    def _events(self, body: dict[str, Any], model: str, reply: Reply) -> list[dict[str, Any]]:
        usage_in = max(1, len(json.dumps(body["messages"])) // 4)
        events: list[dict[str, Any]] = [{"type": "message_start", "message": {
            "id": "msg_bdrk_" + secrets.token_hex(8), "type": "message", "role": "assistant",
            "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": usage_in, "output_tokens": 1}}}]
        index = 0
        thinking = body.get("thinking") or {}
        if reply.thinking and thinking.get("type") == "enabled":
            sig = secrets.token_urlsafe(24)
            self.signatures.add(sig)
            events += [
                {"type": "content_block_start", "index": index,
                 "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
                {"type": "content_block_delta", "index": index,
                 "delta": {"type": "thinking_delta", "thinking": reply.thinking}},
                {"type": "content_block_delta", "index": index,
                 "delta": {"type": "signature_delta", "signature": sig}},
                {"type": "content_block_stop", "index": index}]
            index += 1
        if reply.text and not reply.calls:
            events += [{"type": "content_block_start", "index": index,
                        "content_block": {"type": "text", "text": ""}}]
            half = len(reply.text) // 2 or 1
            for piece in (reply.text[:half], reply.text[half:]):
                if piece:
                    events.append({"type": "content_block_delta", "index": index,
                                   "delta": {"type": "text_delta", "text": piece}})
            events.append({"type": "content_block_stop", "index": index})
            index += 1
        for call in reply.calls:
            events += [
                {"type": "content_block_start", "index": index, "content_block": {
                    "type": "tool_use", "id": "toolu_bdrk_" + secrets.token_hex(8),
                    "name": call.name, "input": {}}},
                {"type": "content_block_delta", "index": index, "delta": {
                    "type": "input_json_delta", "partial_json": json.dumps(call.input)}},
                {"type": "content_block_stop", "index": index}]
            index += 1
        out_tokens = max(1, len(reply.text) // 4)
        events += [
            {"type": "message_delta", "delta": {
                "stop_reason": "tool_use" if reply.calls else "end_turn",
                "stop_sequence": None}, "usage": {"output_tokens": out_tokens}},
            {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": usage_in, "outputTokenCount": out_tokens,
                "invocationLatency": 100, "firstByteLatency": 50}}]
        return events


def _aws(status: int, kind: str, message: str) -> Rejected:
    return Rejected(status, {"message": message}, {"x-amzn-ErrorType": f"{kind}:http://internal"})


def _assemble(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-stream answer: the stream's message, blocks filled in."""
    message = dict(events[0]["message"])
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for ev in events[1:]:
        kind = ev["type"]
        if kind == "content_block_start":
            blocks[ev["index"]] = dict(ev["content_block"])
        elif kind == "content_block_delta":
            d, block = ev["delta"], blocks[ev["index"]]
            if d["type"] == "text_delta":
                block["text"] += d["text"]
            elif d["type"] == "thinking_delta":
                block["thinking"] += d["thinking"]
            elif d["type"] == "signature_delta":
                block["signature"] = d["signature"]
            else:
                partial[ev["index"]] = partial.get(ev["index"], "") + d["partial_json"]
        elif kind == "message_delta":
            message.update(ev["delta"])
            message["usage"] = {**message["usage"], **ev["usage"]}
    for i, text in partial.items():
        blocks[i]["input"] = json.loads(text)
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (lengths + CRC), string headers, payload, CRC."""
    raw = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        raw += struct.pack("!B", len(n)) + n + b"\x07" + struct.pack("!H", len(v)) + v
    total = 12 + len(raw) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + raw + payload
    return message + struct.pack("!I", zlib.crc32(message))
