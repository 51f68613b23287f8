"""POST /api/compare end to end: real HTTP, real NATS, fake providers on loopback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import func, select

from events import decode_event, new_event_id
from events.compare import CompareRunCompleted
from runtime.db.models import CompareResult, CompareRun
from runtime.platform import Platform
from tests.fakes import FakeAnthropic, FakeOpenAI, Scenario
from tests.integration.gateway_support import add_model, add_provider, eventually, login

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"])
RUN_DURABLE = "llmforge-compare-runs"
STREAM = "LLMFORGE_COMPARE"


@dataclass
class Sse:
    event: str
    data: dict[str, Any]
    id: str | None = None


def parse_sse(raw: str) -> list[Sse]:
    """Events of a whole SSE body; comments (pings) are skipped."""
    out = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            if name:
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
        if "event" in fields:
            data = json.loads(fields.get("data") or "null")
            out.append(Sse(fields["event"], data, fields.get("id")))
    return out


@dataclass
class Models:
    admin: dict[str, str]
    user: dict[str, str]
    fast: str  # two models on the OpenAI fake
    slow: str
    broken: str  # the Anthropic fake, answering 500 when scripted to


async def setup_models(
    platform: Platform,
    client: httpx.AsyncClient,
    openai_fake: FakeOpenAI,
    anthropic_fake: FakeAnthropic,
) -> Models:
    admin = await login(platform, client, "root@example.com", "admin")
    user = await login(platform, client, "ann@example.com")
    openai = await add_provider(
        client,
        admin,
        name="OpenAI fake",
        type="openai-compatible",
        base_url=openai_fake.base_url,
        api_key="test-key",
    )
    # One attempt upstream: retries would only slow the failure tests down.
    anthropic = await add_provider(
        client,
        admin,
        name="Anthropic fake",
        type="anthropic",
        base_url=anthropic_fake.base_url,
        api_key="test-key",
        settings={"max_attempts": 1},
    )
    prices = {"input_price_per_mtok": 1.0, "output_price_per_mtok": 2.0}
    fast = await add_model(
        client, admin, provider_id=openai["id"], model_id="up-fast", alias="fast", **prices
    )
    slow = await add_model(
        client, admin, provider_id=openai["id"], model_id="up-slow", alias="slow"
    )
    broken = await add_model(
        client, admin, provider_id=anthropic["id"], model_id="claude", alias="broken"
    )
    return Models(admin, user, fast["id"], slow["id"], broken["id"])


async def compare(
    client: httpx.AsyncClient, headers: dict[str, str], models: list[str], **body: Any
) -> tuple[httpx.Response, list[Sse]]:
    payload = {"prompt": "Say hello", "model_config_ids": models, **body}
    response = await client.post("/api/compare", json=payload, headers=headers)
    return response, parse_sse(response.text) if response.status_code == 200 else []


async def saved_run(
    client: httpx.AsyncClient, headers: dict[str, str], run_id: str
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"/api/compare/runs/{run_id}", headers=headers)
        return response.json() if response.status_code == 200 else None

    found: dict[str, Any] = await eventually(probe)
    return found


async def settled(platform: Platform, durable: str) -> None:
    """Bounded poll until the durable has handled everything on its stream."""
    js = platform.services.bus.js

    async def probe() -> bool:
        info = await js.consumer_info(STREAM, durable)
        return info.num_pending == 0 and info.num_ack_pending == 0

    await eventually(probe)


async def test_every_model_streams_multiplexed_one_failure_spares_the_others_and_run_is_saved_once(
    platform: Platform,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    m = await setup_models(platform, client, fake_openai, fake_anthropic)
    fake_openai.scenario = Scenario(
        tokens=["Hel", "lo", " th", "ere", "!"], reasoning=["hm", "m"], token_delay=0.02
    )
    fake_anthropic.scenario = Scenario(status=500)
    ids = [m.fast, m.slow, m.broken]
    response, events = await compare(client, m.user, ids, system_prompt="Be brief.")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    run_id = response.headers["x-compare-run-id"]
    assert events[-1].event == "summary"
    assert events[-1].data["run_id"] == run_id
    body = events[:-1]
    # Every event but the summary names its model, and only requested models appear.
    assert {e.event for e in body} <= {"start", "reasoning", "content", "usage", "done", "error"}
    assert {e.data["model_config_id"] for e in body} == set(ids)
    names = [(e.event, e.data["model_config_id"]) for e in body]
    # Multiplexed: the two streaming models interleave rather than run one after the other.
    fast_content = [i for i, n in enumerate(names) if n == ("content", m.fast)]
    slow_content = [i for i, n in enumerate(names) if n == ("content", m.slow)]
    assert slow_content[0] < fast_content[-1]
    assert fast_content[0] < slow_content[-1]

    for model_id in (m.fast, m.slow):
        own = [e for e in body if e.data["model_config_id"] == model_id]
        assert own[0].event == "start"
        assert own[0].data["run_id"] == run_id
        assert own[-1].event == "done"
        assert "".join(e.data["text"] for e in own if e.event == "content") == "Hello there!"
        assert "".join(e.data["text"] for e in own if e.event == "reasoning") == "hmm"
        metrics = own[-1].data["metrics"]
        assert 0 < metrics["ttft_ms"] <= metrics["latency_ms"] < 5_000
        # 7 output tokens, 20 ms apart: generation takes at least 6 x 20 ms (the bound
        # leaves room for timer granularity). How much longer depends on the machine's
        # load, so the rate is checked against its own inputs, not a wall-clock guess.
        assert metrics["generation_ms"] >= 80
        rate = metrics["output_tokens"] * 1000 / metrics["generation_ms"]
        assert metrics["tokens_per_s"] == pytest.approx(rate, abs=0.01)
        assert (metrics["input_tokens"], metrics["output_tokens"]) == (11, 7)
    assert next(e for e in body if e.event == "done").data["status"] == "ok"
    fast_done = next(e for e in body if e.event == "done" and e.data["model_config_id"] == m.fast)
    assert fast_done.data["metrics"]["cost"] == pytest.approx((11 * 1.0 + 7 * 2.0) / 1e6)

    broken = [e for e in body if e.data["model_config_id"] == m.broken]
    assert [e.event for e in broken] == ["start", "error"]
    assert broken[-1].data["error"] == "upstream"
    assert broken[-1].data["metrics"]["ttft_ms"] is None
    # The system prompt reached the upstream as a system message.
    assert fake_openai.requests[0].json["messages"][0] == {"role": "system", "content": "Be brief."}

    run = await saved_run(client, m.user, run_id)
    assert run["prompt"] == "Say hello"
    assert run["system_prompt"] == "Be brief."
    assert [r["model_config_id"] for r in run["results"]] == ids
    assert [r["status"] for r in run["results"]] == ["ok", "ok", "error"]
    assert run["results"][0]["answer"] == "Hello there!"
    assert run["results"][0]["reasoning"] == "hmm"
    assert run["results"][0]["metrics"]["tokens_per_s"] > 0
    assert run["results"][2]["error_message"]
    listed = (await client.get("/api/compare/runs", headers=m.user)).json()
    assert [r["id"] for r in listed["items"]] == [run_id]
    assert listed["items"][0]["results"][0]["answer"] is None  # lists leave the texts out

    # The same run published again under a new event id (a retried publish after the
    # dedupe window): the consumer sees it and still keeps one record.
    js = platform.services.bus.js
    raw = await js.get_last_msg(STREAM, CompareRunCompleted.SUBJECT)
    original = decode_event(raw.data)
    assert isinstance(original, CompareRunCompleted)
    assert len(original.data.models) == 3
    await platform.services.bus.publish(msgspec.structs.replace(original, id=new_event_id()))
    await settled(platform, RUN_DURABLE)
    async with platform.services.session_factory() as session:
        runs = await session.scalar(select(func.count()).select_from(CompareRun))
        results = await session.scalar(select(func.count()).select_from(CompareResult))
    assert (runs, results) == (1, 3)


@sqlite_only
async def test_client_hanging_up_cancels_every_upstream_and_keeps_what_arrived(
    platform: Platform,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    m = await setup_models(platform, client, fake_openai, fake_anthropic)
    endless = Scenario(tokens=[f"t{i} " for i in range(300)], token_delay=0.02)
    fake_openai.scenario = endless
    fake_anthropic.scenario = endless
    payload = {"prompt": "go on", "model_config_ids": [m.fast, m.slow, m.broken]}
    async with (
        httpx.AsyncClient(base_url=platform.url, timeout=10.0) as own,
        own.stream("POST", "/api/compare", json=payload, headers=m.user) as response,
    ):
        run_id = response.headers["x-compare-run-id"]
        streaming: set[str] = set()
        async for line in response.aiter_lines():
            if line.startswith("data: ") and '"text"' in line:
                streaming.add(json.loads(line[6:])["model_config_id"])
            if len(streaming) == 3:
                break
    # Leaving the block hung up: every upstream connection must be closed too.
    await fake_openai.wait_for_disconnect(count=2, within=5.0)
    await fake_anthropic.wait_for_disconnect(count=1, within=5.0)
    sent = [d.tokens_sent for d in fake_openai.disconnects + fake_anthropic.disconnects]
    assert all(n < 100 for n in sent)

    run = await saved_run(client, m.user, run_id)
    assert [r["status"] for r in run["results"]] == ["cancelled"] * 3
    assert all(r["answer"].startswith("t0 ") for r in run["results"])


@sqlite_only
async def test_requests_are_validated_before_anything_streams(
    platform: Platform,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    m = await setup_models(platform, client, fake_openai, fake_anthropic)
    cases = [
        ([m.fast], "validation_failed"),
        ([m.fast, m.slow, m.broken, *[f"x{i}" for i in range(6)]], "validation_failed"),
        ([m.fast, m.fast], "duplicate_models"),
        ([m.fast, "no-such-model"], "unknown_models"),
    ]
    for ids, code in cases:
        response, _ = await compare(client, m.user, ids)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code
    response, _ = await compare(client, m.user, [m.fast, m.slow], parameters={"temperature": 9})
    assert response.status_code == 400
    response, _ = await compare(client, {}, [m.fast, m.slow])
    assert response.status_code == 401
    for body in (
        {"prompts": [], "model_config_ids": [m.fast, m.slow]},
        {"prompts": ["x"] * 201, "model_config_ids": [m.fast, m.slow]},
        {"prompts": ["x"], "model_config_ids": [m.fast, m.fast]},
    ):
        response = await client.post("/api/compare/batches", json=body, headers=m.user)
        assert response.status_code == 400, response.text
    assert fake_openai.requests == []
    async with platform.services.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(CompareRun)) == 0


@sqlite_only
async def test_votes_feed_the_leaderboard_and_runs_are_private_to_their_owner(
    platform: Platform,
    client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> None:
    m = await setup_models(platform, client, fake_openai, fake_anthropic)
    fake_openai.scenario = Scenario(tokens=["ok"])
    fake_anthropic.scenario = Scenario(tokens=["ok"])
    run_ids = []
    for ids in ([m.fast, m.slow, m.broken], [m.fast, m.slow]):
        response, _ = await compare(client, m.user, ids)
        run_ids.append(response.headers["x-compare-run-id"])
        await saved_run(client, m.user, run_ids[-1])
    first, second = run_ids

    def vote(run_id: str, winner: str | None, headers: dict[str, str] = m.user) -> Any:
        body = {"winner_model_config_id": winner, "note": "clearer"}
        return client.post(f"/api/compare/runs/{run_id}/vote", json=body, headers=headers)

    assert (await vote(first, m.fast)).status_code == 200
    changed = await vote(first, m.slow)  # one vote per user and run: this replaces it
    assert changed.json()["winner_model_config_id"] == m.slow
    assert (await vote(second, None)).status_code == 200  # a tie
    missing = await vote(second, m.broken)  # broken did not take part in the second run
    assert (missing.status_code, missing.json()["code"]) == (400, "winner_not_in_run")
    absent = await client.post(f"/api/compare/runs/{first}/vote", json={}, headers=m.user)
    assert absent.status_code == 400  # a tie has to be said explicitly
    run = (await client.get(f"/api/compare/runs/{first}", headers=m.user)).json()
    assert run["my_vote"]["winner_model_config_id"] == m.slow

    # Someone else's votes count on the leaderboard too, but they cannot see Ann's runs.
    bob = await login(platform, client, "bob@example.com")
    for call in (
        client.get(f"/api/compare/runs/{first}", headers=bob),
        client.delete(f"/api/compare/runs/{first}", headers=bob),
        vote(first, m.fast, bob),
    ):
        response = await call
        assert (response.status_code, response.json()["code"]) == (404, "compare_run_not_found")
    assert (await client.get("/api/compare/runs", headers=bob)).json()["total"] == 0

    board = (await client.get("/api/compare/leaderboard", headers=bob)).json()
    assert board["votes"] == 2
    rows = {r["alias"]: r for r in board["items"]}
    assert (rows["slow"]["wins"], rows["slow"]["losses"], rows["slow"]["ties"]) == (1, 0, 1)
    assert (rows["fast"]["wins"], rows["fast"]["losses"], rows["fast"]["ties"]) == (0, 1, 1)
    assert (rows["broken"]["wins"], rows["broken"]["losses"]) == (0, 1)
    assert rows["slow"]["win_rate"] == 0.5
    assert 0 < rows["slow"]["ci_low"] < 0.5 < rows["slow"]["ci_high"] < 1
    assert board["items"][0]["alias"] == "slow"
    assert board["items"][0]["rank"] == 1

    # Deleting a run takes its votes along, and a late copy of its event cannot revive it.
    assert (await client.delete(f"/api/compare/runs/{first}", headers=m.user)).status_code == 204
    assert (await client.get(f"/api/compare/runs/{first}", headers=m.user)).status_code == 404
    board = (await client.get("/api/compare/leaderboard", headers=m.user)).json()
    assert board["votes"] == 1
    assert {r["alias"]: r["ties"] for r in board["items"]} == {"fast": 1, "slow": 1}
    js = platform.services.bus.js
    raw = await js.get_msg(STREAM, subject=CompareRunCompleted.SUBJECT, seq=1, next=True)
    replay = decode_event(raw.data)
    assert isinstance(replay, CompareRunCompleted)
    assert replay.data.run_id == first
    await platform.services.bus.publish(msgspec.structs.replace(replay, id=new_event_id()))
    await settled(platform, RUN_DURABLE)
    assert (await client.get(f"/api/compare/runs/{first}", headers=m.user)).status_code == 404
    assert (await client.get("/api/compare/runs", headers=m.user)).json()["total"] == 1
