"""The /api/auth routes over real HTTP: real app, real NATS, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import get

from handlers.auth import CurrentUser, Permission, create_user, requires
from runtime.platform import Platform
from runtime.security import issue_access_token
from tests.fixtures.app import TEST_SECRET, PlatformFactory

PASSWORD = "correct horse battery"
LOGIN_ERROR_KEYS = {"type", "title", "status", "code", "detail", "instance"}


async def register(client: httpx.AsyncClient, email: str = "ada@example.com") -> dict[str, Any]:
    response = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(
    client: httpx.AsyncClient, email: str = "ada@example.com", password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def set_cookie(response: httpx.Response) -> str:
    headers = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(headers) == 1, headers
    return headers[0]


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    user = await register(client, "Ada@Example.com")
    assert user["email"] == "ada@example.com"
    assert set(user) == {"id", "email", "display_name", "role", "is_active", "created_at"}
    assert user["role"] == "user"

    response = await login(client)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["user"]["id"] == user["id"]
    assert body["refresh_token"]
    assert response.headers["cache-control"] == "no-store"
    cookie = set_cookie(response)
    assert cookie.startswith(f"llmforge_refresh={body['refresh_token']};")
    lowered = cookie.lower()
    for part in ("httponly", "samesite=strict", "path=/api/auth", "max-age=604800"):
        assert part in lowered
    assert "secure" not in lowered  # the test settings turn it off for plain http

    me = await client.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    mine = me.json()
    assert mine.pop("auth_method") == "jwt"
    # What the built-in user role grants: the web UI shows its pages by this list.
    assert "chat.use" in mine["permissions"]
    assert "users.manage" not in mine.pop("permissions")
    assert mine.pop("share_conversations_for_training") is False  # opt-in, off by default
    assert mine == user


async def test_register_conflict_and_validation(client: httpx.AsyncClient) -> None:
    await register(client)
    taken = await client.post(
        "/api/auth/register", json={"email": "ADA@example.com", "password": PASSWORD}
    )
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith("application/problem+json")
    assert taken.json()["code"] == "email_taken"
    for bad in (
        {"email": "ada@example.com", "password": "short"},
        {"email": "no-at-sign", "password": PASSWORD},
        {"email": "x@example.com", "password": "x" * 257},
        {"email": "x@example.com"},
    ):
        response = await client.post("/api/auth/register", json=bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "validation_failed"
        assert bad.get("password", "\0") not in response.text  # never echoed back


async def test_registration_closed_is_403(platform_factory: PlatformFactory) -> None:
    platform = await platform_factory(registration_open=False)
    async with httpx.AsyncClient(base_url=platform.url) as client:
        response = await client.post(
            "/api/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
        )
    assert response.status_code == 403
    assert response.json()["code"] == "registration_closed"


async def test_wrong_password_and_unknown_user_look_the_same(client: httpx.AsyncClient) -> None:
    await register(client)
    wrong_password = await login(client, password="wrong password")
    unknown_user = await login(client, email="nobody@example.com")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    assert set(wrong_password.json()) == LOGIN_ERROR_KEYS
    assert wrong_password.json()["code"] == "invalid_credentials"
    assert "set-cookie" not in wrong_password.headers


async def test_missing_or_bad_bearer_is_401(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/api/auth/me")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    garbage = await client.get("/api/auth/me", headers=bearer("not-a-token"))
    assert (garbage.status_code, garbage.json()["code"]) == (401, "invalid_token")


async def test_expired_access_token_is_refused(client: httpx.AsyncClient) -> None:
    user = await register(client)
    token, _ = issue_access_token(
        user_id=user["id"],
        role="user",
        token_version=0,
        secret=TEST_SECRET,
        ttl_seconds=900,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    response = await client.get("/api/auth/me", headers=bearer(token))
    assert (response.status_code, response.json()["code"]) == (401, "token_expired")


async def test_refresh_rotates_and_reuse_revokes_the_family(client: httpx.AsyncClient) -> None:
    await register(client)
    first = (await login(client)).json()["refresh_token"]

    # Browser flow: the cookie only (httpx keeps it; the test server is plain http).
    client.cookies.clear()
    client.cookies.set("llmforge_refresh", first)
    rotated = await client.post("/api/auth/refresh")
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    assert f"llmforge_refresh={second};" in set_cookie(rotated)
    me = await client.get("/api/auth/me", headers=bearer(rotated.json()["access_token"]))
    assert me.status_code == 200

    # Non-browser flow: the body.
    client.cookies.clear()
    reused = await client.post("/api/auth/refresh", json={"refresh_token": first})
    assert (reused.status_code, reused.json()["code"]) == (401, "refresh_token_reused")
    after = await client.post("/api/auth/refresh", json={"refresh_token": second})
    assert (after.status_code, after.json()["code"]) == (401, "invalid_refresh_token")


async def test_refresh_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/refresh")
    assert (response.status_code, response.json()["code"]) == (401, "invalid_refresh_token")


async def test_logout_clears_cookie_and_revokes(client: httpx.AsyncClient) -> None:
    await register(client)
    token = (await login(client)).json()["refresh_token"]
    response = await client.post("/api/auth/logout")
    assert response.status_code == 204
    cleared = set_cookie(response).lower()
    assert cleared.startswith("llmforge_refresh=")
    assert "max-age=0" in cleared
    assert "path=/api/auth" in cleared
    again = await client.post("/api/auth/refresh", json={"refresh_token": token})
    assert again.status_code == 401
    # Logging out twice, or with nothing, is fine.
    assert (await client.post("/api/auth/logout")).status_code == 204


async def test_password_change_kills_old_tokens(client: httpx.AsyncClient) -> None:
    await register(client)
    tokens = (await login(client)).json()
    headers = bearer(tokens["access_token"])
    wrong = await client.post(
        "/api/auth/password",
        json={"current_password": "nope nope", "new_password": "brand new pass"},
        headers=headers,
    )
    assert (wrong.status_code, wrong.json()["code"]) == (400, "invalid_current_password")
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "brand new pass"},
        headers=headers,
    )
    assert changed.status_code == 204
    old = await client.get("/api/auth/me", headers=headers)
    assert (old.status_code, old.json()["code"]) == (401, "token_revoked")
    refresh = await client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert (await login(client)).status_code == 401
    assert (await login(client, password="brand new pass")).status_code == 200


async def test_api_keys_authenticate_show_once_and_revoke(client: httpx.AsyncClient) -> None:
    await register(client)
    headers = bearer((await login(client)).json()["access_token"])
    created = await client.post(
        "/api/auth/api-keys", json={"name": "ci", "expires_in_days": 30}, headers=headers
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith("lf_")
    assert key["prefix"] == key["key"][:12]
    assert key["expires_at"] is not None

    listed = await client.get("/api/auth/api-keys", headers=headers)
    assert listed.status_code == 200
    page = listed.json()
    assert (page["total"], page["limit"], page["offset"]) == (1, 50, 0)
    assert page["items"][0]["id"] == key["id"]
    assert "key" not in page["items"][0]
    assert key["key"] not in listed.text

    me = await client.get("/api/auth/me", headers=bearer(key["key"]))
    assert me.status_code == 200
    with_key = await client.get("/api/auth/api-keys", headers=bearer(key["key"]))
    assert with_key.json()["items"][0]["last_used_at"] is not None
    # A key cannot mint keys or revoke them: that needs a password login.
    minted = await client.post("/api/auth/api-keys", json={"name": "x"}, headers=bearer(key["key"]))
    assert (minted.status_code, minted.json()["code"]) == (403, "login_session_required")

    missing = await client.delete("/api/auth/api-keys/unknown", headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "api_key_not_found")
    revoked = await client.delete(f"/api/auth/api-keys/{key['id']}", headers=headers)
    assert revoked.status_code == 204
    refused = await client.get("/api/auth/me", headers=bearer(key["key"]))
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")


async def test_api_key_resolution_is_cached_and_dropped_on_revoke(
    platform: Platform, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.auth import principal
    from handlers.auth.deps import caches_of

    await register(client)
    headers = bearer((await login(client)).json()["access_token"])
    key = (await client.post("/api/auth/api-keys", json={"name": "c"}, headers=headers)).json()
    lookups = 0
    resolve = principal.resolve_api_key

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal lookups
        lookups += 1
        return await resolve(*args, **kwargs)

    monkeypatch.setattr(principal, "resolve_api_key", counted)
    for _ in range(3):
        assert (await client.get("/api/auth/me", headers=bearer(key["key"]))).status_code == 200
    assert lookups == 1
    assert platform.app is not None
    assert key["key"] not in repr(caches_of(platform.app.state).api_keys._entries)

    revoked = await client.delete(f"/api/auth/api-keys/{key['id']}", headers=headers)
    assert revoked.status_code == 204
    refused = await client.get("/api/auth/me", headers=bearer(key["key"]))
    assert (refused.status_code, refused.json()["code"]) == (401, "invalid_api_key")


def test_api_key_cache_expires_bounds_and_forgets() -> None:
    from handlers.auth.principal import ApiKeyCache

    user = CurrentUser(
        id="u1",
        email="a@example.com",
        display_name=None,
        role="user",
        is_active=True,
        created_at=datetime.now(UTC),
        auth_method="api_key",
        api_key_id="k1",
    )
    cache = ApiKeyCache(ttl=60, max_size=2)
    cache.put("h1", user, generation=cache.generation, expires_at=None)
    assert cache.get("h1") is user
    # A lookup that began before an invalidation stores nothing.
    stale = cache.generation
    cache.forget(key_id="k1")
    assert cache.get("h1") is None
    cache.put("h1", user, generation=stale, expires_at=None)
    assert cache.get("h1") is None
    # Never past the key's own expiry; bounded size.
    past = datetime.now(UTC) - timedelta(seconds=1)
    cache.put("h2", user, generation=cache.generation, expires_at=past)
    assert cache.get("h2") is None
    for h in ("a", "b", "c"):
        cache.put(h, user, generation=cache.generation, expires_at=None)
    assert len(cache) == 2
    assert cache.get("a") is None
    assert cache.get("c") is user
    cache.forget(user_id="u1")
    assert len(cache) == 0


async def test_api_key_routes_need_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/auth/api-keys")).status_code == 401
    assert (await client.post("/api/auth/api-keys", json={"name": "x"})).status_code == 401


async def test_login_rate_limit_returns_429(platform_factory: PlatformFactory) -> None:
    platform = await platform_factory(login_attempts_per_minute=2)
    async with httpx.AsyncClient(base_url=platform.url) as client:
        await register(client)
        assert (await login(client, password="wrong password")).status_code == 401
        assert (await login(client)).status_code == 200
        limited = await login(client)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 120
    assert limited.json()["code"] == "too_many_login_attempts"


async def test_auth_routes_are_in_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {
        op["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith("/api/auth")
        for op in item.values()
    }
    assert operations == {
        "authRegister",
        "authLogin",
        "authRefresh",
        "authLogout",
        "authMe",
        "authUpdateMe",
        "authChangePassword",
        "authListApiKeys",
        "authCreateApiKey",
        "authRevokeApiKey",
    }


def test_refresh_cookie_follows_cookie_secure() -> None:
    from handlers.auth.controller import clear_refresh_cookie
    from runtime.settings import SecuritySettings

    cookie = clear_refresh_cookie(SecuritySettings(cookie_secure=True))
    assert (cookie.secure, cookie.httponly, cookie.samesite) == (True, True, "strict")
    assert (cookie.path, cookie.max_age, cookie.value) == ("/api/auth", 0, "")


# --- guards on a route family of their own ---------------------------------------------


@get(
    "/api/test-admin-only",
    guards=[requires(Permission.USERS_MANAGE)],
    operation_id="testAdminOnly",
)
async def admin_only(current_user: CurrentUser) -> dict[str, str]:
    return {"admin": current_user.id}


@pytest.fixture
async def admin_client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with one extra admin-only route, served over loopback HTTP."""
    from runtime.app import create_app

    app = create_app(platform.services)
    app.register(admin_only)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # bounded wait for the bind
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        yield http
    server.should_exit = True
    await task


