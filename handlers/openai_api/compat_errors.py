"""What each failure means as an HTTP answer on the SDK-compatible surfaces: OpenAI's
(``/v1/chat/completions``…) and Anthropic's (``/v1/messages``). Each surface renders the
same facts in its own error body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from runtime.errors import ProblemError
from runtime.llm.resolver import ModelNotFound
from runtime.llm.types import ProviderError

log = structlog.get_logger(__name__)

# An upstream failure as the caller sees it. The platform's own provider key being
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


@dataclass(frozen=True, slots=True)
class Failure:
    status: int
    message: str
    code: str | None = None  # the platform's code (problem code, upstream_<kind>, …)
    param: str | None = None  # the request field at fault
    headers: dict[str, str] = field(default_factory=dict)


Render = Callable[[Failure], Response[Any]]


def upstream_failure(exc: ProviderError) -> Failure:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    code = "rate_limit_exceeded" if exc.kind == "rate_limited" else f"upstream_{exc.kind}"
    return Failure(
        _PROVIDER_STATUS.get(exc.kind, 502),
        f"Upstream provider error: {exc.message}",
        code,
        headers=headers,
    )


def compat_exception_handlers(
    render: Render, *, unknown_model: Callable[[str], str]
) -> ExceptionHandlersMap:
    """Handlers that turn every failure into ``render(Failure)``; ``unknown_model`` words
    the 404 for a model name as the surface's own API would."""

    def problem(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        assert isinstance(exc, ProblemError)
        return render(Failure(exc.status, exc.detail or exc.title, exc.code, None, exc.headers))

    def model_not_found(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        assert isinstance(exc, ModelNotFound)
        return render(Failure(404, unknown_model(exc.name), "model_not_found", "model"))

    def provider(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        assert isinstance(exc, ProviderError)
        return render(upstream_failure(exc))

    def validation(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        assert isinstance(exc, ValidationException)
        extra = exc.extra if isinstance(exc.extra, list) else []
        first = extra[0] if extra and isinstance(extra[0], dict) else {}
        param = first.get("key")
        message = str(first.get("message") or exc.detail)
        return render(Failure(400, message, "invalid_request", param if param else None))

    def http(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        assert isinstance(exc, HTTPException)
        return render(Failure(exc.status_code, exc.detail, None, None, exc.headers or {}))

    def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
        return render(Failure(500, "Internal server error", "internal_error"))

    return {
        ProblemError: problem,
        ModelNotFound: model_not_found,
        ProviderError: provider,
        ValidationException: validation,
        HTTPException: http,
        Exception: unexpected,
    }
