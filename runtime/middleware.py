"""ASGI middleware: request ids bound to every log line, the access log and the HTTP metrics."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from runtime.observability.http import is_event_stream, route_of
from runtime.observability.metrics import HTTP_METRICS

log = structlog.get_logger("llmforge.access")
# structlog runs its processors (redaction included) before the stdlib level check; asking
# first keeps a process logging at WARNING from paying for access lines it drops.
_access_enabled = logging.getLogger("llmforge.access").isEnabledFor

# Called with (method, route template) when the response starts: names its trace span.
RouteHook = Callable[[str, str], None]
# Called with the scope and the response's header list when it starts; may append to it
# (the security headers), so responses need no second middleware layer.
HeadersHook = Callable[[Scope, list[tuple[bytes, bytes]]], None]

REQUEST_ID_HEADER = b"x-request-id"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            # Only accept ids that are safe to echo into headers and logs.
            if 0 < len(candidate) <= 128 and candidate.replace("-", "").isalnum():
                return candidate
    return None


def request_context_middleware(
    app: ASGIApp, *, on_route: RouteHook | None = None, on_headers: HeadersHook | None = None
) -> ASGIApp:
    """Wraps Litestar's whole handler (``runtime.observability.instrument``), not one route.

    Litestar runs app-level middleware only after routing, so 404s and 405s would have no
    request id, no access line and no metrics there.
    """
    metrics = HTTP_METRICS

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        # The shape of uuid4().hex (32 hex digits) at a fifth of its cost.
        request_id = _incoming_request_id(scope) or os.urandom(16).hex()
        started = time.perf_counter()
        status = 500
        # An SSE response is counted as an open stream under its route until it ends, and
        # its duration is the time to its headers: a stream lasts as long as its client.
        stream_route: str | None = None
        responded = 0.0

        async def send_with_id(message: Message) -> None:
            nonlocal status, stream_route, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if is_event_stream(headers):
                    responded = time.perf_counter()
                    stream_route = route_of(scope)
                    metrics.stream_opened(stream_route)
                if on_route is not None:
                    # Now: the trace span ends with the last body message, before we return.
                    on_route(scope["method"], route_of(scope))
                if on_headers is not None:
                    on_headers(scope, headers)
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        metrics.request_started()
        # bind/reset rather than bound_contextvars(): a third of its cost, same effect.
        tokens = bind_contextvars(request_id=request_id)
        try:
            await app(scope, receive, send_with_id)
        finally:
            ended = time.perf_counter()
            method: str = scope["method"]
            route = route_of(scope)
            if stream_route is not None:
                metrics.stream_closed(stream_route)
            metrics.request_finished(method, route, status, (responded or ended) - started)
            if _access_enabled(logging.INFO):
                log.info(
                    "request",
                    method=method,
                    path=scope.get("path"),
                    route=route,
                    status=status,
                    duration_ms=round((ended - started) * 1000, 2),
                )
            reset_contextvars(**tokens)

    return middleware