async def test_user_cannot_reach_admin_routes(
    platform: Platform, admin_client: httpx.AsyncClient
) -> None:
    async with platform.services.session_factory() as session:
        admin = await create_user(session, "root@example.com", PASSWORD, role="admin")
        await session.commit()
    await register(admin_client, "ada@example.com")

    anonymous = await admin_client.get("/api/test-admin-only")
    assert anonymous.status_code == 401
    user_token = (await login(admin_client)).json()["access_token"]
    as_user = await admin_client.get("/api/test-admin-only", headers=bearer(user_token))
    assert (as_user.status_code, as_user.json()["code"]) == (403, "permission_required")
    admin_token = (await login(admin_client, "root@example.com")).json()["access_token"]
    as_admin = await admin_client.get("/api/test-admin-only", headers=bearer(admin_token))
    assert as_admin.status_code == 200
    assert as_admin.json() == {"admin": admin.id}


# --- events reach JetStream --------------------------------------------------------------


async def auth_subject_counts(platform: Platform) -> dict[str, int]:
    info = await platform.services.bus.js.stream_info("LLMFORGE_AUTH", subjects_filter=">")
    return dict(info.state.subjects or {})


async def test_auth_events_are_published(platform: Platform, client: httpx.AsyncClient) -> None:
    await register(client)
    await login(client, password="wrong password")
    tokens = (await login(client)).json()
    headers = bearer(tokens["access_token"])
    first = tokens["refresh_token"]
    await client.post("/api/auth/refresh", json={"refresh_token": first})
    await client.post("/api/auth/refresh", json={"refresh_token": first})  # reuse
    key = (await client.post("/api/auth/api-keys", json={"name": "k"}, headers=headers)).json()
    await client.delete(f"/api/auth/api-keys/{key['id']}", headers=headers)
    await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "brand new pass"},
        headers=headers,
    )
    expected = {
        f"llmforge.auth.{name}": 1
        for name in (
            "user.registered",
            "login.failed",
            "login.succeeded",
            "refresh_token.reused",
            "api_key.created",
            "api_key.revoked",
            "password.changed",
        )
    }
    counts: dict[str, int] = {}
    for _ in range(200):  # outbox publishing may trail the response briefly
        counts = await auth_subject_counts(platform)
        if counts == expected:
            break
        await asyncio.sleep(0.05)
    assert counts == expected
