"""Admin user management over real HTTP: create, search, reset passwords, cut access everywhere."""

from __future__ import annotations

import httpx
import msgspec

from events import decode_event
from events.auth import PasswordReset, UserRegistered
from handlers.auth.deps import caches_of
from runtime.platform import Platform, Roles
from tests.fixtures.app import PlatformFactory
from tests.integration.permission_support import (
    PASSWORD,
    admin_session,
    api_key,
    eventually,
    login,
    make_user,
)

NEW_PASSWORD = "a brand new passphrase"


async def _last_event(platform: Platform, subject: str) -> msgspec.Struct:
    async def fetch() -> msgspec.Struct | None:
        try:
            msg = await platform.services.bus.js.get_last_msg("LLMFORGE_AUTH", subject)
        except Exception:  # not stored yet
            return None
        return decode_event(msg.data or b"")

    event: msgspec.Struct = await eventually(fetch)
    return event


async def test_admin_creates_a_user_who_can_log_in(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    created = await client.post(
        "/api/admin/users",
        headers=admin,
        json={
            "email": "New.Person@Example.com",
            "password": NEW_PASSWORD,
            "role": "admin",
            "display_name": "New Person",
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["email"], user["role"], user["display_name"], user["is_active"]) == (
        "new.person@example.com",
        "admin",
        "New Person",
        True,
    )
    assert "password" not in created.text
    await login(client, "new.person@example.com", NEW_PASSWORD)

    duplicate = await client.post(
        "/api/admin/users",
        headers=admin,
        json={"email": "NEW.person@example.com", "password": NEW_PASSWORD},
    )
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "email_taken")
    weak = await client.post(
        "/api/admin/users", headers=admin, json={"email": "weak@example.com", "password": "short"}
    )
    assert weak.status_code == 400
    defaulted = await client.post(
        "/api/admin/users", headers=admin, json={"email": "plain@example.com", "password": PASSWORD}
    )
    assert defaulted.json()["role"] == "user"

    event = await _last_event(platform, "llmforge.auth.user.registered")
    assert isinstance(event, UserRegistered)
    assert event.data.email == "plain@example.com"
    me = (await client.get("/api/auth/me", headers=admin)).json()
    assert event.actor == me["id"]  # the admin, not the new user


async def test_admin_search_treats_wildcards_literally(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    await make_user(platform, "ada@example.com")
    await make_user(platform, "bob_smith@example.com")
    found = (await client.get("/api/admin/users?q=B_S", headers=admin)).json()
    assert [u["email"] for u in found["items"]] == ["bob_smith@example.com"]
    assert (await client.get("/api/admin/users?q=%25", headers=admin)).json()["total"] == 0


async def test_reset_password_generates_a_temporary_password_shown_once(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    member = await make_user(platform, "member@example.com")
    tokens = (
        await client.post(
            "/api/auth/login", json={"email": "member@example.com", "password": PASSWORD}
        )
    ).json()
    old = {"Authorization": f"Bearer {tokens['access_token']}"}
    key = await api_key(client, old)
    assert (await client.get("/api/auth/me", headers=key)).status_code == 200
    assert platform.app is not None
    cache = caches_of(platform.app.state).api_keys
    # The member's key and access token are both cached (the admin's token too).
    assert [u.id for u in cache.users()].count(member) == 2

    reset = await client.post(f"/api/admin/users/{member}/reset-password", headers=admin)
    assert reset.status_code == 200, reset.text
    assert reset.headers["cache-control"] == "no-store"
    temporary = reset.json()["temporary_password"]
    assert reset.json()["user_id"] == member
    assert isinstance(temporary, str)
    assert len(temporary) >= 20

    assert member not in [u.id for u in cache.users()]
    assert (await client.get("/api/auth/me", headers=old)).status_code == 401
    refreshed = await client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    stale = await client.post(
        "/api/auth/login", json={"email": "member@example.com", "password": PASSWORD}
    )
    assert stale.status_code == 401
    await login(client, "member@example.com", temporary)

    event = await _last_event(platform, "llmforge.auth.password.reset")
    assert isinstance(event, PasswordReset)
    assert (event.data.user_id, event.data.generated) == (member, True)
    assert temporary not in msgspec.json.encode(event).decode()


async def test_reset_password_to_a_chosen_one(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    member = await make_user(platform, "member@example.com")
    chosen = await client.post(
        f"/api/admin/users/{member}/reset-password",
        headers=admin,
        json={"new_password": NEW_PASSWORD},
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["temporary_password"] is None
    await login(client, "member@example.com", NEW_PASSWORD)

    short = await client.post(
        f"/api/admin/users/{member}/reset-password", headers=admin, json={"new_password": "x"}
    )
    assert short.status_code == 400
    missing = await client.post("/api/admin/users/nobody/reset-password", headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "user_not_found")
    me = (await client.get("/api/auth/me", headers=admin)).json()["id"]
    own = await client.post(f"/api/admin/users/{me}/reset-password", headers=admin)
    assert (own.status_code, own.json()["code"]) == (409, "cannot_reset_own_password")


async def test_a_disabled_users_api_key_stops_on_every_replica(
    platform_factory: PlatformFactory,
) -> None:
    replica_a = await platform_factory()
    replica_b = await platform_factory(roles=Roles(http=True, consumers=False))
    assert replica_b.app is not None
    # Without the broadcast, B would accept the cached key for this long.
    caches_of(replica_b.app.state).api_keys.ttl = 300.0
    async with (
        httpx.AsyncClient(base_url=replica_a.url) as a,
        httpx.AsyncClient(base_url=replica_b.url) as b,
    ):
        admin = await admin_session(replica_a, a)
        member = await make_user(replica_a, "member@example.com")
        key = await api_key(a, await login(a, "member@example.com"))
        assert (await b.get("/api/auth/me", headers=key)).status_code == 200  # cached on B

        disabled = await a.patch(
            f"/api/admin/users/{member}", headers=admin, json={"is_active": False}
        )
        assert disabled.status_code == 200, disabled.text
        assert (await a.get("/api/auth/me", headers=key)).status_code == 401

        async def refused_on_b() -> bool:
            return (await b.get("/api/auth/me", headers=key)).status_code == 401

        await eventually(refused_on_b, timeout=5.0)
