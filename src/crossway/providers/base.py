"""What every upstream provider is: data (URL, keys, models) plus small hooks.

The relay asks a provider four things: which dialect and capabilities a model has; the final
request for a target (`prepare`: URL from dialect + model + stream, headers, body bytes,
then `sign`, which sees those bytes); how to read its streams (`stream_reader`); and how to
turn an upstream error into a crossway error. Provider families subclass `Provider` and
override only what differs (DESIGN.md, providers/); `providers.registry` picks the class
for a backend's `type`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

from crossway import __version__
from crossway.config.settings import BackendSettings, Dialect, KeySpec
from crossway.dialects import Capabilities, registry
from crossway.dialects.sse import SSEEvent, SSEParser
from crossway.errors import CrosswayError, InvalidRequest, Overloaded, error_class_for_status
from crossway.transport.base import UpstreamRequest

if TYPE_CHECKING:
    from crossway.routing.plan import Target

USER_AGENT = f"crossway/{__version__}"

DialectOrigin = Literal["built-in", "config", "override", "discovered", "learned"]

_ROUTE = {
    "openai_chat": "/chat/completions",
    "anthropic": "/messages",
    "openai_responses": "/responses",
}


class StreamReader(Protocol):
    """Bytes of a streaming answer in, complete events out (SSE by default)."""

    def feed(self, chunk: bytes) -> list[SSEEvent]: ...

    def flush(self) -> list[SSEEvent]: ...


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    dialect: Dialect
    caps: Capabilities


@dataclass(frozen=True, slots=True)
class Instance:
    """One credential of a backend: `opencode-go` (single key) or `opencode-go.2`."""

    name: str
    key: KeySpec
    provider: Provider


@dataclass(frozen=True, slots=True)
class UpstreamFailure:
    """What an upstream error response said, parsed leniently (bodies may be HTML)."""

    status: int
    error_class: str | None  # Zen class name or OpenAI/Anthropic error type
    message: str
    retry_after: str | None
    # A usage window the upstream named (OpenCode Go's `metadata.limitName`: "5 hour",
    # "weekly", "monthly"), so cooldowns and the quota meter know which limit was hit.
    limit_name: str | None = None


class Provider:
    # When True, a model not in the catalog is still accepted if the request names this
    # backend explicitly (`backend:model`), using `default_dialect`.
    open_catalog = True
    default_dialect: Dialect = "openai_chat"
    # Whether the routing runtime reads this backend's model listing at start-up (and on
    # an interval) so ids its catalog lacks become routable.
    lists_models = False
    catalog_version = 0  # bumped on every runtime change of the catalog (discovered, learned)

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.base_url = settings.api_url
        self.instances: tuple[Instance, ...] = tuple(
            Instance(self._instance_name(k), k, self) for k in settings.keys
        )
        self._models: dict[str, ModelInfo] = {}
        table = self.builtin_models()
        # Where each model's dialect came from, for `crossway models` and for deciding which
        # dialects may be re-learned (a user's override never is).
        self._origins: dict[str, DialectOrigin] = dict.fromkeys(table, "built-in")
        for model_id in settings.models:
            table.setdefault(model_id, self.default_dialect)
            self._origins[model_id] = "config"  # the user named it, whatever tables say
        table.update(settings.model_protocol_overrides)
        self._origins.update(dict.fromkeys(settings.model_protocol_overrides, "override"))
        for model_id, dialect in table.items():
            self._models[model_id] = ModelInfo(model_id, dialect,
                                               self.capabilities(model_id, dialect))

    def _instance_name(self, key: KeySpec) -> str:
        return self.name if key.number is None else f"{self.name}.{key.number}"

    # ---------------------------------------------------------------- catalog

    def builtin_models(self) -> dict[str, Dialect]:
        return {}

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        return Capabilities()

    def models(self) -> list[ModelInfo]:
        return list(self._models.values())

    def lookup(self, model: str, *, explicit: bool) -> ModelInfo | None:
        info = self._models.get(model)
        if info is None and explicit and self.open_catalog:
            d = self.default_dialect
            info = ModelInfo(model, d, self.capabilities(model, d))
        return info

    def dialect_origin(self, model: str) -> DialectOrigin | None:
        """built-in, config, override, discovered or learned; None for an unknown id."""
        return self._origins.get(model)

    def guess_dialect(self, model: str) -> Dialect | None:
        """The likeliest dialect of an id the upstream lists but the catalog lacks; None for
        ids crossway cannot serve (no codec for their dialect)."""
        return self.default_dialect

    def other_dialect(self, model: str) -> Dialect | None:
        """The dialect to retry a model on when the upstream says it is not served on this
        one (OpenCode moves models between routes); None: never retried elsewhere."""
        return None

    def add_discovered(self, ids: list[str]) -> list[str]:
        """Make ids the upstream listed routable (on their likeliest dialect); returns the
        ids that were new."""
        added = []
        for model_id in ids:
            if model_id in self._models:
                continue
            dialect = self.guess_dialect(model_id)
            if dialect is None:
                continue
            self._set(model_id, dialect, "discovered")
            added.append(model_id)
        return added

    def learn(self, model: str, dialect: Dialect) -> bool:
        """Record the dialect a model answered on; False when nothing changed (or the user's
        own override names the dialect, which wins)."""
        info = self._models.get(model)
        if self._origins.get(model) == "override" or (
                info is not None and info.dialect == dialect):
            return False
        self._set(model, dialect, "learned")
        return True

    def _set(self, model: str, dialect: Dialect, origin: DialectOrigin) -> None:
        self._models[model] = ModelInfo(model, dialect, self.capabilities(model, dialect))
        self._origins[model] = origin
        self.catalog_version += 1  # routers drop what they cached of the catalog

    # ---------------------------------------------------------------- wire

    # What a streaming answer's content-type must contain (Bedrock's differs).
    stream_content_type = "text/event-stream"
    # `prepare` may block (credential files, a token endpoint): the relay runs it in a thread.
    blocking_prepare = False

    def prepare(self, target: Target, body: dict[str, Any], *, stream: bool, session_id: str,
                client_headers: Mapping[str, str]) -> UpstreamRequest:
        """The final upstream request for `body` (already in the target's dialect)."""
        request = UpstreamRequest(
            "POST",
            self.url_for(target.dialect, target.model.id, stream=stream),
            self.headers(target, session_id=session_id, stream=stream,
                         client_headers=client_headers),
            orjson.dumps(body),
        )
        return self.sign(request, target)

    def url_for(self, dialect: Dialect, model: str, *, stream: bool) -> str:
        """Where a request goes. Gemini puts model and method in the path, Azure a
        deployment; those providers override this."""
        return self.base_url + _ROUTE[dialect]

    def headers(self, target: Target, *, session_id: str, stream: bool,
                client_headers: Mapping[str, str]) -> dict[str, str]:
        """Upstream request headers, built from scratch: nothing of the client's credentials
        (or anything else of its headers, beyond what its dialect says a real upstream of
        that dialect needs) is forwarded."""
        h = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "user-agent": USER_AGENT,
        }
        h.update(registry.get(target.dialect).upstream_headers(
            target.instance.key.key, client_headers=client_headers, caps=target.caps))
        h.update(self.settings.headers)
        return h

    def sign(self, request: UpstreamRequest, target: Target) -> UpstreamRequest:
        """Last hook before sending: sees the final bytes (AWS SigV4 signs them)."""
        return request

    def models_request(self, instance: Instance) -> UpstreamRequest | None:
        """The request that lists this backend's models (`GET {base}/models` with the
        instance's key by default); None where the upstream has no listing."""
        key = instance.key.key
        headers = {"accept": "application/json", "user-agent": USER_AGENT}
        if key:
            headers["authorization"] = "Bearer " + key
        headers.update(self.settings.headers)
        return UpstreamRequest("GET", self.base_url + "/models", headers)

    def parse_models(self, body: bytes) -> list[str]:
        """Model ids from a listing answer (OpenAI's list shape by default: `data[].id`)."""
        data = orjson.loads(body)
        items = data.get("data") if isinstance(data, dict) else None
        return [m["id"] for m in items or ()
                if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def stream_reader(self) -> StreamReader:
        """The framing parser of this provider's streams (SSE unless it says otherwise)."""
        return SSEParser()

    # ---------------------------------------------------------------- errors

    def parse_failure(
        self, status: int, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamFailure:
        retry_after = headers.get("retry-after")
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
        cls: str | None = None
        message = ""
        limit_name: str | None = None
        if isinstance(data, dict):
            err = data.get("error")
            limit_name = _limit_name(data)
            if isinstance(err, dict):
                cls = _str_or_none(err.get("type")) or _str_or_none(err.get("code"))
                message = _str_or_none(err.get("message")) or ""
                limit_name = limit_name or _limit_name(err)
            elif isinstance(err, str):
                message = err
            if not message:
                message = _str_or_none(data.get("message")) or \
                    _str_or_none(data.get("detail")) or ""
        if not message:
            snippet = _text_snippet(body)
            message = f"upstream answered HTTP {status}" + (f": {snippet}" if snippet else "")
        return UpstreamFailure(status, cls, message, retry_after, limit_name)

    def map_error(self, instance: Instance, failure: UpstreamFailure) -> CrosswayError:
        """Default: keep the upstream's status and wording (clients' recovery logic matches on
        wording, spec B8); 5xx keep their status, 529 stays an overload."""
        overflow = context_overflow(failure)
        if overflow is not None:
            return overflow
        headers = {"retry-after": failure.retry_after} if failure.retry_after else {}
        if failure.status == 529:
            return Overloaded(failure.message, headers=headers)
        cls = error_class_for_status(failure.status)
        return cls(failure.message, headers=headers, code=failure.error_class,
                   status=failure.status if failure.status >= 500 else None)


_PROVIDER_PREFIX = re.compile(r"^Error from provider \([^)]*\): ")
_OVERFLOW = re.compile(
    r"context[ _]length|context window|maximum context|prompt is too long|token limit|"
    r"too many tokens|exceeds? (?:the )?(?:max(?:imum)? )?(?:context|length)|"
    r"prompt exceeds max length|input length and `?max_tokens`? exceed",
    re.IGNORECASE,
)
_LIMIT_AND_ASK = (
    # OpenAI, vLLM, DeepSeek: "maximum context length is 131072 tokens. However, you
    # requested 140000 tokens"
    re.compile(r"maximum context length is (\d+) tokens.*?requested (\d+) tokens", re.S),
    # Kimi: "exceeded model token limit: 262144 (requested: 300000)"
    re.compile(r"token limit:? (\d+) \(requested:? (\d+)\)"),
)
_ASK_AND_LIMIT = re.compile(r"(\d+) tokens? > (\d+)")


def context_overflow(failure: UpstreamFailure) -> CrosswayError | None:
    """Context-overflow errors, re-worded as Anthropic words them ("prompt is too long: N
    tokens > M maximum"): Claude Code recognises that wording and compacts the conversation
    (spec B8); OpenAI clients get code `context_length_exceeded`."""
    if failure.status not in (400, 413, 422) or not (
        _OVERFLOW.search(failure.message) or failure.error_class == "context_length_exceeded"
    ):
        return None
    text = _PROVIDER_PREFIX.sub("", failure.message)
    numbers: tuple[str, str] | None = None
    for pattern in _LIMIT_AND_ASK:
        m = pattern.search(text)
        if m:
            numbers = (m.group(2), m.group(1))
            break
    if numbers is None and (m := _ASK_AND_LIMIT.search(text)):
        numbers = (m.group(1), m.group(2))
    if text.lower().startswith("prompt is too long"):
        message = text
    elif numbers is not None:
        message = f"prompt is too long: {numbers[0]} tokens > {numbers[1]} maximum ({text})"
    else:
        message = f"prompt is too long: {text}"
    return InvalidRequest(message, code="context_length_exceeded")


def _limit_name(obj: dict[str, object]) -> str | None:
    metadata = obj.get("metadata")
    return _str_or_none(metadata.get("limitName")) if isinstance(metadata, dict) else None


def _str_or_none(v: object) -> str | None:
    return v if isinstance(v, str) and v else None


_TAGS = re.compile(rb"<[^>]+>")


def _text_snippet(body: bytes) -> str:
    text = _TAGS.sub(b" ", body[:2000]).decode("utf-8", "replace")
    return " ".join(text.split())[:200]
