"""OpenTelemetry traces of HTTP requests over OTLP/HTTP, imported only when configured."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.types import ASGIApp, Scope

from runtime.settings import ObservabilitySettings

# Scrapes and probes every few seconds would drown the traces that matter.
_UNTRACED = ["^/metrics$", "^/health/"]


class ObservabilityError(RuntimeError):
    """The configuration asks for something this installation cannot do."""


def traces_url(endpoint: str) -> str:
    """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the traces signal lives under /v1/traces."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    # The route is not known before routing; `Tracing.name_span` renames the span once
    # it is, and the raw path never becomes a span name (unbounded cardinality).
    return str(scope.get("method", "HTTP")), {}


class Tracing:
    """A tracer provider exporting in batches, and the ASGI middleware that starts spans."""

    def __init__(self, settings: ObservabilitySettings) -> None:
        assert settings.otel_endpoint is not None
        try:
            from litestar.plugins.opentelemetry import OpenTelemetryConfig
            from opentelemetry import trace
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import SERVICE_NAME, Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:
            raise ObservabilityError(
                "OTLP trace export is configured (LLMFORGE_OTEL_ENDPOINT or "
                "OTEL_EXPORTER_OTLP_ENDPOINT is set) but the OpenTelemetry packages are not "
                "installed: pip install 'llmforge[otel]', or unset the variable."
            ) from exc

        resource = Resource.create({SERVICE_NAME: settings.otel_service_name})
        self.provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=traces_url(settings.otel_endpoint))
        delay_ms = max(1, round(settings.otel_export_delay_seconds * 1000))
        self.provider.add_span_processor(
            BatchSpanProcessor(exporter, schedule_delay_millis=delay_ms)
        )
        # Not the global provider: the process may build several apps (tests do), and
        # OpenTelemetry lets the global one be set only once.
        self._config = OpenTelemetryConfig(
            tracer_provider=self.provider,
            scope_span_details_extractor=_span_details,
            # A send span per SSE chunk would multiply the spans of every stream.
            exclude_spans=["receive", "send"],
            exclude=_UNTRACED,
        )
        self._current_span = trace.get_current_span

    def middleware(self, app: ASGIApp) -> ASGIApp:
        return self._config.middleware(app)

    def name_span(self, method: str, route: str) -> None:
        """Runs inside the server span (see ``instrument``) at the response start."""
        span = self._current_span()
        if span.is_recording():
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)

    async def shutdown(self) -> None:
        # Flushing posts the last batch: off the event loop, which is still serving.
        await asyncio.to_thread(self.provider.shutdown)
