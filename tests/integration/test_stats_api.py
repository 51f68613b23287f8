"""The statistics dashboard over real HTTP: exact figures from known calls, on both DBs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from events.auth import LoginSucceeded, LoginSucceededData
from events.llm import LlmCallCompleted, LlmCallData
from handlers.audit import write_audit_rows
from handlers.auth import create_user
from handlers.usage import write_usage_rows
from runtime.db.models import Document, KnowledgeBase, TrainingJob
from runtime.platform import Platform, Roles
from runtime.security import get_passwords
from runtime.security.passwords import Argon2Params
from tests.fixtures.app import PlatformFactory

PASSWORD = "correct horse battery"
CHEAP = get_passwords(Argon2Params(time_cost=1, memory_kib=1024, parallelism=1))
T0 = datetime(2025, 1, 1, tzinfo=UTC)
LONG_AGO = datetime(2024, 6, 1, tzinfo=UTC)
RANGE = "since=2025-01-01T00:00:00Z&until=2025-01-01T06:00:00Z"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def call(
    when: datetime,
    model: str,
    user_id: str | None,
    *,
    status: str = "ok",
    tokens: tuple[int, int, int] = (0, 0, 0),
    cost: float | None = None,
    latency: float = 0.0,
    ttft: float | None = None,
) -> LlmCallCompleted:
    data = LlmCallData(
        call_id=f"call-{when.isoformat()}-{model}",
        model_alias=model,
        model_config_id=f"cfg-{model}",
        provider_id="p",
        provider_type="openai-compatible",
        upstream_model=model,
        user_id=user_id,
        status=status,  # type: ignore[arg-type]
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        reasoning_tokens=tokens[2],
        cost=cost,
        latency_ms=latency,
        ttft_ms=ttft,
    )
    return LlmCallCompleted(subject=data.call_id, time=when, data=data)


async def _user(
    platform: Platform,
    email: str,
    role: str = "user",
    *,
    created: datetime | None = None,
    last_login: datetime | None = None,
) -> str:
    async with platform.services.session_factory() as session:
        user = await create_user(session, email, PASSWORD, role, passwords=CHEAP)
        if created is not None:
            user.created_at = created
        user.last_login_at = last_login
        await session.commit()
        return user.id


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _seed(platform: Platform) -> dict[str, str]:
    """Four users, nine calls (seven in range), six training jobs, two knowledge bases."""
    ids = {
        "alice": await _user(platform, "alice@example.com", created=LONG_AGO),
        "bob": await _user(platform, "bob@example.com", created=LONG_AGO),
        "carol": await _user(platform, "carol@example.com", created=at(1), last_login=at(1.5)),
        "dave": await _user(platform, "dave@example.com", created=LONG_AGO),
    }
    alice, bob, carol = ids["alice"], ids["bob"], ids["carol"]
    calls = [
        call(at(1 / 6), "fast", alice, tokens=(10, 20, 0), cost=0.1, latency=100, ttft=10),
        call(at(1 / 3), "fast", alice, tokens=(10, 20, 0), cost=0.1, latency=200, ttft=20),
        call(at(2.5), "fast", bob, tokens=(30, 40, 0), cost=0.3, latency=300, ttft=30),
        call(at(2.6), "fast", bob, status="error", tokens=(5, 0, 0), latency=50),
        call(at(3), "fast", None, tokens=(1, 1, 0), cost=0.0, latency=400, ttft=40),
        call(at(5), "smart", alice, tokens=(100, 200, 50), cost=1.5, latency=1000, ttft=400),
        call(
            at(6) - timedelta(microseconds=1),
            "smart",
            carol,
            status="cancelled",
            tokens=(100, 10, 0),
            cost=0.25,
            latency=500,
            ttft=100,
        ),
        # Outside [since, until): until itself, and just before since.
        call(at(6), "fast", alice, tokens=(1000, 1000, 0), cost=9.0, latency=9, ttft=9),
        call(at(0) - timedelta(seconds=1), "fast", bob, tokens=(7, 7, 0), cost=9.0, latency=9),
    ]
    dave_login = LoginSucceeded(
        subject=ids["dave"],
        actor=ids["dave"],
        time=at(4),
        data=LoginSucceededData(user_id=ids["dave"]),
    )
    async with platform.services.session_factory() as session, session.begin():
        await write_usage_rows(session, list(calls))
        await write_audit_rows(session, [dave_login])
        session.add_all(
            [
                TrainingJob(
                    owner_id=alice,
                    status="succeeded",
                    created_at=at(-24),
                    started_at=at(0),
                    finished_at=at(1.5),
                ),
                TrainingJob(
                    owner_id=alice,
                    status="failed",
                    created_at=at(2),
                    started_at=at(2),
                    finished_at=at(2) + timedelta(minutes=10),
                ),
                TrainingJob(
                    owner_id=bob, status="cancelled", created_at=at(3), finished_at=at(3.1)
                ),
                TrainingJob(
                    owner_id=bob,
                    status="succeeded",
                    created_at=at(-48),
                    started_at=at(-48),
                    finished_at=at(-24),
                ),
                TrainingJob(owner_id=bob, status="running", created_at=at(4), started_at=at(4)),
                TrainingJob(owner_id=bob, status="queued"),
            ]
        )
        kb1 = KnowledgeBase(owner_id=alice, name="handbook")
        kb2 = KnowledgeBase(owner_id=bob, name="faq")
        session.add_all([kb1, kb2])
        await session.flush()
        for kb, status, chunks in [
            (kb1, "indexed", 10),
            (kb1, "indexed", 5),
            (kb1, "failed", 3),
            (kb1, "uploaded", 0),
            (kb2, "indexed", 7),
        ]:
            session.add(
                Document(
                    knowledge_base_id=kb.id,
                    filename=f"{status}-{chunks}.txt",
                    file_path="/dev/null",
                    content_hash=f"{kb.id}-{status}-{chunks}",
                    status=status,
                    num_chunks=chunks,
                )
            )
    return ids


@pytest.fixture
async def quiet(platform_factory: PlatformFactory) -> Platform:
    # No consumers: the rows the tests write are the only ones the dashboard reads.
    return await platform_factory(Roles(consumers=False))


@pytest.fixture
async def http(quiet: Platform) -> Any:
    async with httpx.AsyncClient(base_url=quiet.url, timeout=10.0) as client:
        yield client


async def _admin(platform: Platform, client: httpx.AsyncClient) -> dict[str, str]:
    await _user(platform, "root@example.com", "admin")
    return await _token(client, "root@example.com")


async def test_dashboard_figures_match_the_known_calls(
    quiet: Platform, http: httpx.AsyncClient
) -> None:
    headers = await _admin(quiet, http)
    ids = await _seed(quiet)
    response = await http.get(f"/api/admin/stats?{RANGE}&bucket=hour", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["since"], body["until"], body["bucket"]) == (
        "2025-01-01T00:00:00Z",
        "2025-01-01T06:00:00Z",
        "hour",
    )
    assert body["totals"] == {
        "calls": 7,
        "errors": 1,
        "cancelled": 1,
        "input_tokens": 256,
        "output_tokens": 291,
        "reasoning_tokens": 50,
        "cost": 2.25,
        "error_rate": 0.142857,
    }

    fast, smart = body["by_model"]
    assert fast["model_alias"] == "fast"
    assert {k: fast[k] for k in ("calls", "errors", "cancelled", "input_tokens", "cost")} == {
        "calls": 5,
        "errors": 1,
        "cancelled": 0,
        "input_tokens": 56,
        "cost": 0.5,
    }
    assert fast["error_rate"] == 0.2
    # Successful calls only: latencies 100, 200, 300, 400 and TTFTs 10, 20, 30, 40.
    assert fast["latency_ms"] == {"avg": 250.0, "p50": 250.0, "p95": 385.0, "p99": 397.0}
    assert fast["ttft_ms"] == {"avg": 25.0, "p50": 25.0, "p95": 38.5, "p99": 39.7}
    assert (smart["model_alias"], smart["calls"], smart["cancelled"]) == ("smart", 2, 1)
    assert (smart["output_tokens"], smart["reasoning_tokens"], smart["cost"]) == (210, 50, 1.75)
    assert smart["latency_ms"] == {"avg": 1000.0, "p50": 1000.0, "p95": 1000.0, "p99": 1000.0}
    assert smart["ttft_ms"]["p99"] == 400.0

    users = [(u["email"], u["calls"], u["errors"], u["cost"]) for u in body["by_user"]]
    # The anonymous call counts in the totals but belongs to nobody.
    assert users == [
        ("alice@example.com", 3, 0, 1.7),
        ("bob@example.com", 2, 1, 0.3),
        ("carol@example.com", 1, 0, 0.25),
    ]
    assert body["by_user"][0]["user_id"] == ids["alice"]
    assert body["by_user"][0]["input_tokens"] == 120

    series = [
        (b["start"], b["calls"], b["errors"], b["input_tokens"], b["output_tokens"], b["cost"])
        for b in body["over_time"]
    ]
    assert series == [
        ("2025-01-01T00:00:00Z", 2, 0, 20, 40, 0.2),
        ("2025-01-01T01:00:00Z", 0, 0, 0, 0, 0.0),
        ("2025-01-01T02:00:00Z", 2, 1, 35, 40, 0.3),
        ("2025-01-01T03:00:00Z", 1, 0, 1, 1, 0.0),
        ("2025-01-01T04:00:00Z", 0, 0, 0, 0, 0.0),
        ("2025-01-01T05:00:00Z", 2, 0, 200, 210, 1.75),
    ]
    latency = [(b["p50_latency_ms"], b["p95_latency_ms"]) for b in body["over_time"]]
    assert latency == [
        (150.0, 195.0),
        (None, None),
        (300.0, 300.0),
        (400.0, 400.0),
        (None, None),
        (1000.0, 1000.0),
    ]

    # alice and bob called, carol called and logged in, dave logged in (audit log).
    assert body["users"] == {"total": 5, "active": 4, "new": 1}
    assert body["training"] == {
        "jobs_by_status": {"cancelled": 1, "failed": 1, "queued": 1, "running": 1, "succeeded": 2},
        "created": 3,
        "succeeded": 1,
        "failed": 1,
        "cancelled": 1,
        "training_seconds": 6000.0,
    }
    assert body["knowledge"] == {
        "bases": 2,
        "documents": 5,
        "documents_by_status": {"failed": 1, "indexed": 3, "uploaded": 1},
        "chunks": 22,
    }


async def test_filters_narrow_the_call_figures_and_rank_users(
    quiet: Platform, http: httpx.AsyncClient
) -> None:
    headers = await _admin(quiet, http)
    ids = await _seed(quiet)

    async def stats(query: str) -> dict[str, Any]:
        response = await http.get(f"/api/admin/stats?{RANGE}&{query}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    smart = await stats("model=smart")
    assert smart["filters"] == {"model": "smart", "user_id": None}
    assert (smart["totals"]["calls"], smart["totals"]["cost"]) == (2, 1.75)
    assert [m["model_alias"] for m in smart["by_model"]] == ["smart"]
    assert [b["calls"] for b in smart["over_time"]] == [0, 0, 0, 0, 0, 2]
    # The other sections describe the platform, not the filtered calls.
    assert smart["users"]["active"] == 4
    by_config = await stats("model=cfg-fast")
    assert by_config["totals"]["calls"] == 5

    bob = await stats(f"user_id={ids['bob']}")
    assert (bob["totals"]["calls"], bob["totals"]["errors"], bob["totals"]["error_rate"]) == (
        2,
        1,
        0.5,
    )
    assert [u["email"] for u in bob["by_user"]] == ["bob@example.com"]

    by_tokens = await stats("top_by=tokens&top=2")
    assert [u["email"] for u in by_tokens["by_user"]] == ["alice@example.com", "carol@example.com"]
    by_cost = await stats("top_by=cost")
    assert [u["email"] for u in by_cost["by_user"]] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]

    daily = await stats("bucket=day")
    assert [(b["start"], b["calls"]) for b in daily["over_time"]] == [("2025-01-01T00:00:00Z", 7)]
    assert daily["over_time"][0]["p50_latency_ms"] == 300.0  # 100, 200, 300, 400, 1000


async def test_an_empty_range_has_every_bucket_with_zeros(
    quiet: Platform, http: httpx.AsyncClient
) -> None:
    headers = await _admin(quiet, http)
    response = await http.get(
        "/api/admin/stats?since=2030-02-01T10:30:00Z&until=2030-02-03T00:00:00Z", headers=headers
    )
    body = response.json()
    assert body["bucket"] == "hour"  # up to two days: hours
    assert len(body["over_time"]) == 38  # 10:00 on the 1st to 23:00 on the 2nd
    assert body["over_time"][0]["start"] == "2030-02-01T10:00:00Z"
    assert all(b["calls"] == 0 and b["p50_latency_ms"] is None for b in body["over_time"])
    assert body["totals"]["calls"] == 0
    assert body["totals"]["error_rate"] == 0.0
    assert body["by_model"] == []
    assert body["by_user"] == []

    default = (await http.get("/api/admin/stats", headers=headers)).json()
    since = datetime.fromisoformat(default["since"])
    until = datetime.fromisoformat(default["until"])
    assert (until - since, default["bucket"]) == (timedelta(days=7), "day")
    assert default["users"]["new"] == 1  # root, registered just now


async def test_bad_windows_and_plain_users_are_refused(
    quiet: Platform, http: httpx.AsyncClient
) -> None:
    headers = await _admin(quiet, http)
    for query, code in [
        ("since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", "invalid_range"),
        ("since=2025-01-01T00:00:00Z&until=2025-06-01T00:00:00Z&bucket=hour", "too_many_buckets"),
    ]:
        response = await http.get(f"/api/admin/stats?{query}", headers=headers)
        assert response.status_code == 400, query
        assert response.json()["code"] == code
    for query in ("bucket=week", "top=0", "top_by=latency", "since=yesterday"):
        assert (await http.get(f"/api/admin/stats?{query}", headers=headers)).status_code == 400

    assert (await http.get("/api/admin/stats")).status_code == 401
    await _user(quiet, "user@example.com")
    plain = await _token(http, "user@example.com")
    forbidden = await http.get("/api/admin/stats", headers=plain)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_required"


async def test_calls_projected_by_the_usage_consumer_are_counted_once(
    platform_factory: PlatformFactory,
) -> None:
    platform = await platform_factory(Roles(only=frozenset({"usage"})))
    events = [
        call(at(h), "fast", None, tokens=(1, 2, 0), cost=0.5, latency=10.0 * (h + 1), ttft=1.0)
        for h in range(3)
    ]
    for event in [*events, events[0]]:  # a re-published event is stored once
        await platform.services.bus.publish(event)
    async with httpx.AsyncClient(base_url=platform.url, timeout=10.0) as client:
        headers = await _admin(platform, client)
        deadline = asyncio.get_running_loop().time() + 10.0
        while True:
            response = await client.get(f"/api/admin/stats?{RANGE}", headers=headers)
            body = response.json()
            # The dashboard's queries are separate statements: one that ran just before
            # the consumer's batch committed sees none of it, one just after sees it all.
            models = body["by_model"]
            if body["totals"]["calls"] >= 3 and models and models[0]["latency_ms"]["p50"]:
                break
            assert asyncio.get_running_loop().time() < deadline, body["totals"]
            await asyncio.sleep(0.05)
    assert body["totals"]["calls"] == 3
    assert (body["totals"]["output_tokens"], body["totals"]["cost"]) == (6, 1.5)
    assert body["by_model"][0]["latency_ms"]["p50"] == 20.0
