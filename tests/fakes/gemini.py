"""A fake Gemini API (AI Studio, v1beta): a real aiohttp HTTP server on 127.0.0.1.

It enforces what Gemini enforces, in Gemini's words, so a codec or provider bug fails a test:

    with FakeGemini(keys=("gk-test",)) as fake:
        fake.script(Reply(calls=[Call("bash", {"cmd": "ls"})]), Reply(text="done"))
        POST {fake.base_url}/models/gemini-2.5-flash:generateContent   (x-goog-api-key)

Order of checks: API key (`x-goog-api-key` or `?key=`; missing 403 PERMISSION_DENIED, wrong
400 API_KEY_INVALID) -> model and method in the path (404) -> body parse (unknown fields
anywhere, schema keywords included: 400 `Unknown name "..." ... Cannot find field.`) ->
body rules (roles user/model alternating, function responses pairing the previous turn's
calls by count and name, thought signatures only the fake's own or Google's skip value,
Gemini 3 current-turn calls signed, schema semantics, thinkingConfig) -> the next scripted
Reply (FIFO) or an echo. Streams (`:streamGenerateContent?alt=sse`) use `data: ...\\r\\n\\r\\n`
frames; without alt=sse the answer is a JSON array, as Gemini does.

Deliberately independent of crossway: never import it here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.threaded import ServerThread

MODELS: dict[str, tuple[int, int]] = {  # id -> (inputTokenLimit, outputTokenLimit)
    "gemini-2.5-flash": (1_048_576, 65_536),
    "gemini-2.5-pro": (1_048_576, 65_536),
    "gemini-3-pro-preview": (1_048_576, 65_536),
    "gemini-3-flash-preview": (1_048_576, 65_536),
}
SKIP_SIGNATURES = frozenset(("skip_thought_signature_validator",
                             "context_engineering_is_the_way_to_go"))
MISSING_KEY = ("Method doesn't allow unregistered callers (callers without established "
               "identity). Please use API Key or other form of API consumer identity to call "
               "this API.")
BAD_KEY = "API key not valid. Please pass a valid API key."
ALTERNATE = "Please ensure that multiturn requests alternate between user and model."
RESPONSE_AFTER_CALL = ("Please ensure that function response turn comes immediately after a "
                       "function call turn.")
RESPONSE_COUNT = ("Please ensure that the number of function response parts is equal to the "
                  "number of function call parts of the function call turn.")
CORRUPTED = "Corrupted thought signature."

_TOP = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig",
        "safetySettings", "cachedContent"}
_GEN_CONFIG = {"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
               "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed",
               "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
               "thinkingConfig", "responseModalities", "mediaResolution"}
_THINKING = {"thinkingBudget", "includeThoughts", "thinkingLevel"}
_PART = {"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
         "codeExecutionResult", "thought", "thoughtSignature", "videoMetadata"}
_DATA = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
         "codeExecutionResult")
_DECL = {"name", "description", "parameters", "parametersJsonSchema", "response",
         "responseJsonSchema", "behavior"}
_SCHEMA = {"type", "format", "title", "description", "nullable", "enum", "maxItems",
           "minItems", "properties", "required", "minProperties", "maxProperties", "minLength",
           "maxLength", "pattern", "example", "anyOf", "propertyOrdering", "default", "items",
           "minimum", "maximum"}
_TYPES = {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT",
          "NULL"}
_FN_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}")


class Reject(Exception):
    def __init__(self, status: int, grpc: str, message: str,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.grpc, self.message, self.details = status, grpc, message, details


def _bad(message: str) -> Reject:
    return Reject(400, "INVALID_ARGUMENT", message)


@dataclass
class Call:
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    """One scripted answer. `text=None` echoes the last user text."""

    text: str | None = None
    thoughts: str = ""  # sent only when the request asks includeThoughts
    calls: list[Call] = field(default_factory=list)
    finish: str = "STOP"
    block_prompt: str | None = None  # promptFeedback.blockReason, no candidates
    error: tuple[int, str, str] | None = None  # (HTTP status, google.rpc status, message)
    retry_delay: str | None = None  # RetryInfo.retryDelay on an error, e.g. "20s"
    chunks: int = 3  # stream: the text is split into this many events
    cut_stream: bool = False  # stream: close before the finishReason event
    delay: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    json: Any
    status: int | None = None
    model: str | None = None
    rpc: str | None = None  # generateContent | streamGenerateContent | models


@dataclass
class _State:
    script: deque[Reply] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    signatures: dict[str, str] = field(default_factory=dict)  # signature -> call name | ""


class FakeGemini(ServerThread):
    """Fake Gemini upstream running in a background thread with its own event loop."""

    name = "fake-gemini"

    def __init__(self, keys: tuple[str, ...] = ("gk-test-key",)) -> None:
        super().__init__()
        self.keys = tuple(keys)
        self._lock = threading.Lock()
        self._state = _State()

    # ------------------------------------------------------------------ public API

    @property
    def origin(self) -> str:
        if not self.port:
            raise RuntimeError("FakeGemini is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("FakeGemini is not started")
        return f"http://127.0.0.1:{self.port}/v1beta"

    def script(self, *replies: Reply) -> FakeGemini:
        with self._lock:
            self._state.script.extend(replies)
        return self

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._state.script)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.requests)

    def generations(self) -> list[Recorded]:
        return [r for r in self.requests if r.rpc in ("generateContent", "streamGenerateContent")]

    def issued_signatures(self) -> list[str]:
        with self._lock:
            return list(self._state.signatures)

    def reset(self) -> None:
        with self._lock:
            self._state.script.clear()
            self._state.requests.clear()

    # ------------------------------------------------------------------ plumbing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        rec = Recorded(request.method, request.path,
                       dict(parse_qsl(request.query_string, keep_blank_values=True)),
                       {k.lower(): v for k, v in request.headers.items()}, parsed)
        with self._lock:
            self._state.requests.append(rec)
        try:
            resp = await self._route(request, rec)
        except Reject as r:
            resp = self._error_response(r)
        rec.status = resp.status
        return resp

    def _error_response(self, r: Reject, retry_delay: str | None = None) -> web.Response:
        err: dict[str, Any] = {"code": r.status, "message": r.message, "status": r.grpc}
        details = list(r.details or [])
        if retry_delay:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": retry_delay})
        if details:
            err["details"] = details
        return web.json_response({"error": err}, status=r.status)

    async def _route(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        self._auth(rec)
        if request.method == "GET" and request.path == "/v1beta/models":
            rec.rpc = "models"
            return web.json_response(self._models(rec.query))
        m = re.fullmatch(r"/v1beta/models/([^/:]+):([A-Za-z]+)", request.path)
        return await self._generate(request, rec, m)

    async def _generate(self, request: web.Request, rec: Recorded,
                        m: re.Match[str] | None) -> web.StreamResponse:
        if m is None or request.method != "POST":
            raise Reject(404, "NOT_FOUND", f"Method not found: {request.method} {request.path}")
        model, rpc = m.group(1), m.group(2)
        rec.model, rec.rpc = model, rpc
        if rpc not in ("generateContent", "streamGenerateContent"):
            raise Reject(404, "NOT_FOUND", f"Method not found: {rpc}")
        if model not in MODELS:
            raise Reject(404, "NOT_FOUND", f"models/{model} is not found for API version "
                         f"v1beta, or is not supported for {rpc}. Call ListModels to see the "
                         "list of available models and their supported methods.")
        body = rec.json
        if not isinstance(body, dict):
            raise _bad("Invalid JSON payload received. Expected an object.")
        self._validate(body, model)
        reply = self._next_reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.error is not None:
            status, grpc, message = reply.error
            return self._error_response(Reject(status, grpc, message), reply.retry_delay)
        chunks = self._answer(body, model, reply)
        if rpc == "generateContent":
            return web.json_response(_merge(chunks))
        if rec.query.get("alt") != "sse":
            return web.json_response(chunks)
        return await self._stream(request, chunks, reply.cut_stream)

    def _auth(self, rec: Recorded) -> None:
        key = rec.headers.get("x-goog-api-key") or rec.query.get("key")
        if not key:
            raise Reject(403, "PERMISSION_DENIED", MISSING_KEY)
        if key not in self.keys:
            raise Reject(400, "INVALID_ARGUMENT", BAD_KEY, [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"}}])

    def _models(self, query: dict[str, str]) -> dict[str, Any]:
        size = int(query.get("pageSize") or 50)
        start = int(query.get("pageToken") or 0)
        ids = list(MODELS)[start : start + size]
        out: dict[str, Any] = {"models": [{
            "name": f"models/{m}", "version": "001", "displayName": m,
            "inputTokenLimit": MODELS[m][0], "outputTokenLimit": MODELS[m][1],
            "supportedGenerationMethods": ["generateContent", "countTokens"],
            "thinking": True} for m in ids]}
        if start + size < len(MODELS):
            out["nextPageToken"] = str(start + size)
        return out

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._state.script.popleft() if self._state.script else Reply()

    async def _stream(self, request: web.Request, chunks: list[dict[str, Any]],
                      cut: bool) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        for c in chunks[:-1] if cut else chunks:
            await resp.write(b"data: " + json.dumps(c).encode() + b"\r\n\r\n")
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp

    # ------------------------------------------------------------------ validation

    def _validate(self, body: dict[str, Any], model: str) -> None:
        _fields(body, _TOP, None)
        config = body.get("generationConfig") or {}
        _fields(config, _GEN_CONFIG, "generation_config")
        _thinking(config.get("thinkingConfig"), model)
        if "responseSchema" in config:
            _schema_fields(config["responseSchema"], "generation_config.response_schema")
        self._tools(body.get("tools"))
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise _bad("* GenerateContentRequest.contents: contents is not specified\n")
        for i, content in enumerate(contents):
            _content(content, i)
        _turns(contents)
        self._signatures(contents, model)

    def _tools(self, tools: object) -> None:
        if tools is None:
            return
        for t, tool in enumerate(tools if isinstance(tools, list) else []):
            decls = tool.get("functionDeclarations") if isinstance(tool, dict) else None
            for d, decl in enumerate(decls if isinstance(decls, list) else []):
                where = f"tools[{t}].function_declarations[{d}]"
                _fields(decl, _DECL, where)
                if not _FN_NAME.fullmatch(str(decl.get("name", ""))):
                    raise _bad(f"* GenerateContentRequest.{where}.name: [FIELD_INVALID] Invalid "
                               "function name. Must start with a letter or an underscore. Must "
                               "be a-z, A-Z, 0-9, or contain underscores (_), dots (.), colons "
                               "(:), or dashes (-), with a maximum length of 64.\n")
                if "parameters" in decl:
                    _schema_fields(decl["parameters"], f"{where}.parameters")
                    _schema_rules(decl["parameters"], f"{where}.parameters", top=True)

    def _signatures(self, contents: list[dict[str, Any]], model: str) -> None:
        with self._lock:
            issued = dict(self._state.signatures)
        for i, content in enumerate(contents):
            for j, part in enumerate(content["parts"]):
                sig = part.get("thoughtSignature")
                if sig is None:
                    continue
                if not isinstance(sig, str) or not _is_base64(sig):
                    raise _bad(f"Invalid value at 'contents[{i}].parts[{j}].thought_signature' "
                               f'(TYPE_BYTES), Base64 decoding failed for "{sig}"')
                call = part.get("functionCall")
                owner = issued.get(sig)
                if sig in SKIP_SIGNATURES:
                    continue
                if owner is None or (call is not None and owner and owner != call.get("name")):
                    raise _bad(CORRUPTED)
        if not model.startswith("gemini-3"):
            return
        start = 0
        for i, content in enumerate(contents):
            if content["role"] == "user" and any("functionResponse" not in p
                                                 for p in content["parts"]):
                start = i + 1
        for i in range(start, len(contents)):
            calls = [p for p in contents[i]["parts"] if "functionCall" in p]
            if contents[i]["role"] == "model" and calls and "thoughtSignature" not in calls[0]:
                name = calls[0]["functionCall"].get("name")
                raise _bad("Function call is missing a thought_signature in functionCall parts. "
                           "This is required for tools to work correctly, and missing "
                           "thought_signature may lead to degraded model performance. "
                           f"Additional data, function call `default_api:{name}` , position "
                           f"{i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/"
                           "thought-signatures for more details.")

    # ------------------------------------------------------------------ answers

    def _mint(self, owner: str) -> str:
        sig = base64.b64encode(f"fake-gemini-sig-{secrets.token_hex(6)}".encode()).decode()
        with self._lock:
            self._state.signatures[sig] = owner
        return sig

    def _answer(self, body: dict[str, Any], model: str, reply: Reply) -> list[dict[str, Any]]:
        rid = secrets.token_hex(8)
        prompt_tokens = max(1, len(json.dumps(body)) // 4)
        base: dict[str, Any] = {"modelVersion": model, "responseId": rid}
        if reply.block_prompt:
            return [{**base, "promptFeedback": {"blockReason": reply.block_prompt},
                     "usageMetadata": {"promptTokenCount": prompt_tokens,
                                       "totalTokenCount": prompt_tokens}}]
        thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
        chunks: list[list[dict[str, Any]]] = []
        if reply.thoughts and thinking.get("includeThoughts"):
            half = len(reply.thoughts) // 2 or 1
            chunks += [[{"text": reply.thoughts[:half], "thought": True}],
                       [{"text": reply.thoughts[half:], "thought": True}]]
        text = reply.text if reply.text is not None else "" if reply.calls else _echo(body)
        declared = _declared(body)
        finish = reply.finish
        if any(c.name not in declared for c in reply.calls):
            finish, text = "UNEXPECTED_TOOL_CALL", ""
        if text:
            n = max(1, min(reply.chunks, len(text)))
            step = -(-len(text) // n)
            chunks += [[{"text": text[k : k + step]}] for k in range(0, len(text), step)]
        if reply.calls and finish == "STOP":
            parts: list[dict[str, Any]] = [{"functionCall": {"name": c.name, "args": c.args}}
                                           for c in reply.calls]
            parts[0]["thoughtSignature"] = self._mint(reply.calls[0].name)
            chunks.append(parts)
        elif model.startswith("gemini-3") and chunks and finish == "STOP":
            chunks.append([{"text": "", "thoughtSignature": self._mint("")}])
        usage = {"promptTokenCount": prompt_tokens,
                 "candidatesTokenCount": max(1, len(text) // 4),
                 "totalTokenCount": prompt_tokens + max(1, len(text) // 4)}
        if reply.thoughts:
            usage["thoughtsTokenCount"] = max(1, len(reply.thoughts) // 4)
            usage["totalTokenCount"] += usage["thoughtsTokenCount"]
        out = [{**base, "candidates": [{"content": {"role": "model", "parts": p}, "index": 0}]}
               for p in chunks]
        final: dict[str, Any] = {"content": {"role": "model", "parts": []}, "index": 0,
                                 "finishReason": finish}
        if out and finish in ("STOP", "MAX_TOKENS"):
            out[-1]["candidates"][0]["finishReason"] = finish
            out[-1]["usageMetadata"] = usage
        else:
            out.append({**base, "candidates": [final], "usageMetadata": usage})
        return out


# ---------------------------------------------------------------------- rules (pure)


def _fields(obj: object, allowed: set[str], where: str | None) -> None:
    if not isinstance(obj, dict):
        raise _bad(f"Invalid JSON payload received. Expected an object at '{where}'.")
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        at = f" at '{where}'" if where else ""
        raise _bad("\n".join(f'Invalid JSON payload received. Unknown name "{k}"{at}: '
                             "Cannot find field." for k in unknown))


def _thinking(config: object, model: str) -> None:
    if config is None:
        return
    _fields(config, _THINKING, "generation_config.thinking_config")
    assert isinstance(config, dict)
    if "thinkingLevel" in config and "thinkingBudget" in config:
        raise _bad("You can only set one of thinking budget and thinking level.")
    if "thinkingLevel" in config and not model.startswith("gemini-3"):
        raise _bad("Thinking level is not supported for this model.")
    if config.get("thinkingBudget") == 0 and "pro" in model:
        raise _bad("Budget 0 is invalid. This model only works in thinking mode.")
    level = config.get("thinkingLevel")
    allowed = ("minimal", "low", "medium", "high") if "flash" in model else ("low", "high")
    if level is not None and str(level).lower() not in allowed:
        raise _bad(f"Thinking level {level} is not supported for this model.")


def _schema_fields(schema: object, where: str) -> None:
    """Parse-stage check: only Schema's fields, collected like Google's fieldViolations."""
    problems: list[str] = []

    def walk(node: object, path: str) -> None:
        if not isinstance(node, dict):
            return
        problems.extend(f'Invalid JSON payload received. Unknown name "{k}" at \'{path}\': '
                        "Cannot find field." for k in node if k not in _SCHEMA)
        t = node.get("type")
        if isinstance(t, list):
            problems.append(f"Invalid JSON payload received. Proto field is not repeating, "
                            f"cannot start list. at '{path}.type'")
        elif t is not None and str(t).upper() not in _TYPES:
            problems.append(f"Invalid value at '{path}.type' (type.googleapis.com/"
                            f'google.ai.generativelanguage.v1beta.Type), "{t}"')
        enum = node.get("enum")
        if isinstance(enum, list) and any(not isinstance(v, str) for v in enum):
            problems.append(f"Invalid value at '{path}.enum' (TYPE_STRING)")
        props = node.get("properties")
        for n, sub in enumerate(props.values() if isinstance(props, dict) else []):
            walk(sub, f"{path}.properties[{n}].value")
        walk(node.get("items"), f"{path}.items")
        for n, sub in enumerate(node.get("anyOf") or []):
            walk(sub, f"{path}.any_of[{n}]")

    walk(schema, where)
    if problems:
        raise _bad("\n".join(problems))


def _schema_rules(node: object, where: str, top: bool = False) -> None:
    """Semantic checks Gemini runs after parsing (wording as in its INVALID_ARGUMENT errors)."""
    if not isinstance(node, dict):
        return
    t = str(node.get("type", "")).upper()
    pre = "* GenerateContentRequest."
    props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
    if t == "STRING" and node.get("format") not in (None, "enum", "date-time"):
        raise _bad(f"{pre}{where}.format: only 'enum' and 'date-time' are supported for "
                   "STRING type\n")
    if not top and not t and not node.get("anyOf"):
        raise _bad(f"{pre}{where}.type: must be specified when not using one_of, any_of or "
                   "all_of fields\n")
    if t == "ARRAY" and "items" not in node:
        raise _bad(f"{pre}{where}.items: missing field.\n")
    if t == "OBJECT" and top and not props:
        raise _bad(f"{pre}{where}.properties: should be non-empty for OBJECT type\n")
    for n, name in enumerate(node.get("required") or []):
        if name not in props:
            raise _bad(f"{pre}{where}.required[{n}]: property is not defined\n")
    for name, sub in props.items():
        _schema_rules(sub, f"{where}.properties[{name}]")
    _schema_rules(node.get("items"), f"{where}.items")
    for n, sub in enumerate(node.get("anyOf") or []):
        _schema_rules(sub, f"{where}.any_of[{n}]")


def _content(content: object, i: int) -> None:
    _fields(content, {"role", "parts"}, f"contents[{i}]")
    assert isinstance(content, dict)
    if content.get("role") not in ("user", "model"):
        raise _bad("Please use a valid role: user, model.")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise _bad(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be "
                   "empty.\n")
    for j, part in enumerate(parts):
        where = f"contents[{i}].parts[{j}]"
        _fields(part, _PART, where)
        if sum(k in part for k in _DATA) != 1:
            raise _bad(f"* GenerateContentRequest.{where}.data: required oneof field 'data' "
                       "must have one initialized field\n")
        if "inlineData" in part:
            blob = part["inlineData"]
            _fields(blob, {"mimeType", "data"}, f"{where}.inline_data")
            if not _is_base64(str(blob.get("data", ""))) or not blob.get("mimeType"):
                raise _bad(f"Invalid value at '{where}.inline_data.data' (TYPE_BYTES), Base64 "
                           "decoding failed")
        if "fileData" in part:
            _fields(part["fileData"], {"mimeType", "fileUri"}, f"{where}.file_data")
        if "functionCall" in part:
            _fields(part["functionCall"], {"name", "args", "id"}, f"{where}.function_call")
        if "functionResponse" in part:
            _fields(part["functionResponse"], {"name", "response", "id", "parts"},
                    f"{where}.function_response")
            if not isinstance(part["functionResponse"].get("response"), dict):
                raise _bad(f"Invalid value at '{where}.function_response.response' "
                           "(type.googleapis.com/google.protobuf.Struct)")


def _turns(contents: list[dict[str, Any]]) -> None:
    """Alternating roles; function responses answer exactly the previous turn's calls."""
    prev: dict[str, Any] | None = None
    for content in contents:
        if prev is not None and prev["role"] == content["role"]:
            raise _bad(ALTERNATE)
        responses = [p["functionResponse"] for p in content["parts"] if "functionResponse" in p]
        calls = [p["functionCall"] for p in (prev or {}).get("parts", []) if "functionCall" in p]
        if responses:
            if not calls:
                raise _bad(RESPONSE_AFTER_CALL)
            if len(responses) != len(calls):
                raise _bad(RESPONSE_COUNT)
            names = sorted(str(c.get("name")) for c in calls)
            if sorted(str(r.get("name")) for r in responses) != names:
                raise _bad("Please ensure that function response names match the function "
                           "call names of the function call turn.")
        elif calls and content["role"] == "user":
            raise _bad(RESPONSE_COUNT)
        prev = content


