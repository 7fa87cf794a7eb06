"""What every upstream provider is: data (URL, keys, models) plus small hooks (headers, errors).

The relay asks a provider three things: which dialect and capabilities a model has, where and
with which headers to send a request, and how to turn an upstream error into a crossway error.
Provider families subclass `Provider` and override only what differs (DESIGN.md, providers/).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from crossway import __version__
from crossway.config.settings import BackendSettings, Dialect, KeySpec
from crossway.dialects import Capabilities
from crossway.errors import CrosswayError, InvalidRequest, Overloaded, error_class_for_status

USER_AGENT = f"crossway/{__version__}"

_ROUTE = {
    "openai_chat": "/chat/completions",
    "anthropic": "/messages",
    "openai_responses": "/responses",
}


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


class Provider:
    # When True, a model not in the catalog is still accepted if the request names this
    # backend explicitly (`backend:model`), using `default_dialect`.
    open_catalog = True
    default_dialect: Dialect = "openai_chat"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.base_url = settings.api_url
        self.instances: tuple[Instance, ...] = tuple(
            Instance(self._instance_name(k), k, self) for k in settings.keys
        )
        self._models: dict[str, ModelInfo] = {}
        table = self.builtin_models()
        for model_id in settings.models:
            table.setdefault(model_id, self.default_dialect)
        table.update(settings.model_protocol_overrides)
        for model_id, dialect in table.items():
            self._models[model_id] = ModelInfo(model_id, dialect,
                                               self.capabilities(model_id, dialect))

    def _instance_name(self, key: KeySpec) -> str:
        return self.name if key.number is None else f"{self.name}.{key.number}"

    # ---------------------------------------------------------------- catalog

    def builtin_models(self) -> dict[str, Dialect]:
        return {}

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        return Capabilities(anthropic_native=dialect == "anthropic")

    def models(self) -> list[ModelInfo]:
        return list(self._models.values())

    def lookup(self, model: str, *, explicit: bool) -> ModelInfo | None:
        info = self._models.get(model)
        if info is None and explicit and self.open_catalog:
            d = self.default_dialect
            info = ModelInfo(model, d, self.capabilities(model, d))
        return info

    # ---------------------------------------------------------------- wire

    def url(self, dialect: Dialect) -> str:
        return self.base_url + _ROUTE[dialect]

    def headers(
        self,
        dialect: Dialect,
        key: KeySpec,
        *,
        session_id: str,
        stream: bool,
        client_headers: Mapping[str, str],
        caps: Capabilities,
    ) -> dict[str, str]:
        """Upstream request headers, built from scratch: nothing of the client's credentials
        (or anything else of its headers, beyond the Anthropic version/betas a real Anthropic
        upstream needs) is forwarded."""
        h = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "user-agent": USER_AGENT,
        }
        if dialect == "anthropic":
            h["x-api-key"] = key.key
            version = "2023-06-01"
            if caps.anthropic_native:
                version = client_headers.get("anthropic-version") or version
                beta = client_headers.get("anthropic-beta")
                if beta:
                    h["anthropic-beta"] = beta
            h["anthropic-version"] = version
        else:
            h["authorization"] = "Bearer " + key.key
        h.update(self.settings.headers)
        return h

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
        if isinstance(data, dict):
            err = data.get("error")
            if isinstance(err, dict):
                cls = _str_or_none(err.get("type")) or _str_or_none(err.get("code"))
                message = _str_or_none(err.get("message")) or ""
            elif isinstance(err, str):
                message = err
            if not message:
                message = _str_or_none(data.get("message")) or \
                    _str_or_none(data.get("detail")) or ""
        if not message:
            snippet = _text_snippet(body)
            message = f"upstream answered HTTP {status}" + (f": {snippet}" if snippet else "")
        return UpstreamFailure(status, cls, message, retry_after)

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


def _str_or_none(v: object) -> str | None:
    return v if isinstance(v, str) and v else None


_TAGS = re.compile(rb"<[^>]+>")


def _text_snippet(body: bytes) -> str:
    text = _TAGS.sub(b" ", body[:2000]).decode("utf-8", "replace")
    return " ".join(text.split())[:200]
