"""Helpers of the provider, model and /v1 tests: users, keys, providers, bounded polls."""

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


async def login(
    platform: Platform, client: httpx.AsyncClient, email: str, role: str = "user"
) -> dict[str, str]:
    """Create the user and return its Authorization header."""
    async with platform.services.session_factory() as session:
        await create_user(session, email, PASSWORD, role, passwords=CHEAP)
        await session.commit()
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def personal_key(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/api/auth/api-keys", json={"name": "sdk"}, headers=headers)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def add_provider(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post("/api/providers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add_model(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post("/api/models", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def serve_fake(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    base_url: str,
    *,
    alias: str = "fast",
    settings: dict[str, Any] | None = None,
    **model: Any,
) -> dict[str, Any]:
    """An OpenAI-compatible provider on a fake at ``base_url`` and a model ``alias`` (its
    upstream id ``up-1``) on it; returns the model config."""
    provider = await add_provider(
        client,
        headers,
        name="Fake",
        type="openai-compatible",
        base_url=base_url,
        api_key="test-key",
        settings=settings or {},
    )
    return await add_model(
        client, headers, provider_id=provider["id"], model_id="up-1", alias=alias, **model
    )


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Bounded poll: the probe's first truthy result."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
