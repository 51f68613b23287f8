"""GET /metrics on a running platform: HTTP timings, SSE streams, tokens, consumers, jobs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from events import dead_letter_subject
from runtime.db.models import TrainingJob
from runtime.platform import Platform
from runtime.settings import EventFeedSettings, ObservabilitySettings
from tests.fakes import FakeOpenAI, Scenario
from tests.fixtures.app import PlatformFactory
from tests.integration.gateway_support import (
    add_model,
    add_provider,
    eventually,
    login,
    personal_key,
)

# The counters are the process's, shared by every platform a test session starts: tests
# compare before and after, never absolute values.
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"])


async def scrape(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@sqlite_only
async def test_requests_are_timed_by_route_template_and_status_class(
    client: httpx.AsyncClient,
) -> None:
    count = "llmforge_http_request_duration_seconds_count"
    session = {"method": "GET", "route": "/api/chat/sessions/{session_id}", "status": "4xx"}
    live = {"method": "GET", "route": "/health/live", "status": "2xx"}
    unmatched = {"method": "DELETE", "route": "unmatched", "status": "4xx"}
    before = await scrape(client)

    assert (await client.get("/health/live")).status_code == 200
    # Unauthenticated: 401, under the route's template, never its raw path.
    assert (await client.get("/api/chat/sessions/sess-raw-id-1")).status_code == 401
    assert (await client.get("/api/chat/sessions/sess-raw-id-2")).status_code == 401
    # No route takes DELETE here (the web UI's catch-all answers GETs only).
    assert (await client.delete("/no/such/route")).status_code in (404, 405)

    after = await scrape(client)
    assert value(after, count, **live) == value(before, count, **live) + 1
    assert value(after, count, **session) == value(before, count, **session) + 2
    assert value(after, count, **unmatched) == value(before, count, **unmatched) + 1
    bucket = value(after, "llmforge_http_request_duration_seconds_bucket", **live, le="+Inf")
    assert bucket == value(after, count, **live)
    assert not any("sess-raw-id" in str(labels) for _, labels in after)
    assert value(after, "llmforge_http_requests_in_flight") >= 1  # this scrape itself


@pytest.fixture
async def feed_platform(platform_factory: PlatformFactory) -> Platform:
    # A short heartbeat: the server notices a gone client at its next write.
    settings = EventFeedSettings(heartbeat_seconds=0.2)
    platform: Platform = await platform_factory(overrides={"event_feed": settings})
    return platform


@sqlite_only
async def test_an_open_event_stream_is_counted_until_its_client_leaves(
    feed_platform: Platform,
) -> None:
    gauge = "llmforge_http_sse_streams_active"
    async with httpx.AsyncClient(base_url=feed_platform.url, timeout=10.0) as client:
        headers = await login(feed_platform, client, "root@example.com", "admin")
        baseline = value(await scrape(client), gauge, route="/api/events")
        async with client.stream("GET", "/api/events", headers=headers) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            # Held: a dropped line iterator would close the response, and the stream with it.
            lines = response.aiter_lines()
            assert await anext(lines)  # the `ready` event is flowing
            during = value(await scrape(client), gauge, route="/api/events")
            assert during == baseline + 1

        async def closed() -> bool:
            return value(await scrape(client), gauge, route="/api/events") == baseline

        await eventually(closed)


@sqlite_only
async def test_gateway_calls_count_tokens_calls_and_cost_by_model(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    admin = await login(platform, client, "root@example.com", "admin")
    provider = await add_provider(
        client,
        admin,
        name="Fake",
        type="openai-compatible",
        base_url=fake_openai.base_url,
        api_key="test-key",
    )
    await add_model(
        client,
        admin,
        provider_id=provider["id"],
        model_id="up-1",
        alias="metered",
        input_price_per_mtok=2.0,
        output_price_per_mtok=8.0,
    )
    key = {"Authorization": f"Bearer {await personal_key(client, admin)}"}
    fake_openai.scenario = Scenario(tokens=["Hi", " there"], reasoning=["Let me", " think"])
    before = await scrape(client)
    body = {"model": "metered", "messages": [{"role": "user", "content": "hello"}]}
    response = await client.post("/v1/chat/completions", json=body, headers=key)
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]

    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    tokens = "llmforge_llm_tokens_total"
    assert delta(tokens, model="metered", kind="input") == usage["prompt_tokens"]
    assert delta(tokens, model="metered", kind="output") == usage["completion_tokens"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert delta(tokens, model="metered", kind="reasoning") == reasoning > 0
    assert delta("llmforge_llm_calls_total", model="metered", status="ok") == 1
    expected_cost = (usage["prompt_tokens"] * 2.0 + usage["completion_tokens"] * 8.0) / 1e6
    assert delta("llmforge_llm_cost_total", model="metered") == pytest.approx(expected_cost)


async def test_consumer_backlog_dead_letters_and_training_jobs_are_read_at_scrape_time(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    services = platform.services
    admin = await login(platform, client, "root@example.com", "admin")
    async with services.session_factory() as session:
        owner = (await client.get("/api/auth/me", headers=admin)).json()["id"]
        session.add(TrainingJob(owner_id=owner, status="running"))
        session.add(TrainingJob(owner_id=owner, status="running"))
        session.add(TrainingJob(owner_id=owner, status="failed"))
        await session.commit()
    subject = dead_letter_subject("llmforge-unit", "llmforge.auth.user.u1.registered")
    await services.bus.publish_raw(subject, b"{}", msg_id="dl-1")

    samples = await scrape(client)
    jobs = "llmforge_training_jobs"
    assert value(samples, jobs, status="running") == 2
    assert value(samples, jobs, status="failed") == 1
    assert (jobs, frozenset({("status", "queued")})) in samples
    assert value(samples, "llmforge_dead_letter_messages") == 1
    audit = {"consumer": "llmforge-audit", "stream": "LLMFORGE_AUTH"}
    for name in (
        "llmforge_consumer_pending_messages",
        "llmforge_consumer_ack_pending_messages",
        "llmforge_consumer_redelivered_messages",
    ):
        assert (name, frozenset(audit.items())) in samples, name


@sqlite_only
async def test_a_scrape_past_its_deadline_still_answers_and_counts_the_errors(
    platform_factory: PlatformFactory,
) -> None:
    observability = ObservabilitySettings(scrape_timeout_seconds=0)
    platform = await platform_factory(overrides={"observability": observability})
    async with httpx.AsyncClient(base_url=platform.url, timeout=10.0) as client:
        first = await scrape(client)
        second = await scrape(client)
    errors = "llmforge_scrape_errors_total"
    for source in ("consumers", "dead_letters", "training_jobs"):
        assert value(second, errors, source=source) == value(first, errors, source=source) + 1
    assert not any(name == "llmforge_training_jobs" for name, _ in second)
    assert any(name == "llmforge_http_request_duration_seconds_count" for name, _ in second)


@sqlite_only
async def test_a_metrics_token_is_required_once_configured(
    platform_factory: PlatformFactory,
) -> None:
    observability = ObservabilitySettings(metrics_token="scrape-s3cret")
    platform = await platform_factory(overrides={"observability": observability})
    async with httpx.AsyncClient(base_url=platform.url, timeout=10.0) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-s3cret"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["code"] == "metrics_token_required"
            assert "scrape-s3cret" not in refused.text
        samples = await scrape(client, {"Authorization": "Bearer scrape-s3cret"})
        assert "llmforge_http_requests_in_flight" in {name for name, _ in samples}

        schema = (await client.get("/schema/openapi.json")).json()
        assert "/metrics" not in schema["paths"]


def _route_opt(platform: Platform) -> dict[str, Any]:
    from runtime.app import create_app

    app = create_app(platform.services)
    handler = next(r for r in app.routes if r.path == "/metrics").route_handlers[0]  # type: ignore[attr-defined]
    return dict(handler.opt)


@sqlite_only
async def test_the_metrics_route_is_marked_public_for_the_guard_coverage_check(
    platform: Platform,
) -> None:
    assert _route_opt(platform)["public"] is True
