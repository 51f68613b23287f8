"""RFC 9457 problem details: the one error shape every route answers with."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://llmforge.dev/problems/"


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The error body (RFC 9457). ``code`` is the stable, machine-readable part."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class ProblemError(Exception):
    """Raised by domain code and handlers; rendered as a problem-details response."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


class _StatusProblem(ProblemError):
    """A problem of one fixed HTTP status; subclasses name the status and a default title."""

    status_code: ClassVar[int]
    default_title: ClassVar[str]

    def __init__(
        self,
        code: str,
        title: str | None = None,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            self.status_code,
            code,
            title or self.default_title,
            detail,
            errors=errors,
            headers=headers,
        )


class BadRequest(_StatusProblem):
    status_code, default_title = 400, "Bad request"


class Unauthorized(_StatusProblem):
    status_code, default_title = 401, "Not authenticated"


class Forbidden(_StatusProblem):
    status_code, default_title = 403, "Forbidden"


class NotFound(_StatusProblem):
    status_code, default_title = 404, "Not found"


class Conflict(_StatusProblem):
    status_code, default_title = 409, "Conflict"


class PayloadTooLarge(_StatusProblem):
    status_code, default_title = 413, "Payload too large"


class Unprocessable(_StatusProblem):
    status_code, default_title = 422, "Unprocessable content"


class ServiceUnavailable(_StatusProblem):
    status_code, default_title = 503, "Service unavailable"


class TooManyRequests(ProblemError):
    def __init__(self, code: str, retry_after: int, detail: str | None = None) -> None:
        super().__init__(
            429,
            code,
            "Too many requests",
            detail,
            headers={"Retry-After": str(max(1, int(retry_after)))},
        )


def problem_response(request: Request[Any, Any, Any], err: ProblemError) -> Response[Problem]:
    body = Problem(
        type=PROBLEM_TYPE_BASE + err.code.replace("_", "-"),
        title=err.title,
        status=err.status,
        code=err.code,
        detail=err.detail,
        instance=request.url.path,
        errors=err.errors,
    )
    return Response(
        content=body, status_code=err.status, headers=err.headers, media_type=PROBLEM_MEDIA_TYPE
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "service_unavailable",
}


def _validation_errors(exc: ValidationException) -> list[dict[str, Any]]:
    extra = exc.extra
    if isinstance(extra, list):
        return [e if isinstance(e, dict) else {"message": str(e)} for e in extra]
    if isinstance(extra, dict):
        return [extra]
    return []


def _handle_problem(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    assert isinstance(exc, ProblemError)
    return problem_response(request, exc)


def _handle_validation(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    assert isinstance(exc, ValidationException)
    err = ProblemError(
        400,
        "validation_failed",
        "Request validation failed",
        exc.detail,
        errors=_validation_errors(exc),
    )
    return problem_response(request, err)


def _handle_http(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "http_error")
    err = ProblemError(status, code, _title(status), exc.detail, headers=exc.headers)
    return problem_response(request, err)


def _handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    # The traceback goes to the log only: internal details never reach the client.
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    err = ProblemError(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Internal server error")
    return problem_response(request, err)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def exception_handlers() -> ExceptionHandlersMap:
    from runtime.bus import BusUnavailable

    def _handle_bus(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
        log.warning("bus_unavailable", path=request.url.path, error=str(exc))
        err = ServiceUnavailable(
            "bus_unavailable",
            detail="The event bus is unreachable; retry shortly.",
            headers={"Retry-After": "2"},
        )
        return problem_response(request, err)

    return {
        ProblemError: _handle_problem,
        ValidationException: _handle_validation,
        BusUnavailable: _handle_bus,
        HTTPException: _handle_http,
        Exception: _handle_unexpected,
    }
