"""Errors in Dify's shape, ``{"error_code", "error_msg"}``, for the retrieval route.

Dify's suggested codes: 1001 malformed Authorization header, 1002 authorization failed,
2001 knowledge base does not exist. Ours beyond those: 4000 invalid request, 5001
retrieval failed (embedding or vector store), 5000 internal error.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from handlers.dify.schemas import DifyError
from runtime.errors import ProblemError

log = structlog.get_logger(__name__)

INVALID_AUTH_HEADER = 1001
AUTH_FAILED = 1002
KNOWLEDGE_NOT_FOUND = 2001
INVALID_REQUEST = 4000
INTERNAL_ERROR = 5000
RETRIEVAL_FAILED = 5001


class DifyProblem(Exception):
    """Raised by the Dify route; rendered as ``DifyError`` with its HTTP status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def dify_response(status: int, code: int, message: str) -> Response[DifyError]:
    return Response(DifyError(error_code=code, error_msg=message), status_code=status)


def _dify(_: Request[Any, Any, Any], exc: Exception) -> Response[DifyError]:
    assert isinstance(exc, DifyProblem)
    return dify_response(exc.status, exc.code, exc.message)


def _problem(_: Request[Any, Any, Any], exc: Exception) -> Response[DifyError]:
    assert isinstance(exc, ProblemError)
    return dify_response(
        exc.status, INVALID_REQUEST if exc.status < 500 else INTERNAL_ERROR, exc.detail or exc.title
    )


def _validation(_: Request[Any, Any, Any], exc: Exception) -> Response[DifyError]:
    assert isinstance(exc, ValidationException)
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    return dify_response(400, INVALID_REQUEST, message)


def _http(_: Request[Any, Any, Any], exc: Exception) -> Response[DifyError]:
    assert isinstance(exc, HTTPException)
    return dify_response(
        exc.status_code, INVALID_REQUEST if exc.status_code < 500 else INTERNAL_ERROR, exc.detail
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[DifyError]:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return dify_response(500, INTERNAL_ERROR, "Internal server error")


DIFY_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DifyProblem: _dify,
    ProblemError: _problem,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
