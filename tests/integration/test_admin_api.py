"""Admin routes over real HTTP: guarded and effective at once (audit log: test_audit_api)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from handlers.auth import create_user
from runtime.platform import Platform
from runtime.security import get_passwords
from runtime.security.passwords import Argon2Params

PASSWORD = "correct horse battery"
CHEAP = get_passwords(Argon2Params(time_cost=1, memory_kib=1024, parallelism=1))


async def _make_user(platform: Platform, email: str, role: str = "user") -> str:
    async with platform.services.session_factory() as session:
        user = await create_user(session, email, PASSWORD, role, passwords=CHEAP)
        await session.commit()
        return user.id


async def _token(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_user_cannot_reach_admin_routes(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    await _make_user(platform, "user@example.com")
    headers = await _token(client, "user@example.com")
    for method, path in [
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/users"),
        ("PATCH", "/api/admin/users/x"),
        ("POST", "/api/admin/users/x/reset-password"),
        ("GET", "/api/admin/roles"),
        ("POST", "/api/admin/roles"),
        ("GET", "/api/admin/permissions"),
    ]:
        anonymous = await client.request(method, path, json={})
        assert anonymous.status_code == 401, path
        forbidden = await client.request(method, path, headers=headers, json={})
        assert forbidden.status_code == 403, path
        assert forbidden.json()["code"] == "permission_required"


async def test_admin_lists_and_searches_users(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    await _make_user(platform, "root@example.com", "admin")
    for i in range(3):
        await _make_user(platform, f"member{i}@example.com")
    headers = await _token(client, "root@example.com")
    page = (await client.get("/api/admin/users?limit=2", headers=headers)).json()
    assert page["total"] == 4
    assert len(page["items"]) == 2
    found = (await client.get("/api/admin/users?q=MEMBER1", headers=headers)).json()
    assert [u["email"] for u in found["items"]] == ["member1@example.com"]
    bad = await client.get("/api/admin/users?limit=0", headers=headers)
    assert bad.status_code == 400


async def test_disabling_a_user_stops_their_tokens_at_once(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    await _make_user(platform, "root@example.com", "admin")
    victim = await _make_user(platform, "victim@example.com")
    admin = await _token(client, "root@example.com")
    victim_headers = await _token(client, "victim@example.com")
    assert (await client.get("/api/auth/me", headers=victim_headers)).status_code == 200

    response = await client.patch(
        f"/api/admin/users/{victim}", headers=admin, json={"is_active": False}
    )
    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    assert (await client.get("/api/auth/me", headers=victim_headers)).status_code == 401
    relogin = await client.post(
        "/api/auth/login", json={"email": "victim@example.com", "password": PASSWORD}
    )
    assert relogin.status_code == 401


async def test_admin_cannot_demote_or_disable_themselves(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    me = await _make_user(platform, "root@example.com", "admin")
    headers = await _token(client, "root@example.com")
    for change in ({"role": "user"}, {"is_active": False}):
        response = await client.patch(f"/api/admin/users/{me}", headers=headers, json=change)
        assert response.status_code == 409
    unknown = await client.patch("/api/admin/users/nope", headers=headers, json={"role": "user"})
    assert unknown.status_code == 404
    invalid = await client.patch(f"/api/admin/users/{me}", headers=headers, json={"role": "god"})
    assert invalid.status_code == 400
