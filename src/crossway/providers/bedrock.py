"""Amazon Bedrock: Anthropic's models through InvokeModel, every other family through the
Converse API, signed with AWS SigV4.

Bedrock has no API key: requests are signed with SigV4 over the final body, with
credentials from the AWS chain (environment, profile, SSO, instance role), by botocore's
signer (`pip install 'crossway[bedrock]'`). The body is Anthropic's Messages body with
`anthropic_version: bedrock-2023-05-31`, without `model` (it is in the path) or `stream`
(the path says that too: `/model/{id}/invoke-with-response-stream`). Streams arrive in AWS's
binary event-stream framing; each `chunk` event carries one Anthropic stream event, base64
encoded, which `EventStreamReader` hands on as the SSE event the Anthropic codecs read.
Other models speak Converse (crossway.dialects.bedrock_converse): `/model/{id}/converse`,
`/converse-stream`, whose event-stream messages carry their JSON directly.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import orjson

from crossway.config.settings import BackendSettings, Dialect
from crossway.dialects import Capabilities
from crossway.dialects.sse import SSEEvent
from crossway.errors import ServiceUnavailable
from crossway.providers.base import Instance, StreamReader, UpstreamFailure
from crossway.providers.gemini import missing_extra_message
from crossway.providers.generic import PresetMixin
from crossway.transport.base import UpstreamRequest

if TYPE_CHECKING:
    from crossway.routing.plan import Target

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
_HOST_REGION = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")
# Anthropic model ids and cross-region inference profiles (`us.anthropic.claude-...`).
_ANTHROPIC_ID = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic\.|^arn:aws[a-z-]*:bedrock:.*anthropic")
# Fields of Anthropic's body Bedrock does not take: the model and stream flag are in the path.
_NOT_IN_BODY = ("model", "stream", "metadata")
# Bedrock's exception names -> Anthropic error types, for errors inside a stream.
_STREAM_ERRORS = {
    "throttlingException": "rate_limit_error",
    "validationException": "invalid_request_error",
    "serviceUnavailableException": "overloaded_error",
    "modelStreamErrorException": "api_error",
    "internalServerException": "api_error",
    "modelTimeoutException": "api_error",
}


_ANTHROPIC: Dialect = "anthropic"
_CONVERSE: Dialect = "bedrock_converse"


def dialect_for(model: str) -> Dialect:
    """Anthropic's models keep Anthropic's own body (InvokeModel: prompt caching, thinking
    signatures, betas); every other family speaks Converse."""
    return _ANTHROPIC if _ANTHROPIC_ID.search(model) else _CONVERSE


class BedrockProvider(PresetMixin):
    # The AWS credential chain reads files and may ask the instance metadata service.
    blocking_prepare = True
    default_dialect: Dialect = _ANTHROPIC
    stream_content_type = "application/vnd.amazon.eventstream"

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        host = urlsplit(self.base_url).hostname or ""
        m = _HOST_REGION.fullmatch(host)
        self.region = settings.options.get("REGION") or (m.group(1) if m else None)
        self._extra_hint = missing_extra_message(self.name, "bedrock", "botocore")
        self._lock = threading.Lock()
        self._credentials: Any = None

    def dialect_for(self, model: str) -> Dialect:
        return dialect_for(model)

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        # A real Anthropic model: signatures validated, cache_control honoured.
        return Capabilities(anthropic_native=dialect == _ANTHROPIC)

    def url_for(self, dialect: Dialect, model: str, *, stream: bool) -> str:
        # ':' stays literal: aiohttp would decode `%3A` and the signature must cover the
        # path exactly as sent.
        if dialect == _ANTHROPIC:
            method = "invoke-with-response-stream" if stream else "invoke"
        else:
            method = "converse-stream" if stream else "converse"
        return f"{self.base_url}/model/{quote(model, safe=':')}/{method}"

    def prepare(self, target: Target, body: dict[str, Any], *, stream: bool, session_id: str,
                client_headers: Mapping[str, str]) -> UpstreamRequest:
        out = body
        if target.dialect == _ANTHROPIC:
            out = {k: v for k, v in body.items() if k not in _NOT_IN_BODY}
            out["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
            beta = client_headers.get("anthropic-beta")
            if beta:
                out["anthropic_beta"] = [b.strip() for b in beta.split(",") if b.strip()]
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            **self.settings.headers,
        }
        request = UpstreamRequest("POST", self.url_for(target.dialect, target.model.id,
                                                        stream=stream),
                                  headers, orjson.dumps(out))
        return self.sign(request, target)

    def sign(self, request: UpstreamRequest, target: Target) -> UpstreamRequest:
        try:
            from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
            from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ServiceUnavailable(self._extra_hint, code="missing_extra") from exc
        region = self.region or self._default_region()
        aws = AWSRequest(method=request.method, url=request.url, data=request.body,
                         headers=dict(request.headers))
        SigV4Auth(self._frozen_credentials(), "bedrock", region).add_auth(aws)
        request.headers = {k.lower(): str(v) for k, v in aws.headers.items()}
        return request

    def _frozen_credentials(self) -> Any:
        import botocore.session  # type: ignore[import-untyped]

        with self._lock:
            if self._credentials is None:
                self._credentials = botocore.session.get_session().get_credentials()
            creds = self._credentials
        if creds is None:
            raise ServiceUnavailable(
                f"backend {self.name} found no AWS credentials: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, and restart crossway",
                code="backend_not_configured")
        return creds.get_frozen_credentials()

    def _default_region(self) -> str:
        import botocore.session

        region = botocore.session.get_session().get_config_variable("region")
        if not region:
            raise ServiceUnavailable(
                f"backend {self.name} has no AWS region: set BEDROCK_BASE_URL to a region "
                "(us-east-1) or AWS_REGION", code="backend_not_configured")
        return str(region)

    def stream_reader(self) -> StreamReader:
        try:
            from botocore.eventstream import (  # type: ignore[import-untyped]
                EventStreamBuffer,
                ParserError,
            )
        except ImportError as exc:
            raise ServiceUnavailable(self._extra_hint, code="missing_extra") from exc
        return EventStreamReader(EventStreamBuffer(), ParserError)

    def models_request(self, instance: Instance) -> UpstreamRequest | None:
        return None  # the control plane lists models, not bedrock-runtime: configured list

    def parse_failure(self, status: int, body: bytes,
                      headers: Mapping[str, str]) -> UpstreamFailure:
        failure = super().parse_failure(status, body, headers)
        # `x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/...`
        kind = (headers.get("x-amzn-errortype") or "").split(":", 1)[0]
        if kind:
            return UpstreamFailure(failure.status, kind, failure.message, failure.retry_after)
        return failure


class EventStreamReader:
    """AWS event-stream frames in, the Anthropic SSE events they carry out."""

    def __init__(self, buffer: Any, parser_error: type[Exception]) -> None:
        self._buffer = buffer
        self._parser_error = parser_error
        self._broken = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._broken:
            return []
        self._buffer.add_data(chunk)
        out: list[SSEEvent] = []
        try:
            for message in self._buffer:
                event = _event(message.headers, message.payload)
                if event is not None:
                    out.append(event)
        except self._parser_error as exc:  # a corrupt frame (length or checksum)
            self._broken = True
            out.append(_error_event("api_error",
                                    f"Bedrock sent a malformed event-stream frame ({exc})"))
        return out

    def flush(self) -> list[SSEEvent]:
        return []


def _event(headers: Mapping[str, Any], payload: bytes) -> SSEEvent | None:
    kind = headers.get(":message-type")
    if kind == "exception" or kind == "error":
        name = str(headers.get(":exception-type") or headers.get(":error-code") or "")
        try:
            data = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            data = {}
        message = data.get("message") if isinstance(data, dict) else None
        text = message if isinstance(message, str) and message else name or "stream error"
        return _error_event(_STREAM_ERRORS.get(name, "api_error"), f"Bedrock: {text}")
    kind = headers.get(":event-type")
    if kind != "chunk":
        # Converse: the event's own JSON, its type in the header.
        return SSEEvent(str(kind), payload, payload) if kind else None
    try:
        wrapper = orjson.loads(payload)
        inner = base64.b64decode(wrapper["bytes"], validate=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return _error_event("api_error", "Bedrock sent a chunk that is not base64 JSON")
    return SSEEvent(None, inner, inner)


def _error_event(error_type: str, message: str) -> SSEEvent:
    data = orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})
    return SSEEvent("error", data, b"event: error\ndata: " + data)
