"""Google Gemini (AI Studio, `x-goog-api-key`) and Vertex AI (an OAuth token from Google
credentials): one dialect, two ways to reach it.

The model id and the method travel in the URL (`{base}/models/{model}:generateContent`,
`:streamGenerateContent?alt=sse`); errors are google.rpc Status bodies with a RetryInfo
delay, read by the dialect's own parser. Vertex needs the `google-auth` package
(`pip install 'crossway[vertex]'`); without it start-up still succeeds and its requests
answer a clear error naming the extra.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from crossway.config.settings import BackendSettings, Dialect
from crossway.dialects import Capabilities, gemini
from crossway.errors import CrosswayError, ServiceUnavailable, UpstreamError
from crossway.providers.base import USER_AGENT, Instance, UpstreamFailure
from crossway.providers.generic import PresetMixin, key_refused
from crossway.transport.base import UpstreamRequest

if TYPE_CHECKING:
    from crossway.routing.plan import Target

_CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
log = logging.getLogger("crossway.providers.vertex")


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class GeminiProvider(PresetMixin):
    default_dialect: Dialect = "gemini"

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        return Capabilities()

    def url_for(self, dialect: Dialect, model: str, *, stream: bool) -> str:
        return self.base_url + gemini.request_path(model, stream)

    def models_request(self, instance: Instance) -> UpstreamRequest | None:
        if self.settings.models_mode == "allowlist":
            return None
        headers = {"accept": "application/json", "user-agent": USER_AGENT,
                   "x-goog-api-key": instance.key.key, **self.settings.headers}
        # One page holds every model Google serves (about fifty); 1000 is the page limit.
        return UpstreamRequest("GET", self.base_url + "/models", headers,
                               params={"pageSize": "1000"})

    def listed_models(self, body: bytes) -> list[str]:
        return gemini.model_ids(orjson.loads(body))

    def parse_failure(self, status: int, body: bytes,
                      headers: Mapping[str, str]) -> UpstreamFailure:
        err = gemini.parse_error(status, body)
        retry_after = headers.get("retry-after") or err.retry_after
        return UpstreamFailure(err.status, err.reason or err.grpc_status, err.message,
                               retry_after)

    def map_error(self, instance: Instance, failure: UpstreamFailure) -> CrosswayError:
        # parse_failure kept the most specific name: an ErrorInfo reason, else the status.
        name = failure.error_class
        grpc, reason = (name, None) if name in _GRPC_NAMES else (None, name)
        err = gemini.map_error(gemini.GeminiError(failure.status, grpc, failure.message,
                                                  reason, failure.retry_after))
        return key_refused(self, instance, err)


_GRPC_NAMES = frozenset((
    "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE", "UNAUTHENTICATED",
    "PERMISSION_DENIED", "NOT_FOUND", "ABORTED", "ALREADY_EXISTS", "RESOURCE_EXHAUSTED",
    "CANCELLED", "DATA_LOSS", "UNKNOWN", "INTERNAL", "NOT_IMPLEMENTED", "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
))


class _TokenSource:
    """Google credentials and their current access token.

    Fetching a token is a blocking HTTPS call. Only the first one (and one after a token
    really expired) is made on the request's path, in the relay's worker thread
    (`blocking_prepare`); when a token nears its end (google-auth's refresh window, minutes
    before expiry) the next one is fetched in a background thread while requests keep using
    the current one."""

    def __init__(self, extra_hint: str) -> None:
        self._lock = threading.Lock()
        self._credentials: Any = None
        self._hint = extra_hint
        self._renewing = False

    def token(self) -> str:
        with self._lock:
            if self._credentials is None:
                self._credentials = self._load()
            creds = self._credentials
            if creds.valid:
                return str(creds.token)
            expiry = creds.expiry  # naive UTC, as google-auth keeps it
            usable = creds.token and expiry is not None and \
                expiry - datetime.timedelta(seconds=30) > _utcnow()
            if not usable:
                self._refresh(creds)
                return str(creds.token)
            if not self._renewing:
                self._renewing = True
                threading.Thread(target=self._renew, args=(creds,), name="vertex-token",
                                 daemon=True).start()
            return str(creds.token)

    def _renew(self, creds: Any) -> None:
        try:
            self._refresh(creds)
        except CrosswayError as exc:
            # The current token still works for a while; the next request retries.
            log.warning("Vertex AI token renewal failed: %s", exc.message)
        finally:
            with self._lock:
                self._renewing = False

    def _load(self) -> Any:
        try:
            import google.auth
        except ImportError as exc:
            raise ServiceUnavailable(self._hint, code="missing_extra") from exc
        try:
            credentials, _project = google.auth.default(scopes=[_CLOUD_SCOPE])
        except google.auth.exceptions.GoogleAuthError as exc:
            raise ServiceUnavailable(
                f"no Google credentials for Vertex AI: {exc}. Run `gcloud auth "
                "application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a "
                "service account key file", code="vertex_credentials") from exc
        return credentials

    @staticmethod
    def _refresh(creds: Any) -> None:
        import google.auth.exceptions
        from google.auth.transport.requests import Request

        try:
            creds.refresh(Request())
        except google.auth.exceptions.GoogleAuthError as exc:
            raise UpstreamError(f"Google refused to issue a Vertex AI access token: {exc}",
                                code="vertex_credentials") from exc


class VertexProvider(GeminiProvider):
    """Gemini on Vertex AI: `{location}-aiplatform.googleapis.com/v1/projects/{project}/
    locations/{location}/publishers/google/models/{model}:generateContent`, with a bearer
    token from Application Default Credentials (or a service account key file named by
    GOOGLE_APPLICATION_CREDENTIALS)."""

    # The first token (and one after a real expiry) comes from a blocking HTTPS call.
    blocking_prepare = True

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._tokens = _TokenSource(missing_extra_message(self.name, "vertex", "google-auth"))

    def models_request(self, instance: Instance) -> UpstreamRequest | None:
        return None  # publisher models are not listable per project: configured list

    def headers(self, target: Target, *, session_id: str, stream: bool,
                client_headers: Mapping[str, str]) -> dict[str, str]:
        h = super().headers(target, session_id=session_id, stream=stream,
                            client_headers=client_headers)
        h.pop("x-goog-api-key", None)
        h["authorization"] = "Bearer " + self._tokens.token()
        return h


def missing_extra_message(backend: str, extra: str, package: str) -> str:
    return (f"backend {backend} needs the optional package {package}, which is not "
            f"installed: pip install 'crossway[{extra}]' and restart crossway")