def _is_base64(data: str) -> bool:
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        try:
            base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            return False
        return re.fullmatch(r"[A-Za-z0-9_-]+=*", data) is not None
    return True


def _declared(body: dict[str, Any]) -> set[str]:
    return {str(d.get("name")) for t in body.get("tools") or []
            for d in (t.get("functionDeclarations") or [])}


def _echo(body: dict[str, Any]) -> str:
    for content in reversed(body["contents"]):
        texts = [p["text"] for p in content["parts"]
                 if "text" in p and not p.get("thought")]
        if content["role"] == "user" and texts:
            return "echo: " + " ".join(texts)
    return "echo"


def _merge(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The unary answer: the stream's chunks as one response."""
    merged = dict(chunks[-1])
    if "candidates" not in merged:
        return merged
    parts: list[dict[str, Any]] = []
    for c in chunks:
        for p in c.get("candidates", [{}])[0].get("content", {}).get("parts", []):
            prev = parts[-1] if parts else None
            if (prev is not None and set(p) <= {"text", "thought"} and set(prev) == set(p)
                    and "thoughtSignature" not in prev):
                parts[-1] = {**prev, "text": prev["text"] + p["text"]}
            else:
                parts.append(p)
    last = dict(merged["candidates"][0])
    last["content"] = {"role": "model", "parts": parts}
    merged["candidates"] = [last]
    return merged
