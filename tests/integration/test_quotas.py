"""Quotas on real NATS and both databases: rates, budgets, notices, admin routes, /v1 errors."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import openai
import pytest
from nats.js.errors import BucketNotFoundError
from openai import AsyncOpenAI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event, decode_event
from events.llm import LlmCallCompleted, LlmCallData
from events.quotas import LimitExceeded, QuotaDeleted, QuotaUpdated
from handlers.auth import create_user
from handlers.quotas import BudgetExceeded, QuotaEnforcer
from handlers.quotas import service as quotas
from handlers.quotas.enforcer import COUNTER_BUCKET
from handlers.quotas.rules import Subject
from handlers.quotas.schemas import QuotaSet
from handlers.usage import write_usage_rows
from runtime.bus import EventBus
from runtime.db.models import ApiKey
from runtime.errors import ProblemError
from runtime.platform import Platform
from runtime.security import generate_api_key
from runtime.settings import QuotaSettings
from tests.fakes import FakeOpenAI, Scenario
from tests.fixtures.app import PlatformFactory
from tests.integration.gateway_support import CHEAP, add_model, add_provider, eventually, login

QUOTA_STREAM = "LLMFORGE_QUOTAS"
# 20 s into a minute window (index 29 000 000, in 2025).
WINDOW_START = 60.0 * 29_000_000
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"])

Sessions = async_sessionmaker[AsyncSession]


class Clock:
    def __init__(self, now: float = WINDOW_START + 20) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- helpers ----------------------------------------------------------------------------


async def new_user(sessions: Sessions, email: str) -> str:
    async with sessions() as session:
        user = await create_user(session, email, "correct horse battery", "user", passwords=CHEAP)
        await session.commit()
        return user.id


async def new_key(sessions: Sessions, user_id: str) -> str:
    generated = generate_api_key()
    async with sessions() as session:
        key = ApiKey(
            user_id=user_id, name="k", prefix=generated.prefix, key_hash=generated.key_hash
        )
        session.add(key)
        await session.commit()
        return key.id


async def set_quota(sessions: Sessions, subject: Subject, **limits: Any) -> None:
    async with sessions() as session:
        await quotas.set_quota(session, subject, QuotaSet(**limits), actor="admin")
        await session.commit()


def call_event(
    *, user_id: str, api_key_id: str | None, tokens: tuple[int, int], cost: float, **env: Any
) -> LlmCallCompleted:
    data = LlmCallData(
        call_id="c",
        model_alias="fast",
        model_config_id="m",
        provider_id="p",
        provider_type="openai-compatible",
        upstream_model="up-1",
        user_id=user_id,
        api_key_id=api_key_id,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost=cost,
    )
    return LlmCallCompleted(subject="c", data=data, **env)


async def record_calls(sessions: Sessions, *events: Event) -> None:
    async with sessions() as session, session.begin():
        await write_usage_rows(session, list(events))


async def stream_events(bus: EventBus, stream: str = QUOTA_STREAM) -> list[Event]:
    info = await bus.js.stream_info(stream)
    if not info.state.messages:
        return []
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await bus.js.get_msg(stream, seq)
        assert msg.data is not None
        found.append(decode_event(msg.data))
    return found


async def refused(enforcer: QuotaEnforcer, user_id: str, key_id: str | None = None) -> ProblemError:
    with pytest.raises(ProblemError) as info:
        await enforcer.check(user_id, key_id)
    return info.value


class CountingSessions:
    """A session factory that counts how often the enforcer opens a session."""

    def __init__(self, inner: Sessions) -> None:
        self.inner = inner
        self.opened = 0

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]:
        self.opened += 1
        return self.inner()


# --- the enforcer on real NATS and a real database ---------------------------------------


@sqlite_only
async def test_n_requests_pass_then_429_with_retry_after_until_the_next_window(
    bus: EventBus, session_factory: Sessions
) -> None:
    clock = Clock()
    enforcer = QuotaEnforcer(session_factory, bus, QuotaSettings(), clock=clock)
    user = await new_user(session_factory, "ada@example.com")
    await set_quota(session_factory, Subject("user", user), requests_per_minute=3)
    for _ in range(3):
        await enforcer.check(user, None)
    problem = await refused(enforcer, user)
    assert (problem.status, problem.code) == (429, "rate_limited")
    assert problem.headers == {"Retry-After": "40"}
    assert problem.detail == "Your account allows 3 requests per minute; retry in 40 s."
    clock.now += 39.5
    assert (await refused(enforcer, user)).headers == {"Retry-After": "1"}
    clock.now += 0.5  # the next window opens
    await enforcer.check(user, None)


@sqlite_only
async def test_key_limit_is_its_own_and_shared_by_every_replica(
    bus: EventBus, session_factory: Sessions
) -> None:
    clock = Clock()
    replica_a = QuotaEnforcer(session_factory, bus, QuotaSettings(), clock=clock)
    replica_b = QuotaEnforcer(session_factory, bus, QuotaSettings(), clock=clock)
    user = await new_user(session_factory, "ada@example.com")
    limited, other = await new_key(session_factory, user), await new_key(session_factory, user)
    await set_quota(session_factory, Subject("api_key", limited), requests_per_minute=2)
    await replica_a.check(user, limited)
    await replica_b.check(user, limited)
    problem = await refused(replica_a, user, limited)
    assert problem.detail is not None
    assert problem.detail.startswith("This API key allows 2 requests per minute")
    # The same user's other key and login session have no rate of their own.
    for _ in range(5):
        await replica_b.check(user, other)
        await replica_a.check(user, None)
    # A user rate counts the requests of all of the user's keys together.
    await set_quota(session_factory, Subject("user", user), requests_per_minute=1)
    replica_a.forget()
    await replica_a.check(user, other)
    assert (await refused(replica_a, user, None)).code == "rate_limited"


@sqlite_only
async def test_limit_exceeded_is_published_once_per_subject_and_window(
    bus: EventBus, session_factory: Sessions
) -> None:
    clock = Clock()
    replicas = [QuotaEnforcer(session_factory, bus, QuotaSettings(), clock=clock) for _ in "ab"]
    user = await new_user(session_factory, "ada@example.com")
    await set_quota(session_factory, Subject("user", user), requests_per_minute=1)
    await replicas[0].check(user, None)
    for _ in range(3):
        for replica in replicas:
            await refused(replica, user)
    clock.now += 60
    await replicas[1].check(user, None)
    await refused(replicas[0], user)
    await refused(replicas[1], user)
    # And the monthly budget: announced once for the month.
    await set_quota(session_factory, Subject("user", user), monthly_token_budget=0)
    for replica in replicas:
        replica.forget()
        await refused(replica, user)
        await refused(replica, user)

    events = [e for e in await stream_events(bus) if isinstance(e, LimitExceeded)]
    assert [(e.data.limit, e.data.window_start) for e in events] == [
        ("requests_per_minute", datetime.fromtimestamp(WINDOW_START, UTC)),
        ("requests_per_minute", datetime.fromtimestamp(WINDOW_START + 60, UTC)),
        ("monthly_token_budget", datetime(2025, 2, 1, tzinfo=UTC)),
    ]
    first, _, budget = events
    assert (first.subject, first.actor, first.data.user_id) == (user, user, user)
    assert (first.data.limit_value, first.data.observed) == (1, 2)
    assert first.data.window_end == datetime.fromtimestamp(WINDOW_START + 60, UTC)
    assert budget.data.window_end == datetime(2025, 3, 1, tzinfo=UTC)


async def test_budgets_refuse_with_402_once_this_months_spend_reaches_them(
    bus: EventBus, session_factory: Sessions
) -> None:
    now = datetime.now(UTC)
    # Spend is read fresh each time here; production reuses it for a few seconds.
    settings = QuotaSettings(spend_cache_ttl_seconds=0)
    enforcer = QuotaEnforcer(session_factory, bus, settings, clock=now.timestamp)
    user = await new_user(session_factory, "ada@example.com")
    key = await new_key(session_factory, user)
    await set_quota(session_factory, Subject("api_key", key), monthly_token_budget=100)
    await set_quota(session_factory, Subject("user", user), monthly_cost_budget=0.5)
    last_month = now.replace(day=1) - timedelta(days=1)
    await record_calls(
        session_factory,
        call_event(user_id=user, api_key_id=key, tokens=(40, 20), cost=0.1),
        # Last month's calls and another user's do not count.
        call_event(user_id=user, api_key_id=key, tokens=(900, 0), cost=9.0, time=last_month),
        call_event(user_id="someone", api_key_id="other", tokens=(900, 0), cost=9.0),
    )
    await enforcer.check(user, key)
    await record_calls(
        session_factory, call_event(user_id=user, api_key_id=key, tokens=(30, 10), cost=0.1)
    )
    problem = await refused(enforcer, user, key)
    assert isinstance(problem, BudgetExceeded)
    assert (problem.status, problem.code) == (402, "budget_exceeded")
    assert problem.detail is not None
    assert "monthly token budget of this API key" in problem.detail
    assert "limit 100 tokens, spent 100 in" in problem.detail
    # The login session is only bound by the user's cost budget, which is not reached.
    await enforcer.check(user, None)
    await record_calls(
        session_factory, call_event(user_id=user, api_key_id=None, tokens=(1, 1), cost=0.3)
    )
    problem = await refused(enforcer, user, None)
    assert problem.detail is not None
    assert "limit 0.5 USD, spent 0.5 USD" in problem.detail


@sqlite_only
async def test_without_quotas_a_check_does_no_io_after_the_first(
    bus: EventBus, session_factory: Sessions
) -> None:
    counting = CountingSessions(session_factory)
    enforcer = QuotaEnforcer(cast("Sessions", counting), bus, QuotaSettings())
    user = await new_user(session_factory, "ada@example.com")
    key = await new_key(session_factory, user)
    for _ in range(200):
        await enforcer.check(user, key)
    assert counting.opened == 1  # one query loaded both subjects' rows, then the cache
    with pytest.raises(BucketNotFoundError):
        await bus.js.key_value(COUNTER_BUCKET)  # NATS never asked


# --- HTTP: admin routes, /api/quotas/me, the guard on the routes -------------------------


@pytest.fixture
async def admin(platform: Platform, client: httpx.AsyncClient) -> dict[str, str]:
    return await login(platform, client, "root@example.com", "admin")


async def user_id_of(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    found: str = me.json()["id"]
    return found


async def key_of(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[str, str]:
    created = await client.post("/api/auth/api-keys", json={"name": "sdk"}, headers=headers)
    assert created.status_code == 201, created.text
    body = created.json()
    return body["id"], body["key"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def put_quota(
    client: httpx.AsyncClient, admin: dict[str, str], kind: str, subject_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.put(f"/api/admin/quotas/{kind}/{subject_id}", json=body, headers=admin)
    assert response.status_code == 200, response.text
    written: dict[str, Any] = response.json()
    return written


async def test_admin_sets_lists_replaces_and_deletes_quotas(
    platform: Platform, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await login(platform, client, "alice@example.com")
    alice_id = await user_id_of(client, alice)
    key_id, _ = await key_of(client, alice)
    admin_id = await user_id_of(client, admin)

    assert (await client.get("/api/admin/quotas", headers=alice)).status_code == 403
    denied = await client.put(f"/api/admin/quotas/user/{alice_id}", json={}, headers=alice)
    assert denied.status_code == 403
    assert (await client.get("/api/admin/quotas")).status_code == 401
    for path, code in [
        ("user/nobody", "user_not_found"),
        ("api_key/nobody", "api_key_not_found"),
        (f"team/{alice_id}", "unknown_subject_type"),
    ]:
        missing = await client.put(f"/api/admin/quotas/{path}", json={}, headers=admin)
        assert (missing.status_code, missing.json()["code"]) == (404, code), path
    invalid = await client.put(
        f"/api/admin/quotas/user/{alice_id}",
        json={"requests_per_minute": -1, "monthly_token_budget": 5, "monthly_cost_budget": -0.5},
        headers=admin,
    )
    assert invalid.status_code == 422
    assert invalid.json()["code"] == "invalid_quota"
    assert [e["key"] for e in invalid.json()["errors"]] == [
        "requests_per_minute",
        "monthly_cost_budget",
    ]
    assert (await client.get("/api/admin/quotas", headers=admin)).json()["total"] == 0

    created = await put_quota(
        client, admin, "user", alice_id, requests_per_minute=10, monthly_token_budget=1000
    )
    assert created["user_id"] == alice_id
    assert (created["requests_per_minute"], created["monthly_cost_budget"]) == (10, None)
    keyed = await put_quota(client, admin, "api_key", key_id, monthly_cost_budget=2.5)
    assert (keyed["subject_type"], keyed["user_id"]) == ("api_key", alice_id)
    replaced = await put_quota(client, admin, "user", alice_id, monthly_cost_budget=1)
    assert replaced["requests_per_minute"] is None
    assert replaced["monthly_cost_budget"] == 1.0
    assert replaced["created_at"] == created["created_at"]

    page = (await client.get("/api/admin/quotas?limit=1", headers=admin)).json()
    assert (page["total"], len(page["items"]), page["limit"]) == (2, 1, 1)
    keys_only = await client.get("/api/admin/quotas?subject_type=api_key", headers=admin)
    assert [q["subject_id"] for q in keys_only.json()["items"]] == [key_id]
    bad_filter = await client.get("/api/admin/quotas?subject_type=team", headers=admin)
    assert bad_filter.status_code == 400

    path = f"/api/admin/quotas/api_key/{key_id}"
    assert (await client.delete(path, headers=admin)).status_code == 204
    gone = await client.delete(path, headers=admin)
    assert (gone.status_code, gone.json()["code"]) == (404, "quota_not_found")

    async def changes() -> list[QuotaUpdated | QuotaDeleted]:
        events = await stream_events(platform.services.bus)
        found = [e for e in events if isinstance(e, QuotaUpdated | QuotaDeleted)]
        return found if len(found) == 4 else []

    updated_1, updated_2, updated_3, deleted = await eventually(changes)
    assert isinstance(deleted, QuotaDeleted)
    assert (deleted.subject, deleted.actor, deleted.data.user_id) == (key_id, admin_id, alice_id)
    assert isinstance(updated_3, QuotaUpdated)
    assert updated_3.data.monthly_cost_budget == 1.0
    assert updated_3.data.requests_per_minute is None
    assert [e.subject for e in (updated_1, updated_2)] == [alice_id, key_id]


async def _gateway(
    platform: Platform, client: httpx.AsyncClient, admin: dict[str, str], fake: FakeOpenAI
) -> str:
    """An OpenAI-compatible provider on the fake and a priced model ``fast``; its config id."""
    provider = await add_provider(
        client,
        admin,
        name="Fake",
        type="openai-compatible",
        base_url=fake.base_url,
        api_key="test-key",
    )
    model = await add_model(
        client,
        admin,
        provider_id=provider["id"],
        model_id="up-1",
        alias="fast",
        input_price_per_mtok=2.0,
        output_price_per_mtok=8.0,
    )
    fake.scenario = Scenario(tokens=["Hi", " there"])
    config_id: str = model["id"]
    return config_id


HELLO = {"model": "fast", "messages": [{"role": "user", "content": "hello"}]}


@sqlite_only
async def test_v1_rate_limit_answers_in_openai_shape_per_key(
    platform: Platform, client: httpx.AsyncClient, admin: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    await _gateway(platform, client, admin, fake_openai)
    alice = await login(platform, client, "alice@example.com")
    (limited_id, limited), (_, other) = await key_of(client, alice), await key_of(client, alice)
    await put_quota(client, admin, "api_key", limited_id, requests_per_minute=2)

    statuses, answer = [], None
    # Two requests always pass; a minute boundary can let at most two more through.
    for _ in range(5):
        answer = await client.post("/v1/chat/completions", json=HELLO, headers=bearer(limited))
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert answer is not None
    assert statuses[:2] == [200, 200]
    assert statuses[-1] == 429, statuses
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert answer.json() == {
        "error": {
            "message": f"This API key allows 2 requests per minute; retry in "
            f"{answer.headers['retry-after']} s.",
            "type": "rate_limit_error",
            "code": "rate_limit_exceeded",
            "param": None,
        }
    }
    # The OpenAI SDK raises its own rate-limit error (within three calls even if a new
    # window opened meanwhile); the user's other key is not limited.
    sdk = AsyncOpenAI(base_url=f"{platform.url}/v1", api_key=limited, max_retries=0)
    error = None
    for _ in range(3):
        try:
            await sdk.embeddings.create(model="fast", input="x")
        except openai.RateLimitError as exc:
            error = exc
            break
    assert error is not None
    assert error.code == "rate_limit_exceeded"
    ok = await client.post("/v1/chat/completions", json=HELLO, headers=bearer(other))
    assert ok.status_code == 200, ok.text


async def test_real_calls_count_toward_the_key_budget_and_me_reports_them(
    platform_factory: PlatformFactory, fake_openai: FakeOpenAI
) -> None:
    platform = await platform_factory(
        overrides={"quotas": QuotaSettings(spend_cache_ttl_seconds=0)}
    )
    async with httpx.AsyncClient(base_url=platform.url, timeout=10.0) as client:
        admin = await login(platform, client, "root@example.com", "admin")
        await _gateway(platform, client, admin, fake_openai)
        alice = await login(platform, client, "alice@example.com")
        key_id, key = await key_of(client, alice)
        done = await client.post("/v1/chat/completions", json=HELLO, headers=bearer(key))
        assert done.status_code == 200, done.text
        usage = done.json()["usage"]
        tokens = usage["prompt_tokens"] + usage["completion_tokens"]
        cost = (usage["prompt_tokens"] * 2.0 + usage["completion_tokens"] * 8.0) / 1e6

        async def projected() -> dict[str, Any] | None:
            body: dict[str, Any] = (await client.get("/api/quotas/me", headers=bearer(key))).json()
            # Both reads of one answer may straddle the usage consumer's commit.
            return body if body["user"]["spend"]["tokens"] == tokens else None

        me = await eventually(projected)
        now = datetime.now(UTC)
        assert me["period_start"] == f"{now:%Y-%m}-01T00:00:00Z"
        for part in ("user", "api_key"):
            assert me[part]["spend"]["tokens"] == tokens
            assert me[part]["spend"]["cost"] == pytest.approx(cost)
        assert me["api_key"]["subject_id"] == key_id
        assert me["api_key"]["monthly_token_budget"] is None

        await put_quota(client, admin, "api_key", key_id, monthly_token_budget=tokens)
        spent = await client.post("/v1/chat/completions", json=HELLO, headers=bearer(key))
        assert spent.status_code == 402
        error = spent.json()["error"]
        assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
        assert f"limit {tokens} tokens, spent {tokens} in" in error["message"]
        me = (await client.get("/api/quotas/me", headers=bearer(key))).json()
        assert (me["api_key"]["monthly_token_budget"], me["api_key"]["remaining_tokens"]) == (
            tokens,
            0,
        )
        # The login session is bound by the user's quota only: none.
        mine = (await client.get("/api/quotas/me", headers=alice)).json()
        assert mine["api_key"] is None
        assert mine["user"]["remaining_tokens"] is None
        again = await client.post("/v1/chat/completions", json=HELLO, headers=alice)
        assert again.status_code == 200, again.text


@sqlite_only
async def test_defaults_bind_every_user_and_guard_every_spending_route(
    platform_factory: PlatformFactory, fake_openai: FakeOpenAI
) -> None:
    platform = await platform_factory(
        overrides={
            "quotas": QuotaSettings(default_monthly_tokens=0, default_requests_per_minute=99)
        }
    )
    async with httpx.AsyncClient(base_url=platform.url, timeout=10.0) as client:
        admin = await login(platform, client, "root@example.com", "admin")
        config_id = await _gateway(platform, client, admin, fake_openai)
        bob = await login(platform, client, "bob@example.com")
        models = {"model_config_ids": [config_id, config_id]}
        for path, body in [
            ("/api/chat/sessions/missing/messages", {"content": "hi"}),
            ("/api/chat/messages/missing/regenerate", {}),
            ("/api/chat/messages/missing/edit", {"content": "hi"}),
            ("/api/compare", {"prompt": "hi", **models}),
            ("/api/compare/batches", {"prompts": ["hi"], **models}),
            ("/api/knowledge-bases/missing/search", {"query": "hi"}),
        ]:
            refused = await client.post(path, json=body, headers=bob)
            assert refused.status_code == 402, (path, refused.text)
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["code"] == "budget_exceeded"
        embed = await client.post(
            "/v1/embeddings", json={"model": "fast", "input": "x"}, headers=bob
        )
        assert embed.status_code == 402
        assert embed.json()["error"]["type"] == "insufficient_quota"
        # Routes that spend nothing are not guarded.
        assert (await client.get("/api/chat/sessions", headers=bob)).status_code == 200

        me = (await client.get("/api/quotas/me", headers=bob)).json()["user"]
        assert (me["monthly_token_budget"], me["requests_per_minute"]) == (0, 99)
        # A user's own quota overrides the defaults it names; the others still apply.
        bob_id = await user_id_of(client, bob)
        await put_quota(client, admin, "user", bob_id, monthly_token_budget=1000)
        answer = await client.post("/v1/chat/completions", json=HELLO, headers=bob)
        assert answer.status_code == 200, answer.text
        me = (await client.get("/api/quotas/me", headers=bob)).json()["user"]
        assert (me["monthly_token_budget"], me["requests_per_minute"]) == (1000, 99)
