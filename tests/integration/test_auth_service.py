"""AuthService against real SQLite and PostgreSQL (and the rate limiter on a real NATS)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events import Event, decode_event
from events.auth import (
    ApiKeyCreated,
    ApiKeyRevoked,
    LoginFailed,
    LoginSucceeded,
    PasswordChanged,
    RefreshTokenReused,
    UserRegistered,
)
from handlers.auth.principal import authenticate_bearer
from handlers.auth.service import AuthService, create_user
from runtime.db.models import ApiKey, OutboxEvent, RefreshToken, User
from runtime.errors import ProblemError
from runtime.security import (
    Argon2Params,
    LoginLimits,
    LoginRateLimiter,
    Passwords,
    RateLimited,
    hash_refresh_token,
    issue_access_token,
)
from runtime.security.rate_limit import Window, seconds_until_allowed, sliding_estimate
from runtime.settings import SecuritySettings

SECRET = "service-test-secret-0123456789abcdef"
CHEAP = Argon2Params(time_cost=1, memory_kib=8, parallelism=1)
PASSWORD = "correct horse battery"


class RecordingPasswords(Passwords):
    """Notes which hash every verify ran against, to prove the dummy path is taken."""

    def __init__(self, params: Argon2Params = CHEAP) -> None:
        super().__init__(params)
        self.verified: list[str] = []

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return await super().verify(password_hash, password)


class FakeBus:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, event: Event) -> object:
        self.published.append(event)
        return None


def make_service(
    session: AsyncSession,
    *,
    passwords: Passwords | None = None,
    bus: FakeBus | None = None,
    **security: Any,
) -> AuthService:
    settings = dataclasses.replace(SecuritySettings(secret_key=SECRET), **security)
    return AuthService(
        session, settings, passwords=passwords or RecordingPasswords(), publisher=bus
    )


async def staged(session: AsyncSession) -> list[Event]:
    rows = (await session.scalars(select(OutboxEvent))).all()
    return [decode_event(row.payload) for row in rows]


async def new_user(session: AsyncSession, email: str = "ada@example.com", **kw: Any) -> User:
    user = await create_user(session, email, PASSWORD, passwords=Passwords(CHEAP), **kw)
    await session.commit()
    return user


# --- registration -----------------------------------------------------------------


async def test_register_creates_user_with_hashed_password(db_session: AsyncSession) -> None:
    auth = make_service(db_session)
    user = await auth.register("  Ada@Example.COM ", PASSWORD)
    await db_session.commit()
    assert user.email == "ada@example.com"
    assert user.role == "user"
    assert user.is_active
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    events = await staged(db_session)
    assert [type(e) for e in events] == [UserRegistered]
    assert events[0].actor == user.id
    assert events[0].subject == user.id


async def test_register_taken_email_is_409(db_session: AsyncSession) -> None:
    await new_user(db_session)
    with pytest.raises(ProblemError) as info:
        await make_service(db_session).register("ADA@example.com", PASSWORD)
    assert (info.value.status, info.value.code) == (409, "email_taken")


async def test_register_closed_is_403(db_session: AsyncSession) -> None:
    with pytest.raises(ProblemError) as info:
        await make_service(db_session, registration_open=False).register("b@example.com", PASSWORD)
    assert (info.value.status, info.value.code) == (403, "registration_closed")


async def test_create_user_for_the_cli_validates(db_session: AsyncSession) -> None:
    admin = await new_user(db_session, "root@example.com", role="admin")
    assert admin.role == "admin"
    events = await staged(db_session)
    assert events[0].actor == "system"
    for email, password, role, code in (
        ("not-an-email", PASSWORD, "user", "invalid_email"),
        ("x@example.com", "short", "user", "invalid_password"),
        ("x@example.com", PASSWORD, "superuser", "invalid_role"),
    ):
        with pytest.raises(ProblemError) as info:
            await create_user(db_session, email, password, role, passwords=Passwords(CHEAP))
        assert (info.value.status, info.value.code) == (400, code)


# --- login --------------------------------------------------------------------------


async def test_login_issues_tokens_and_records_the_login(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    auth = make_service(db_session)
    tokens = await auth.login("ADA@example.com", PASSWORD, client_ip="10.0.0.1", user_agent="t")
    await db_session.commit()
    assert tokens.expires_in == 900
    assert tokens.user.id == user.id
    assert user.last_login_at is not None
    principal = await authenticate_bearer(db_session, tokens.access_token, secret=SECRET)
    assert (principal.id, principal.auth_method) == (user.id, "jwt")
    stored = (await db_session.scalars(select(RefreshToken))).all()
    assert [r.token_hash for r in stored] == [hash_refresh_token(tokens.refresh_token)]
    assert stored[0].client_ip == "10.0.0.1"
    assert [type(e) for e in await staged(db_session)][-1] is LoginSucceeded


async def test_wrong_password_and_unknown_user_look_the_same(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    passwords = RecordingPasswords()
    bus = FakeBus()
    auth = make_service(db_session, passwords=passwords, bus=bus)

    with pytest.raises(ProblemError) as wrong_password:
        await auth.login("ada@example.com", "wrong password")
    assert passwords.verified == [user.password_hash]

    passwords.verified.clear()
    with pytest.raises(ProblemError) as unknown_user:
        await auth.login("nobody@example.com", PASSWORD)
    # The unknown account still cost one argon2 verify, against the dummy hash.
    assert passwords.verified == [await passwords.dummy_hash()]

    def shape(err: ProblemError) -> tuple[Any, ...]:
        return (err.status, err.code, err.title, err.detail, err.errors, err.headers)

    assert shape(wrong_password.value) == shape(unknown_user.value)
    assert wrong_password.value.code == "invalid_credentials"
    assert [(type(e), e.data.reason) for e in bus.published] == [  # type: ignore[attr-defined]
        (LoginFailed, "invalid_credentials"),
        (LoginFailed, "invalid_credentials"),
    ]


async def test_unknown_user_costs_the_same_argon2_work_as_a_wrong_password(
    db_session: AsyncSession,
) -> None:
    # Equal timing follows from equal work: one verify against a hash with the same
    # argon2 parameters. Checked structurally, since wall-clock tests are flaky.
    passwords = Passwords(Argon2Params(time_cost=2, memory_kib=16 * 1024, parallelism=1))
    user = await create_user(db_session, "ada@example.com", PASSWORD, passwords=passwords)
    await db_session.commit()
    dummy = await passwords.dummy_hash()
    settings_of = lambda h: h.rsplit("$", 2)[0]  # noqa: E731 - "$argon2id$v=19$m=…,t=…,p=…"
    assert settings_of(dummy) == settings_of(user.password_hash)
    assert not passwords.needs_rehash(dummy)


async def test_disabled_user_gets_the_same_401(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    user.is_active = False
    await db_session.commit()
    bus = FakeBus()
    with pytest.raises(ProblemError) as info:
        await make_service(db_session, bus=bus).login("ada@example.com", PASSWORD)
    assert (info.value.status, info.value.code) == (401, "invalid_credentials")
    assert bus.published[0].data.reason == "disabled"  # type: ignore[attr-defined]


async def test_login_rehashes_when_parameters_change(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    old_hash = user.password_hash
    stronger = Passwords(Argon2Params(time_cost=2, memory_kib=16, parallelism=1))
    assert stronger.needs_rehash(old_hash)
    await make_service(db_session, passwords=stronger).login("ada@example.com", PASSWORD)
    await db_session.commit()
    await db_session.refresh(user)
    assert user.password_hash != old_hash
    assert not stronger.needs_rehash(user.password_hash)
    assert await stronger.verify(user.password_hash, PASSWORD)


async def test_login_without_parameter_change_keeps_the_hash(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    old_hash = user.password_hash
    await make_service(db_session).login("ada@example.com", PASSWORD)
    await db_session.commit()
    await db_session.refresh(user)
    assert user.password_hash == old_hash


# --- access tokens --------------------------------------------------------------------


async def test_expired_access_token_is_refused(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    token, _ = issue_access_token(
        user_id=user.id,
        role=user.role,
        token_version=user.token_version,
        secret=SECRET,
        ttl_seconds=900,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    with pytest.raises(ProblemError) as info:
        await authenticate_bearer(db_session, token, secret=SECRET)
    assert (info.value.status, info.value.code) == (401, "token_expired")


async def test_access_token_of_a_disabled_user_is_refused(db_session: AsyncSession) -> None:
    await new_user(db_session)
    tokens = await make_service(db_session).login("ada@example.com", PASSWORD)
    tokens.user.is_active = False
    await db_session.commit()
    with pytest.raises(ProblemError) as info:
        await authenticate_bearer(db_session, tokens.access_token, secret=SECRET)
    assert info.value.status == 401


# --- refresh tokens -----------------------------------------------------------------


async def test_refresh_rotates_within_the_family(db_session: AsyncSession) -> None:
    await new_user(db_session)
    auth = make_service(db_session)
    first = await auth.login("ada@example.com", PASSWORD)
    await db_session.commit()
    second = await auth.refresh(first.refresh_token)
    await db_session.commit()
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    rows = {r.token_hash: r for r in (await db_session.scalars(select(RefreshToken))).all()}
    old = rows[hash_refresh_token(first.refresh_token)]
    new = rows[hash_refresh_token(second.refresh_token)]
    assert old.used_at is not None
    assert new.used_at is None
    assert old.family_id == new.family_id


async def test_reused_refresh_token_revokes_family(db_session: AsyncSession) -> None:
    await new_user(db_session)
    bus = FakeBus()
    auth = make_service(db_session, bus=bus)
    first = await auth.login("ada@example.com", PASSWORD)
    await db_session.commit()
    second = await auth.refresh(first.refresh_token)
    await db_session.commit()

    with pytest.raises(ProblemError) as info:
        await auth.refresh(first.refresh_token)
    assert (info.value.status, info.value.code) == (401, "refresh_token_reused")
    # The revocation was committed by the service even though it answered an error.
    await db_session.rollback()
    rows = (await db_session.scalars(select(RefreshToken))).all()
    assert rows
    assert all(r.revoked_at is not None for r in rows)
    reused = [e for e in bus.published if isinstance(e, RefreshTokenReused)]
    assert len(reused) == 1
    assert reused[0].data.revoked_tokens == 2
    # Published right away, so the outbox row is gone.
    assert not [e for e in await staged(db_session) if isinstance(e, RefreshTokenReused)]

    with pytest.raises(ProblemError) as later:
        await auth.refresh(second.refresh_token)
    assert (later.value.status, later.value.code) == (401, "invalid_refresh_token")


async def test_other_families_survive_a_reuse(db_session: AsyncSession) -> None:
    await new_user(db_session)
    auth = make_service(db_session)
    laptop = await auth.login("ada@example.com", PASSWORD)
    phone = await auth.login("ada@example.com", PASSWORD)
    await db_session.commit()
    await auth.refresh(laptop.refresh_token)
    await db_session.commit()
    with pytest.raises(ProblemError):
        await auth.refresh(laptop.refresh_token)
    assert await auth.refresh(phone.refresh_token)


async def test_expired_or_unknown_refresh_token_is_refused(db_session: AsyncSession) -> None:
    await new_user(db_session)
    auth = make_service(db_session)
    tokens = await auth.login("ada@example.com", PASSWORD)
    await db_session.commit()
    row = await db_session.scalar(select(RefreshToken))
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    await db_session.commit()
    for token in (tokens.refresh_token, "made-up", None):
        with pytest.raises(ProblemError) as info:
            await auth.refresh(token)
        assert (info.value.status, info.value.code) == (401, "invalid_refresh_token")


async def test_logout_revokes_the_family(db_session: AsyncSession) -> None:
    await new_user(db_session)
    auth = make_service(db_session)
    first = await auth.login("ada@example.com", PASSWORD)
    await db_session.commit()
    second = await auth.refresh(first.refresh_token)
    await db_session.commit()
    await auth.logout(second.refresh_token)
    await auth.logout("unknown-token")
    await auth.logout(None)
    await db_session.commit()
    with pytest.raises(ProblemError) as info:
        await auth.refresh(second.refresh_token)
    assert info.value.code == "invalid_refresh_token"


# --- password change ------------------------------------------------------------------


async def test_change_password_ends_tokens_and_sessions(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    auth = make_service(db_session)
    tokens = await auth.login("ada@example.com", PASSWORD)
    await db_session.commit()

    with pytest.raises(ProblemError) as wrong:
        await auth.change_password(user.id, "not my password", "new password 123")
    assert (wrong.value.status, wrong.value.code) == (400, "invalid_current_password")

    await auth.change_password(user.id, PASSWORD, "new password 123")
    await db_session.commit()
    assert user.token_version == 1
    with pytest.raises(ProblemError) as old_access:
        await authenticate_bearer(db_session, tokens.access_token, secret=SECRET)
    assert old_access.value.code == "token_revoked"
    with pytest.raises(ProblemError):
        await auth.refresh(tokens.refresh_token)
    with pytest.raises(ProblemError):
        await auth.login("ada@example.com", PASSWORD)
    fresh = await auth.login("ada@example.com", "new password 123")
    assert (await authenticate_bearer(db_session, fresh.access_token, secret=SECRET)).id == user.id
    assert PasswordChanged in [type(e) for e in await staged(db_session)]


# --- API keys -------------------------------------------------------------------------


async def test_api_key_lifecycle(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    other = await new_user(db_session, "bob@example.com")
    auth = make_service(db_session)
    new = await auth.create_api_key(user.id, "ci", expires_in_days=30)
    await db_session.commit()
    assert new.key.startswith("lf_")
    assert new.row.prefix == new.key[:12]
    assert new.key not in new.row.key_hash
    assert new.row.expires_at is not None

    principal = await authenticate_bearer(db_session, new.key, secret=SECRET)
    assert (principal.id, principal.auth_method, principal.api_key_id) == (
        user.id,
        "api_key",
        new.row.id,
    )
    await db_session.commit()
    assert new.row.last_used_at is not None

    rows, total = await auth.list_api_keys(user.id, limit=10, offset=0)
    assert (total, [r.id for r in rows]) == (1, [new.row.id])
    assert (await auth.list_api_keys(other.id, limit=10, offset=0))[1] == 0

    with pytest.raises(ProblemError) as not_yours:
        await auth.revoke_api_key(other.id, new.row.id)
    assert not_yours.value.status == 404

    await auth.revoke_api_key(user.id, new.row.id)
    await auth.revoke_api_key(user.id, new.row.id)  # idempotent
    await db_session.commit()
    with pytest.raises(ProblemError) as revoked:
        await auth.resolve_api_key(new.key)
    assert (revoked.value.status, revoked.value.code) == (401, "invalid_api_key")
    assert (await auth.list_api_keys(user.id, limit=10, offset=0))[1] == 0
    kinds = [type(e) for e in await staged(db_session)]
    assert kinds.count(ApiKeyCreated) == 1
    assert kinds.count(ApiKeyRevoked) == 1


async def test_expired_or_unknown_api_key_is_refused(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    auth = make_service(db_session)
    new = await auth.create_api_key(user.id, "old")
    row = await db_session.get(ApiKey, new.row.id)
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    await db_session.commit()
    for key in (new.key, "lf_made-up"):
        with pytest.raises(ProblemError) as info:
            await auth.resolve_api_key(key)
        assert info.value.code == "invalid_api_key"


async def test_api_key_list_is_paginated(db_session: AsyncSession) -> None:
    user = await new_user(db_session)
    auth = make_service(db_session)
    for i in range(5):
        await auth.create_api_key(user.id, f"k{i}")
    await db_session.commit()
    page, total = await auth.list_api_keys(user.id, limit=2, offset=4)
    assert total == 5
    assert len(page) == 1


# --- login rate limit on a real NATS ---------------------------------------------------


@pytest.fixture
async def js(platform_nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(platform_nats_url)
    yield nc.jetstream()
    await nc.close()


async def test_rate_limiter_counts_per_email_and_window(js: JetStreamContext) -> None:
    clock = [60.0 * 16_667 + 20]  # 20 s into a window
    limiter = LoginRateLimiter(js, LoginLimits(per_email=3, per_ip=100), clock=lambda: clock[0])
    other_replica = LoginRateLimiter(
        js, LoginLimits(per_email=3, per_ip=100), clock=lambda: clock[0]
    )
    await limiter.hit("Ada@example.com", "10.0.0.1")
    await other_replica.hit("ada@example.com", "10.0.0.2")
    await limiter.hit("ada@example.com ", None)
    with pytest.raises(RateLimited) as info:
        await other_replica.hit("ada@example.com", "10.0.0.3")
    assert info.value.scope == "email"
    # Four hits this window: in the next one they weigh 4 * (1 - f), and 1 + that <= 3
    # once f >= 1/2, i.e. 40 s to this window's end and 30 s into the next.
    assert info.value.retry_after == 70
    await limiter.hit("bob@example.com", "10.0.0.1")  # other e-mail, own counter
    clock[0] += 60  # 20 s into the next window: the previous one still weighs 2/3
    with pytest.raises(RateLimited) as info:
        await limiter.hit("ada@example.com", "10.0.0.1")
    # That hit counts too: 2 + 4 * (1 - f) <= 3 from f = 3/4, 45 s into the window.
    assert info.value.retry_after == 25
    clock[0] += 25
    await limiter.hit("ada@example.com", "10.0.0.1")


def test_sliding_window_blocks_a_burst_across_the_boundary() -> None:
    # Two allowed per minute: one just before a boundary and one after it fit, a third not.
    before = Window.at(59.9, 60)
    assert sliding_estimate(1, 0, before) == 1
    after = Window.at(60.1, 60)
    assert sliding_estimate(1, 1, after) <= 2
    assert sliding_estimate(2, 1, after) > 2
    # Not before this window's count has half faded (a fixed window would say 60 s).
    assert seconds_until_allowed(2, 1, 2, after) == 90
    assert seconds_until_allowed(2, 3, 3, Window.at(90, 60)) == 30


async def test_rate_limiter_counts_per_ip(js: JetStreamContext) -> None:
    limiter = LoginRateLimiter(js, LoginLimits(per_email=100, per_ip=2))
    await limiter.hit("a@example.com", "2001:db8::1")
    await limiter.hit("b@example.com", "2001:db8::1")
    with pytest.raises(RateLimited) as info:
        await limiter.hit("c@example.com", "2001:db8::1")
    assert info.value.scope == "ip"
    # Three hits (the refused one counts) fade to two 40 s into the next window.
    assert 40 < info.value.retry_after <= 100
