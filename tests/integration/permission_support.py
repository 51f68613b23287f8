"""Shared helpers of the permission, route-guard and admin-user tests."""

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


async def make_user(platform: Platform, email: str, role: str = "user") -> str:
    async with platform.services.session_factory() as session:
        user = await create_user(session, email, PASSWORD, role, passwords=CHEAP)
        await session.commit()
        return user.id


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def api_key(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    created = await client.post("/api/auth/api-keys", json={"name": "probe"}, headers=headers)
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['key']}"}


async def admin_session(platform: Platform, client: httpx.AsyncClient) -> dict[str, str]:
    await make_user(platform, "root@example.com", "admin")
    return await login(client, "root@example.com")


def problem_code(response: httpx.Response) -> str | None:
    """The problem's ``code``, or the OpenAI-shaped ``error.code`` of the /v1 routes."""
    body = response.json()
    code = body.get("code") or (body.get("error") or {}).get("code")
    return str(code) if code is not None else None


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll until ``probe`` returns something truthy; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def subject_counts(platform: Platform, stream: str = "LLMFORGE_AUTH") -> dict[str, int]:
    info = await platform.services.bus.js.stream_info(stream, subjects_filter=">")
    return dict(info.state.subjects or {})
