"""crossway's exception tree. Each class knows its HTTP status and its error type in both
dialects; the server edge renders it in the client's dialect (server/errors.py)."""

from __future__ import annotations


class CrosswayError(Exception):
    status: int = 500
    anthropic_type: str = "api_error"
    openai_type: str = "server_error"
    # Stainless SDKs (openai, anthropic) honour `x-should-retry`; None leaves them to decide.
    should_retry: bool | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = dict(headers or {})


class InvalidRequest(CrosswayError):
    status = 400
    anthropic_type = "invalid_request_error"
    openai_type = "invalid_request_error"
    should_retry = False


class AuthenticationFailed(CrosswayError):
    status = 401
    anthropic_type = "authentication_error"
    openai_type = "authentication_error"
    should_retry = False


class BillingError(CrosswayError):
    status = 402
    anthropic_type = "billing_error"
    openai_type = "insufficient_quota"
    should_retry = False


class PermissionDenied(CrosswayError):
    status = 403
    anthropic_type = "permission_error"
    openai_type = "permission_error"
    should_retry = False


class NotFound(CrosswayError):
    status = 404
    anthropic_type = "not_found_error"
    openai_type = "not_found_error"
    should_retry = False


class PayloadTooLarge(CrosswayError):
    status = 413
    anthropic_type = "request_too_large"
    openai_type = "invalid_request_error"
    should_retry = False


class RateLimited(CrosswayError):
    status = 429
    anthropic_type = "rate_limit_error"
    openai_type = "rate_limit_error"


class NotImplementedYet(CrosswayError):
    status = 501
    anthropic_type = "api_error"
    openai_type = "not_implemented"
    should_retry = False


class UpstreamError(CrosswayError):
    """The upstream failed or answered something we cannot use."""

    status = 502
    anthropic_type = "api_error"
    openai_type = "server_error"


class ServiceUnavailable(CrosswayError):
    status = 503
    anthropic_type = "api_error"
    openai_type = "service_unavailable"


class UpstreamTimeout(CrosswayError):
    status = 504
    anthropic_type = "api_error"
    openai_type = "timeout"


class Overloaded(CrosswayError):
    status = 529
    anthropic_type = "overloaded_error"
    openai_type = "service_unavailable"


class ConfigError(Exception):
    """Invalid configuration found at start-up; the message says what to fix."""


_BY_STATUS: dict[int, type[CrosswayError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    402: BillingError,
    403: PermissionDenied,
    404: NotFound,
    413: PayloadTooLarge,
    429: RateLimited,
    501: NotImplementedYet,
    502: UpstreamError,
    503: ServiceUnavailable,
    504: UpstreamTimeout,
    529: Overloaded,
}


def error_class_for_status(status: int) -> type[CrosswayError]:
    """The exception class for an HTTP status; unknown 4xx become 400, unknown 5xx 502."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls
    return InvalidRequest if 400 <= status < 500 else UpstreamError
