"""Observability: Prometheus metrics, scrape-time gauges, request timing, optional OTLP traces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.observability.metrics import REGISTRY, observe_llm_call
from runtime.observability.otel import ObservabilityError
from runtime.settings import ObservabilitySettings

if TYPE_CHECKING:
    from litestar import Litestar

    from runtime.middleware import HeadersHook

__all__ = ["REGISTRY", "ObservabilityError", "instrument", "observe_llm_call"]


def instrument(
    app: Litestar, settings: ObservabilitySettings, *, on_headers: HeadersHook | None = None
) -> None:
    """Wrap the app's whole ASGI handler: request ids, access log, metrics, traces.

    Outside the router, unlike Litestar's app-level ``middleware`` (which runs per matched
    route), so unmatched requests are logged and counted too. Order, outermost first:
    the trace span, then the request context, so the span is current when it is named.
    ``on_headers`` sees every response's headers as it starts (the security headers).
    """
    from runtime.middleware import request_context_middleware

    if settings.otel_endpoint is None:
        app.asgi_handler = request_context_middleware(app.asgi_handler, on_headers=on_headers)
        return
    from runtime.observability.otel import Tracing

    tracing = Tracing(settings)
    inner = request_context_middleware(
        app.asgi_handler, on_route=tracing.name_span, on_headers=on_headers
    )
    app.asgi_handler = tracing.middleware(inner)
    app.on_shutdown.append(tracing.shutdown)
