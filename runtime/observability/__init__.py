"""Observability: Prometheus metrics, scrape-time gauges, request timing, optional OTLP traces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runtime.observability.metrics import REGISTRY, observe_llm_call
from runtime.observability.otel import ObservabilityError
from runtime.settings import ObservabilitySettings

if TYPE_CHECKING:
    from litestar import Litestar

__all__ = ["REGISTRY", "ObservabilityError", "instrument", "observe_llm_call"]


def instrument(app: Litestar, settings: ObservabilitySettings) -> None:
    """Wrap the app's whole ASGI handler: request ids, access log, metrics, traces.

    Outside the router, unlike Litestar's app-level ``middleware`` (which runs per matched
    route), so unmatched requests are logged and counted too. Order, outermost first:
    the trace span, then the request context, so the span is current when it is named.
    """
    from runtime.middleware import request_context_middleware

    if settings.otel_endpoint is None:
        app.asgi_handler = request_context_middleware(app.asgi_handler)
        return
    from runtime.observability.otel import Tracing

    tracing = Tracing(settings)
    inner = request_context_middleware(app.asgi_handler, on_route=tracing.name_span)
    app.asgi_handler = tracing.middleware(inner)
    app.on_shutdown.append(tracing.shutdown)
