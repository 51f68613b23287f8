"""Metrics, the scrape deadline, the /metrics token and the OpenTelemetry switch, without I/O."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from typing import Any, cast

import nats.js.errors
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from events.llm import LlmCallData
from handlers.system.metrics import check_metrics_token
from runtime.errors import Unauthorized
from runtime.observability import REGISTRY, ObservabilityError, observe_llm_call
from runtime.observability.http import HttpMetrics, is_event_stream
from runtime.observability.otel import traces_url
from runtime.observability.scrape import collect_sources, consumer_metrics, exposition
from runtime.settings import ObservabilitySettings, load_settings


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def parsed(text: bytes) -> dict[str, Metric]:
    return {family.name: family for family in text_string_to_metric_families(text.decode())}


def test_the_token_guard_accepts_only_the_configured_bearer_token() -> None:
    check_metrics_token(None, None)
    check_metrics_token("s3cret", "Bearer s3cret")
    check_metrics_token("s3cret", "bearer s3cret")
    for header in (None, "", "Bearer", "Bearer wrong", "Basic s3cret", "s3cret", "Bearer s3cre"):
        with pytest.raises(Unauthorized) as caught:
            check_metrics_token("s3cret", header)
        assert caught.value.code == "metrics_token_required"
        assert caught.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_http_metrics_fold_unknown_methods_and_group_statuses() -> None:
    metrics = HttpMetrics()
    registry = CollectorRegistry()
    registry.register(metrics)

    def read(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    route = "/unit/{thing_id}"
    metrics.request_started()
    metrics.request_started()
    assert read("llmforge_http_requests_in_flight") == 2
    metrics.request_finished("GET", route, 204, 0.002)
    metrics.request_finished("GET", route, 200, 0.004)
    metrics.request_finished("BREW", route, 418, 0.5)
    metrics.request_finished("GET", route, 503, 0.5)
    assert read("llmforge_http_requests_in_flight") == -2  # two more ended than started
    count = "llmforge_http_request_duration_seconds_count"
    assert read(count, method="GET", route=route, status="2xx") == 2
    assert read(count, method="other", route=route, status="4xx") == 1
    assert read(count, method="GET", route=route, status="5xx") == 1
    total = "llmforge_http_request_duration_seconds_sum"
    assert read(total, method="GET", route=route, status="2xx") == pytest.approx(0.006)
    bucket = "llmforge_http_request_duration_seconds_bucket"
    ok = {"method": "GET", "route": route, "status": "2xx"}
    # Cumulative, and a value equal to a bound counts in that bound's bucket.
    assert read(bucket, **ok, le="0.001") == 0
    assert read(bucket, **ok, le="0.0025") == 1
    assert read(bucket, **ok, le="0.005") == 2
    assert read(bucket, **ok, le="+Inf") == 2
    assert read(bucket, method="GET", route=route, status="5xx", le="0.5") == 1

    metrics.stream_opened("/unit/sse")
    metrics.stream_opened("/unit/sse")
    metrics.stream_closed("/unit/sse")
    assert read("llmforge_http_sse_streams_active", route="/unit/sse") == 1
    metrics.stream_closed("/unit/sse")
    assert read("llmforge_http_sse_streams_active", route="/unit/sse") == 0


def test_event_streams_are_told_apart_by_their_content_type() -> None:
    assert is_event_stream([(b"content-type", b"text/event-stream; charset=utf-8")])
    assert not is_event_stream([(b"content-type", b"application/json")])
    assert not is_event_stream([(b"x-content", b"text/event-stream")])


def test_a_gateway_call_counts_tokens_by_kind_calls_by_status_and_cost() -> None:
    data = LlmCallData(
        call_id="c1",
        model_alias="unit-model",
        model_config_id="m1",
        provider_id="p1",
        provider_type="openai-compatible",
        upstream_model="up",
        input_tokens=11,
        output_tokens=7,
        reasoning_tokens=3,
        cost=0.25,
    )
    observe_llm_call(data)
    observe_llm_call(LlmCallData(**{**_fields(data), "status": "error", "cost": None}))
    assert sample("llmforge_llm_tokens_total", model="unit-model", kind="input") == 22
    assert sample("llmforge_llm_tokens_total", model="unit-model", kind="output") == 14
    assert sample("llmforge_llm_tokens_total", model="unit-model", kind="reasoning") == 6
    assert sample("llmforge_llm_calls_total", model="unit-model", status="ok") == 1
    assert sample("llmforge_llm_calls_total", model="unit-model", status="error") == 1
    assert sample("llmforge_llm_cost_total", model="unit-model") == pytest.approx(0.25)


def _fields(data: LlmCallData) -> dict[str, object]:
    return {name: getattr(data, name) for name in data.__struct_fields__}


async def test_a_slow_or_failing_source_costs_its_own_gauges_not_the_scrape() -> None:
    async def fine() -> list[Metric]:
        family = GaugeMetricFamily("llmforge_unit_fine", "A source that answers.")
        family.add_metric([], 3)
        return [family]

    async def slow() -> list[Metric]:
        await asyncio.Event().wait()  # a broker that never answers
        raise AssertionError("unreachable")

    async def broken() -> list[Metric]:
        raise ConnectionError("no broker")

    errors = "llmforge_scrape_errors_total"
    before = {s: sample(errors, source=s) for s in ("consumers", "dead_letters", "training_jobs")}
    families = await collect_sources(
        {"training_jobs": fine, "consumers": slow, "dead_letters": broken}, timeout=0.05
    )
    assert [f.name for f in families] == ["llmforge_unit_fine"]
    assert sample(errors, source="consumers") == before["consumers"] + 1
    assert sample(errors, source="dead_letters") == before["dead_letters"] + 1
    assert sample(errors, source="training_jobs") == before["training_jobs"]

    text = parsed(exposition(families))
    assert text["llmforge_unit_fine"].samples[0].value == 3
    # The process registry is still there, the error counter included.
    assert "llmforge_scrape_errors" in text
    assert "process_cpu_seconds" in text


def test_settings_read_the_standard_opentelemetry_variables() -> None:
    assert load_settings({}).observability == ObservabilitySettings()
    standard = load_settings(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_SERVICE_NAME": "gateway-eu",
            "OTEL_BSP_SCHEDULE_DELAY": "250",
            "LLMFORGE_METRICS_TOKEN": "s3cret",
            "LLMFORGE_METRICS_SCRAPE_TIMEOUT": "0.5",
        }
    ).observability
    assert standard.otel_endpoint == "http://collector:4318"
    assert standard.otel_service_name == "gateway-eu"
    assert standard.otel_export_delay_seconds == 0.25
    assert standard.metrics_token == "s3cret"
    assert standard.scrape_timeout_seconds == 0.5
    ours = load_settings(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "LLMFORGE_OTEL_ENDPOINT": "http://b:4318"}
    )
    assert ours.observability.otel_endpoint == "http://b:4318"


def test_the_traces_path_is_appended_to_a_base_endpoint_once() -> None:
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


def test_tracing_without_its_packages_is_a_clear_startup_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from litestar import Litestar

    from runtime.observability import instrument

    # None in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ObservabilityError, match=r"llmforge\[otel\]"):
        instrument(Litestar([]), ObservabilitySettings(otel_endpoint="http://127.0.0.1:1"))


def test_without_an_endpoint_no_opentelemetry_sdk_is_imported() -> None:
    # A fresh interpreter: other tests of this session import the SDK on purpose.
    script = textwrap.dedent(
        """
        import sys
        from litestar import Litestar
        from runtime.observability import instrument
        from runtime.settings import ObservabilitySettings

        instrument(Litestar([]), ObservabilitySettings())
        heavy = ("opentelemetry.sdk", "opentelemetry.exporter")
        loaded = [m for m in sys.modules if m.startswith(heavy)]
        assert not loaded, loaded
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


async def test_consumer_gauges_skip_ephemeral_readers_and_missing_streams() -> None:
    def info(name: str, durable: str | None, pending: int) -> Any:
        config = SimpleNamespace(durable_name=durable)
        return SimpleNamespace(
            name=name,
            stream_name="LLMFORGE_AUTH",
            config=config,
            num_pending=pending,
            num_ack_pending=2,
            num_redelivered=None,
        )

    class FakeJs:
        async def consumers_info(self, stream: str) -> list[Any]:
            if stream == "LLMFORGE_AUTH":
                return [info("llmforge-audit", "llmforge-audit", 7), info("eph", None, 99)]
            raise nats.js.errors.NotFoundError

    families = {f.name: f for f in await consumer_metrics(cast("Any", FakeJs()))}
    [pending] = families["llmforge_consumer_pending_messages"].samples
    assert pending.labels == {"consumer": "llmforge-audit", "stream": "LLMFORGE_AUTH"}
    assert pending.value == 7
    assert families["llmforge_consumer_ack_pending_messages"].samples[0].value == 2
    assert families["llmforge_consumer_redelivered_messages"].samples[0].value == 0
