"""Batch comparisons end to end: the bus job, its progress feed, CSV, resuming after redelivery."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import delete, func, select, update

from events import decode_event, new_event_id
from events.compare import CompareBatchRequested
from handlers.compare import batch_consumer
from runtime.bus import FunctionHost
from runtime.db.models import CompareBatch, CompareResult, CompareRun
from runtime.platform import Platform, Roles
from tests.fakes import FakeAnthropic, FakeOpenAI, Scenario
from tests.integration.gateway_support import eventually, login
from tests.integration.test_compare_api import (
    STREAM,
    Models,
    parse_sse,
    saved_run,
    settled,
    setup_models,
)

BATCH_DURABLE = "llmforge-compare-batches"
PROMPTS = ["What is 2+2?", '=HYPERLINK("x")', "Name a colour."]


def chat_calls(fake: FakeOpenAI | FakeAnthropic) -> int:
    return sum(1 for r in fake.requests if r.method == "POST")


async def start_batch(client: httpx.AsyncClient, m: Models, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "nightly",
        "prompts": PROMPTS,
        "model_config_ids": [m.fast, m.broken],
        "system_prompt": "Answer in one word.",
        "parameters": {"temperature": 0.1, "max_tokens": 32},
        **extra,
    }
    response = await client.post("/api/compare/batches", json=body, headers=m.user)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


async def finished(client: httpx.AsyncClient, m: Models, batch_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body = (await client.get(f"/api/compare/batches/{batch_id}", headers=m.user)).json()
        return body if body["status"] == "completed" else None

    done: dict[str, Any] = await eventually(probe)
    return done


async def test_batch_runs_on_the_bus_with_progress_events_summary_and_csv(
    platform: Platform,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    m = await setup_models(platform, client, fake_openai, fake_anthropic)
    fake_openai.scenario = Scenario(tokens=["Fo", "ur"], token_delay=0.01)
    fake_anthropic.scenario = Scenario(status=500)
    created = await start_batch(client, m)
    assert (created["status"], created["total"], created["prompt_count"]) in {
        ("queued", 6, 3),
        ("running", 6, 3),
    }
    batch_id = created["id"]

    # The progress feed replays the batch's subject from its start and ends at completed.
    url = f"/api/compare/batches/{batch_id}/events"
    response = await client.get(url, headers=m.user)
    assert response.status_code == 200
    events = parse_sse(response.text)
    kinds = [e.event.removeprefix("llmforge.compare.batch.") for e in events]
    assert kinds == ["ready", "requested.v1", *["progress.v1"] * 6, "completed.v1"]
    progress = [e.data["data"] for e in events[2:-1]]
    assert [p["done"] for p in progress] == [1, 2, 3, 4, 5, 6]
    assert {p["total"] for p in progress} == {6}
    assert progress[-1]["errors"] == 3
    completed = events[-1].data["data"]
    assert (completed["total"], completed["errors"]) == (6, 3)

    batch = await finished(client, m, batch_id)
    assert (batch["done"], batch["errors"], batch["progress"]) == (6, 3, 1.0)
    fast, broken = batch["summary"]
    assert (fast["alias"], fast["answers"], fast["errors"]) == ("fast", 3, 0)
    assert 0 < fast["p50_ttft_ms"] < 5_000
    assert fast["mean_ttft_ms"] > 0
    assert fast["mean_tokens_per_s"] > 0
    assert fast["total_cost"] == pytest.approx(3 * (11 * 1.0 + 2 * 2.0) / 1e6)
    assert (broken["errors"], broken["mean_ttft_ms"], broken["win_rate"]) == (3, None, None)
    sent = fake_openai.requests[0].json
    assert (sent["temperature"], sent["max_tokens"]) == (0.1, 32)
    assert sent["messages"][0] == {"role": "system", "content": "Answer in one word."}

    export = await client.get(f"/api/compare/batches/{batch_id}/results.csv", headers=m.user)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["prompt_index"], r["model"]) for r in rows] == [
        (str(i), alias) for i in range(3) for alias in ("fast", "broken")
    ]
    assert rows[0]["answer"] == "Four"
    assert float(rows[0]["ttft_ms"]) > 0
    assert rows[0]["output_tokens"] == "2"
    assert rows[0]["error"] == ""
    assert rows[1]["status"] == "error"
    assert rows[1]["error"].startswith("upstream")
    # A prompt that a spreadsheet would run as a formula is written as text.
    assert rows[2]["prompt"] == "'" + PROMPTS[1]

    # Each prompt is a run of its own, so its answers can be voted on.
    runs = (await client.get(f"/api/compare/runs?batch_id={batch_id}", headers=m.user)).json()
    assert [r["prompt_index"] for r in runs["items"]] == [0, 1, 2]
    vote = {"winner_model_config_id": m.fast}
    first_run = runs["items"][0]["id"]
    voted = await client.post(f"/api/compare/runs/{first_run}/vote", json=vote, headers=m.user)
    assert voted.status_code == 200
    batch = (await client.get(f"/api/compare/batches/{batch_id}", headers=m.user)).json()
    assert (batch["summary"][0]["wins"], batch["summary"][0]["win_rate"]) == (1, 1.0)
    assert (batch["summary"][1]["losses"], batch["summary"][1]["win_rate"]) == (1, 0.0)
    # Interactive runs stay apart from batch runs.
    assert (await client.get("/api/compare/runs", headers=m.user)).json()["total"] == 0
    listed = (await client.get("/api/compare/batches", headers=m.user)).json()
    assert [b["id"] for b in listed["items"]] == [batch_id]


@pytest.mark.parametrize("db_backend", ["sqlite"])
async def test_a_redelivered_batch_runs_only_the_answers_not_yet_stored(
    platform: Platform,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    m = await setup_models(platform, client, fake_openai, fake_anthropic)
    fake_openai.scenario = Scenario(tokens=["ok"])
    fake_anthropic.scenario = Scenario(tokens=["fine"])
    batch_id = (await start_batch(client, m))["id"]
    await finished(client, m, batch_id)
    calls = chat_calls(fake_openai), chat_calls(fake_anthropic)
    assert calls == (3, 3)

    # As if the worker had died after storing four of the six answers: two rows missing,
    # the batch still running. The work item comes again (a redelivery).
    factory = platform.services.session_factory
    async with factory() as session, session.begin():
        lost = (
            await session.scalars(
                select(CompareRun.id).where(
                    CompareRun.batch_id == batch_id, CompareRun.prompt_index == 2
                )
            )
        ).one()
        await session.execute(delete(CompareResult).where(CompareResult.run_id == lost))
        await session.execute(
            update(CompareBatch).where(CompareBatch.id == batch_id).values(status="running", done=4)
        )
    raw = await platform.services.bus.js.get_last_msg(
        STREAM, CompareBatchRequested.SUBJECT.format(subject=batch_id)
    )
    requested = decode_event(raw.data)
    await platform.services.bus.publish(msgspec.structs.replace(requested, id=new_event_id()))

    batch = await finished(client, m, batch_id)
    await settled(platform, BATCH_DURABLE)
    assert (chat_calls(fake_openai), chat_calls(fake_anthropic)) == (4, 4)
    assert (batch["done"], batch["errors"]) == (6, 0)
    async with factory() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(CompareResult)
            .join(CompareRun, CompareRun.id == CompareResult.run_id)
            .where(CompareRun.batch_id == batch_id)
        )
    assert stored == 6

    # Once completed, another copy of the work item does nothing at all.
    await platform.services.bus.publish(msgspec.structs.replace(requested, id=new_event_id()))
    await settled(platform, BATCH_DURABLE)
    assert (chat_calls(fake_openai), chat_calls(fake_anthropic)) == (4, 4)


@pytest.mark.parametrize("db_backend", ["sqlite"])
async def test_batches_are_private_and_the_feed_resumes_after_last_event_id(
    platform: Platform,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    m = await setup_models(platform, client, fake_openai, fake_anthropic)
    fake_openai.scenario = Scenario(tokens=["ok"])
    fake_anthropic.scenario = Scenario(tokens=["ok"])
    batch_id = (await start_batch(client, m, prompts=["one"]))["id"]
    await finished(client, m, batch_id)
    url = f"/api/compare/batches/{batch_id}"

    bob = await login(platform, client, "bob@example.com")
    for path in ("", "/results.csv", "/events"):
        response = await client.get(url + path, headers=bob)
        assert (response.status_code, response.json()["code"]) == (404, "compare_batch_not_found")
    assert (await client.get("/api/compare/batches", headers=bob)).json()["total"] == 0
    runs = (await client.get(f"/api/compare/runs?batch_id={batch_id}", headers=bob)).json()
    assert runs["total"] == 0

    everything = parse_sse((await client.get(url + "/events", headers=m.user)).text)
    assert [e.event.rsplit(".", 2)[-2] for e in everything[1:]] == [
        "requested",
        "progress",
        "progress",
        "completed",
    ]
    resume = {**m.user, "Last-Event-ID": everything[2].id or ""}
    rest = parse_sse((await client.get(url + "/events", headers=resume)).text)
    assert [e.event.rsplit(".", 2)[-2] for e in rest[1:]] == ["progress", "completed"]
    bad = await client.get(url + "/events", headers={**m.user, "Last-Event-ID": "nope"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_resume_token")
    runs = (await client.get(f"/api/compare/runs?batch_id={batch_id}", headers=m.user)).json()
    run = await saved_run(client, m.user, runs["items"][0]["id"])
    assert [r["answer"] for r in run["results"]] == ["ok", "ok"]


@pytest.mark.parametrize("db_backend", ["sqlite"])
async def test_a_batch_longer_than_the_ack_wait_is_kept_alive_by_heartbeats(
    platform_factory: Any, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    # The platform's own batch worker is off; ours acks within one second or loses the job.
    platform: Platform = await platform_factory(roles=Roles(only=frozenset({"usage"})))
    worker = batch_consumer(platform.services, ack_wait=1.0)
    host = FunctionHost(platform.services.bus, [worker], prefix="hb")
    await host.start()
    try:
        async with httpx.AsyncClient(base_url=platform.url, timeout=10.0) as client:
            m = await setup_models(platform, client, fake_openai, fake_anthropic)
            slow = Scenario(tokens=[f"t{i}" for i in range(25)], token_delay=0.1)  # ~2.5 s
            fake_openai.scenario = fake_anthropic.scenario = slow
            batch_id = (await start_batch(client, m, prompts=["take your time"]))["id"]

            async def completed() -> bool:
                response = await client.get(f"/api/compare/batches/{batch_id}", headers=m.user)
                return bool(response.json()["status"] == "completed")

            await eventually(completed, timeout=15.0)
        info = await platform.services.bus.js.consumer_info(STREAM, "hb-compare-batches")
        assert info.delivered.consumer_seq == 1  # delivered once, never again
        assert (chat_calls(fake_openai), chat_calls(fake_anthropic)) == (1, 1)
    finally:
        await host.stop()
