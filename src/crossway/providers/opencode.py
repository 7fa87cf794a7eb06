"""OpenCode Go and Zen: one backend per tier, the wire dialect chosen per model.

Facts from spec A1-A8: bare model ids on the wire; Bearer auth on chat/completions and
responses, `x-api-key` on messages; Go rejects requests without `x-opencode-session`
(one stable id per conversation); errors arrive in Zen's envelope with Zen class names,
several of them on misleading statuses (a 401 `ModelError` is not an auth failure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from crossway.config.settings import BackendSettings, Dialect
from crossway.dialects import Capabilities
from crossway.errors import (
    BillingError,
    CrosswayError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
)
from crossway.providers.base import Instance, Provider, UpstreamFailure, context_overflow
from crossway.providers.catalog import (
    GO_MODELS,
    ZEN_MODELS,
    family_capabilities,
    likely_dialect,
    retry_dialect,
)

if TYPE_CHECKING:
    from crossway.routing.plan import Target

_PROVIDER_PREFIX = "Error from provider ("
# A retry-after longer than this means a usage window (Go's 5-hour/weekly limits): tell the
# SDKs not to sit retrying (spec B8).
_LONG_RETRY_SECONDS = 60


class OpenCodeProvider(Provider):
    open_catalog = False
    lists_models = True  # GET /models is read at start-up to learn new ids (discovery.py)

    def __init__(self, settings: BackendSettings) -> None:
        self.tier = "go" if settings.type == "opencode-go" else "zen"
        super().__init__(settings)

    def builtin_models(self) -> dict[str, Dialect]:
        return dict(GO_MODELS if self.tier == "go" else ZEN_MODELS)

    def capabilities(self, model: str, dialect: Dialect) -> Capabilities:
        return family_capabilities(model, dialect)

    def guess_dialect(self, model: str) -> Dialect | None:
        return likely_dialect(model, self.tier)

    def other_dialect(self, model: str) -> Dialect | None:
        # OpenCode moves models between routes (qwen3.7-max went from chat to messages): a
        # ModelError on the catalog's route is retried once on the other. A user's override
        # is taken as fact.
        info = self._models.get(model)
        if info is None or self.dialect_origin(model) == "override":
            return None
        return retry_dialect(info.dialect)

    def headers(self, target: Target, *, session_id: str, stream: bool,
                client_headers: Mapping[str, str]) -> dict[str, str]:
        h = super().headers(target, session_id=session_id, stream=stream,
                            client_headers=client_headers)
        # Go rejects requests without it; Zen routes by it (sticky provider, prompt cache).
        h["x-opencode-session"] = session_id
        return h

    def map_error(self, instance: Instance, failure: UpstreamFailure) -> CrosswayError:
        overflow = context_overflow(failure)
        if overflow is not None:
            return overflow
        cls, msg = failure.error_class, failure.message
        where = f"{instance.name} ({self.base_url})"
        if cls == "ModelError":
            return NotFound(f"{msg} [{self.name} does not serve this model on this route]",
                            code="model_not_found")
        if cls in ("CreditsError", "MonthlyLimitError", "UserLimitError"):
            return BillingError(msg, code=cls)
        if cls == "AuthError":
            # Our upstream key was refused: the client's own credentials are fine, so this
            # must not reach Claude Code as a 401 (it would tell the user to log in again).
            err: CrosswayError = UpstreamError(
                f"{where} rejected the API key from {instance.key.source}: {msg}", code=cls)
            err.should_retry = False
            return err
        if cls in ("RegionError", "FreeTierError"):
            return PermissionDenied(msg, code=cls)
        if cls == "MissingSessionID":
            return UpstreamError(f"{where} wants an x-opencode-session header: {msg}", code=cls)
        if failure.status == 429 or (cls or "").endswith("LimitError"):
            headers = {"retry-after": failure.retry_after} if failure.retry_after else {}
            err = RateLimited(msg, code=cls, headers=headers)
            if _seconds(failure.retry_after) > _LONG_RETRY_SECONDS:
                err.should_retry = False
            return err
        if failure.status == 400 and msg.startswith(_PROVIDER_PREFIX):
            return InvalidRequest(msg, code=cls)
        return super().map_error(instance, failure)


def _seconds(retry_after: str | None) -> float:
    try:
        return float(retry_after) if retry_after else 0.0
    except ValueError:
        return 0.0
