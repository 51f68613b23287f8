"""Anthropic's error shape for ``/v1/messages``: ``{"type": "error", "error": {type, message}}``.

The SDKs pick their exception class from the HTTP status and show ``error.message``.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Response

from handlers.openai_api.compat_errors import Failure, compat_exception_handlers


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


def error_body(failure: Failure) -> AnthropicError:
    message = failure.message
    if failure.status == 400 and failure.param and failure.code == "invalid_request":
        message = f"{failure.param}: {message}"  # as Anthropic names the field at fault
    return AnthropicError(
        error=AnthropicErrorDetail(type=error_type(failure.status), message=message)
    )


def anthropic_error(failure: Failure) -> Response[AnthropicError]:
    return Response(error_body(failure), status_code=failure.status, headers=failure.headers)


ANTHROPIC_EXCEPTION_HANDLERS = compat_exception_handlers(
    anthropic_error, unknown_model=lambda name: f"model: {name}"
)
