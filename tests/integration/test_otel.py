"""OTLP/HTTP trace export to a fake collector on loopback: one span per request, by route."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from runtime.settings import ObservabilitySettings
from tests.fixtures.app import PlatformFactory
from tests.integration.gateway_support import eventually

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"])


class FakeCollector:
    """Accepts ``POST /v1/traces`` (protobuf) and keeps each span with its service name."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Span]] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                collector.paths.append(self.path)
                for resource_spans in request.resource_spans:
                    service = _attributes(resource_spans.resource.attributes)["service.name"]
                    for scope_spans in resource_spans.scope_spans:
                        collector.spans.extend((service, s) for s in scope_spans.spans)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeCollector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def named(self, name: str) -> list[tuple[str, Span]]:
        return [(service, span) for service, span in self.spans if span.name == name]


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        field = pair.value.WhichOneof("value")
        out[pair.key] = getattr(pair.value, field) if field else None
    return out


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    with FakeCollector() as fake:
        yield fake


async def test_each_request_is_exported_as_a_server_span_named_by_its_route(
    platform_factory: PlatformFactory, collector: FakeCollector
) -> None:
    observability = ObservabilitySettings(
        otel_endpoint=collector.url, otel_export_delay_seconds=0.05
    )
    platform = await platform_factory(overrides={"observability": observability})
    async with httpx.AsyncClient(base_url=platform.url, timeout=10.0) as client:
        assert (await client.get("/health/live")).status_code == 200
        response = await client.get("/api/chat/sessions/raw-session-id")
        assert response.status_code == 401

    async def exported() -> list[tuple[str, Span]]:
        return collector.named("GET /api/chat/sessions/{session_id}")

    [(service, span)] = await eventually(exported)
    assert service == "llmforge"
    assert span.kind == Span.SPAN_KIND_SERVER
    attributes = _attributes(span.attributes)
    assert attributes["http.route"] == "/api/chat/sessions/{session_id}"
    assert 401 in (attributes.get("http.status_code"), attributes.get("http.response.status_code"))
    assert set(collector.paths) == {"/v1/traces"}
    # Probes are not traced, and the raw path never names a span.
    assert not [s for _, s in collector.spans if "health" in s.name or "raw-session" in s.name]
