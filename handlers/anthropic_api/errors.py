"""Anthropic's error shape for ``/v1/messages``: ``{"type": "error", "error": {type, message}}``.

The SDKs pick their exception class from the HTTP status and show ``error.message``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from handlers.openai_api.errors import upstream_status
from runtime.errors import ProblemError
from runtime.llm.resolver import ModelNotFound
from runtime.llm.types import ProviderError

log = structlog.get_logger(__name__)


class AnthropicErrorDetail(msgspec.Struct, kw_only=True):
    type: str
    message: str


class AnthropicError(msgspec.Struct, kw_only=True):
    type: Literal["error"] = "error"
    error: AnthropicErrorDetail


# The error types Anthropic's API documents for each status.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    return _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def anthropic_error(
    status: int, message: str, *, headers: dict[str, str] | None = None
) -> Response[AnthropicError]:
    body = AnthropicError(error=AnthropicErrorDetail(type=error_type(status), message=message))
    return Response(body, status_code=status, headers=headers)


def provider_error_response(exc: ProviderError) -> Response[AnthropicError]:
    status, headers = upstream_status(exc)
    return anthropic_error(status, f"Upstream provider error: {exc.message}", headers=headers)


def _problem(_: Request[Any, Any, Any], exc: Exception) -> Response[AnthropicError]:
    assert isinstance(exc, ProblemError)
    return anthropic_error(exc.status, exc.detail or exc.title, headers=exc.headers)


def _model_not_found(_: Request[Any, Any, Any], exc: Exception) -> Response[AnthropicError]:
    assert isinstance(exc, ModelNotFound)
    return anthropic_error(404, f"model: {exc.name}")


def _provider(_: Request[Any, Any, Any], exc: Exception) -> Response[AnthropicError]:
    assert isinstance(exc, ProviderError)
    return provider_error_response(exc)


def _validation(_: Request[Any, Any, Any], exc: Exception) -> Response[AnthropicError]:
    assert isinstance(exc, ValidationException)
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    key = first.get("key")
    return anthropic_error(400, f"{key}: {message}" if key else message)


def _http(_: Request[Any, Any, Any], exc: Exception) -> Response[AnthropicError]:
    assert isinstance(exc, HTTPException)
    return anthropic_error(exc.status_code, exc.detail, headers=exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[AnthropicError]:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return anthropic_error(500, "Internal server error")


ANTHROPIC_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ProblemError: _problem,
    ModelNotFound: _model_not_found,
    ProviderError: _provider,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
