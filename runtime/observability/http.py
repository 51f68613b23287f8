"""The per-request part of the HTTP metrics: plain counters, turned into families at scrape.

The gateway's hot path runs through here, so a request costs a few integer updates and one
bisect instead of prometheus_client's locked child metrics (measured: bench/observability.py).
Everything runs on the event loop's thread: the middleware and the scrape alike.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from litestar.types import Scope
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

UNMATCHED = "unmatched"
# Any other method string a client invents would be a new series: fold them into one.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}
_CONTENT_TYPE = b"content-type"
_EVENT_STREAM = b"text/event-stream"

# From 1 ms: the gateway answers a cached resolution in well under 5 ms, which the
# client library's default buckets would lump together.
DURATION_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


def route_of(scope: Scope) -> str:
    """The route template Litestar matched (``/api/chat/sessions/{session_id}``), never the path.

    The router writes it into the scope; a request no route matched (404, 405) has none.
    """
    return scope.get("path_template") or UNMATCHED


def is_event_stream(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == _CONTENT_TYPE:
            return value.startswith(_EVENT_STREAM)
    return False


class HttpMetrics(Collector):
    """Request durations by (method, route template, status class), in flight, open streams."""

    def __init__(self, buckets: tuple[float, ...] = DURATION_BUCKETS) -> None:
        self._bounds = buckets
        # Per series: one count per bucket (the last one is +Inf), then the sum of seconds.
        self._series: dict[tuple[str, str, int], list[float]] = {}
        self._streams: dict[str, int] = {}
        self.in_flight = 0

    def request_started(self) -> None:
        self.in_flight += 1

    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        self.in_flight -= 1
        key = (method if method in _METHODS else "other", route, status // 100)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = [0.0] * (len(self._bounds) + 2)
        series[bisect_left(self._bounds, seconds)] += 1
        series[-1] += seconds

    def stream_opened(self, route: str) -> None:
        self._streams[route] = self._streams.get(route, 0) + 1

    def stream_closed(self, route: str) -> None:
        self._streams[route] -= 1

    def collect(self) -> Iterable[Metric]:
        durations = HistogramMetricFamily(
            "llmforge_http_request_duration_seconds",
            "HTTP request duration by route template; for SSE responses, the time to the "
            "response start.",
            labels=["method", "route", "status"],
        )
        edges = [str(bound) for bound in self._bounds] + ["+Inf"]
        for (method, route, status_class), series in list(self._series.items()):
            cumulative, buckets = 0.0, []
            for edge, count in zip(edges, series[:-1], strict=True):
                cumulative += count
                buckets.append((edge, cumulative))
            label = _STATUS_CLASSES.get(status_class, "other")
            durations.add_metric([method, route, label], buckets, series[-1])
        yield durations
        yield GaugeMetricFamily(
            "llmforge_http_requests_in_flight",
            "HTTP requests being served, open SSE streams included.",
            value=self.in_flight,
        )
        streams = GaugeMetricFamily(
            "llmforge_http_sse_streams_active",
            "Open text/event-stream responses by route template.",
            labels=["route"],
        )
        for route, count in list(self._streams.items()):
            streams.add_metric([route], count)
        yield streams
