"""OpenAI's error shape for the /v1 routes: ``{"error": {message, type, code, param}}``."""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from runtime.errors import ProblemError
from runtime.llm.resolver import ModelNotFound
from runtime.llm.types import ProviderError

log = structlog.get_logger(__name__)


class ErrorDetail(msgspec.Struct, kw_only=True):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorBody(msgspec.Struct, kw_only=True):
    error: ErrorDetail


_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    402: "insufficient_quota",
    413: "invalid_request_error",
    429: "rate_limit_error",
}

# Problem codes renamed to the codes OpenAI's own API sends in the same situation, so
# SDKs and tools that branch on them (retry on rate limits, stop on quota) keep working.
_OPENAI_CODES = {"rate_limited": "rate_limit_exceeded", "budget_exceeded": "insufficient_quota"}

# An upstream failure as the /v1 caller sees it. The platform's own provider key being
# refused is not the caller's fault: 502, not 401.
_PROVIDER_STATUS = {
    "auth": 502,
    "rate_limited": 429,
    "timeout": 504,
    "unreachable": 502,
    "bad_request": 400,
    "upstream": 502,
    "malformed": 502,
    "cancelled": 499,
}


def openai_error(
    status: int,
    message: str,
    code: str | None,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = ErrorBody(error=ErrorDetail(message=message, type=kind, code=code, param=param))
    return Response(body, status_code=status, headers=headers)


def upstream_status(exc: ProviderError) -> tuple[int, dict[str, str]]:
    """The status and headers an upstream failure gets on every gateway surface."""
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return _PROVIDER_STATUS.get(exc.kind, 502), headers


def provider_error_response(exc: ProviderError) -> Response[ErrorBody]:
    status, headers = upstream_status(exc)
    code = "rate_limit_exceeded" if exc.kind == "rate_limited" else f"upstream_{exc.kind}"
    return openai_error(status, f"Upstream provider error: {exc.message}", code, headers=headers)


def _problem(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    assert isinstance(exc, ProblemError)
    code = _OPENAI_CODES.get(exc.code, exc.code)
    return openai_error(exc.status, exc.detail or exc.title, code, headers=exc.headers)


def _model_not_found(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    assert isinstance(exc, ModelNotFound)
    message = f"The model `{exc.name}` does not exist or you do not have access to it."
    return openai_error(404, message, "model_not_found", param="model")


def _provider(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    assert isinstance(exc, ProviderError)
    return provider_error_response(exc)


def _validation(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    assert isinstance(exc, ValidationException)
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    param = first.get("key")
    return openai_error(400, message, "invalid_request", param=param if param else None)


def _http(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    assert isinstance(exc, HTTPException)
    return openai_error(exc.status_code, exc.detail, None, headers=exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return openai_error(500, "Internal server error", "internal_error")


OPENAI_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ProblemError: _problem,
    ModelNotFound: _model_not_found,
    ProviderError: _provider,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
