"""OpenAI's error shape for the /v1 routes: ``{"error": {message, type, code, param}}``."""

from __future__ import annotations

import msgspec
from litestar import Response

from handlers.openai_api.compat_errors import Failure, compat_exception_handlers


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


def openai_error(failure: Failure) -> Response[ErrorBody]:
    status = failure.status
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    code = _OPENAI_CODES.get(failure.code, failure.code) if failure.code else None
    detail = ErrorDetail(message=failure.message, type=kind, code=code, param=failure.param)
    return Response(ErrorBody(error=detail), status_code=status, headers=failure.headers)


OPENAI_EXCEPTION_HANDLERS = compat_exception_handlers(
    openai_error,
    unknown_model=lambda name: (
        f"The model `{name}` does not exist or you do not have access to it."
    ),
)
