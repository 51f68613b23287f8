"""Webhook endpoint routes over real HTTP: owner scoping, secrets shown once, validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from handlers.auth import create_user
from runtime.db.models import Webhook
from runtime.platform import Platform
from runtime.security import get_passwords
from runtime.security.passwords import Argon2Params
from runtime.settings import WebhookSettings

PASSWORD = "correct horse battery"
CHEAP = get_passwords(Argon2Params(time_cost=1, memory_kib=1024, parallelism=1))
# Loopback receivers need private targets; retries every 0.2 s keep the tests short.
FAST = {
    "webhooks_allow_private": True,
    "webhooks": WebhookSettings(
        retry_schedule=(0.2, 0.2), timeout_seconds=2.0, disable_after_failures=2
    ),
}


async def login(
    platform: Platform, client: httpx.AsyncClient, email: str, role: str = "user"
) -> tuple[str, dict[str, str]]:
    """Create a user and log in: (user id, Authorization header)."""
    async with platform.services.session_factory() as session:
        user = await create_user(session, email, PASSWORD, role, passwords=CHEAP)
        await session.commit()
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return user.id, {"Authorization": f"Bearer {response.json()['access_token']}"}


async def create_webhook(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, **fields: Any
) -> dict[str, Any]:
    body = {"url": url, "event_types": ["*"], **fields}
    response = await client.post("/api/webhooks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture
async def private_platform(platform_factory: Any) -> Platform:
    platform: Platform = await platform_factory(overrides=FAST)
    return platform


@pytest.fixture
async def http(private_platform: Platform) -> Any:
    async with httpx.AsyncClient(base_url=private_platform.url, timeout=10.0) as client:
        yield client


async def test_secret_is_shown_once_and_stored_encrypted(
    private_platform: Platform, http: httpx.AsyncClient
) -> None:
    _, headers = await login(private_platform, http, "ann@example.com")
    created = await create_webhook(
        http, headers, "http://127.0.0.1:9/hook", event_types=["auth.>"], description="ci"
    )
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["auth.>"]
    read = (await http.get(f"/api/webhooks/{created['id']}", headers=headers)).json()
    listed = (await http.get("/api/webhooks", headers=headers)).json()
    assert "secret" not in read
    assert all("secret" not in w for w in listed["items"])
    assert listed["total"] == 1
    async with private_platform.services.session_factory() as session:
        row = await session.get(Webhook, created["id"])
        assert row is not None
        assert created["secret"] not in row.secret_encrypted

    rotated = await http.post(f"/api/webhooks/{created['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]


async def test_users_see_only_their_endpoints_and_admins_see_all(
    private_platform: Platform, http: httpx.AsyncClient
) -> None:
    _, ann = await login(private_platform, http, "ann@example.com")
    _, bob = await login(private_platform, http, "bob@example.com")
    _, root = await login(private_platform, http, "root@example.com", "admin")
    hook = await create_webhook(http, ann, "http://127.0.0.1:9/a")
    await create_webhook(http, bob, "http://127.0.0.1:9/b")

    assert (await http.get("/api/webhooks", headers=bob)).json()["total"] == 1
    for method, path in [
        ("GET", f"/api/webhooks/{hook['id']}"),
        ("PATCH", f"/api/webhooks/{hook['id']}"),
        ("DELETE", f"/api/webhooks/{hook['id']}"),
        ("POST", f"/api/webhooks/{hook['id']}/test"),
        ("GET", f"/api/webhooks/{hook['id']}/deliveries"),
        ("POST", f"/api/webhooks/{hook['id']}/rotate-secret"),
    ]:
        response = await http.request(method, path, headers=bob, json={})
        assert response.status_code == 404, (method, path)
        assert (await http.request(method, path, json={})).status_code == 401

    assert (await http.get("/api/webhooks", headers=root)).json()["total"] == 2
    patched = await http.patch(f"/api/webhooks/{hook['id']}", headers=root, json={"enabled": False})
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False
    assert (await http.delete(f"/api/webhooks/{hook['id']}", headers=ann)).status_code == 204
    assert (await http.get(f"/api/webhooks/{hook['id']}", headers=ann)).status_code == 404


BAD_BODIES = [
    ({"url": "ftp://example.com/x", "event_types": ["*"]}, "webhook_url_invalid"),
    ({"url": "http://u:p@example.com/x", "event_types": ["*"]}, "webhook_url_invalid"),
    ({"url": "http://127.0.0.1:9/x", "event_types": ["auth.>.x"]}, "webhook_filter_invalid"),
    ({"url": "http://127.0.0.1:9/x", "event_types": ["Auth User"]}, "webhook_filter_invalid"),
    ({"url": "http://127.0.0.1:9/x", "event_types": []}, "validation_failed"),
]
# Loopback, RFC 1918, cloud metadata, IPv6 loopback, IPv4-mapped IPv6 (127.0.0.1 and
# 169.254.169.254), a name resolving to loopback, and 127.0.0.1 written as one number.
PRIVATE_URLS = [
    "http://127.0.0.1/x",
    "http://10.1.2.3/x",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://[::ffff:a9fe:a9fe]/x",
    "http://localhost:8080/x",
    "http://2130706433/x",
]


async def test_bad_endpoints_are_refused_with_a_problem(
    private_platform: Platform, http: httpx.AsyncClient
) -> None:
    _, headers = await login(private_platform, http, "ann@example.com")
    for body, code in BAD_BODIES:
        response = await http.post("/api/webhooks", json=body, headers=headers)
        assert response.status_code in (400, 422), response.text
        assert response.json()["code"] == code, body
    assert (await http.get("/api/webhooks", headers=headers)).json()["total"] == 0


async def test_private_targets_are_refused_when_private_is_off(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    _, headers = await login(platform, client, "ann@example.com")
    for url in PRIVATE_URLS:
        response = await client.post(
            "/api/webhooks", json={"url": url, "event_types": ["*"]}, headers=headers
        )
        assert response.status_code == 422, (url, response.text)
        assert response.json()["code"] == "webhook_url_forbidden", url
    hook = await client.post(
        "/api/webhooks",
        json={"url": "http://93.184.215.14/x", "event_types": ["*"]},
        headers=headers,
    )
    assert hook.status_code == 201
    moved = await client.patch(
        f"/api/webhooks/{hook.json()['id']}", json={"url": "http://10.0.0.1/"}, headers=headers
    )
    assert moved.status_code == 422
