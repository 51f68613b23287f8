"""Provider routes over real HTTP: admin only, keys encrypted at rest and never shown."""

from __future__ import annotations

import logging
import socket
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from runtime.db.models import Provider
from runtime.logging import configure_logging
from runtime.platform import Platform
from runtime.settings import LogSettings
from tests.fakes import FakeOpenAI, Scenario
from tests.integration.gateway_support import add_provider, eventually, login

SECRET = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
OTHER_SECRET = "sk-live-ffffeeeeddddccccbbbbaaaa99998888"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_provider_keys_are_encrypted_and_never_shown(
    platform: Platform, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # The production log pipeline (with its redactor), captured by caplog's handler.
    configure_logging(LogSettings(level="INFO", format="json"))
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    admin = await login(platform, client, "root@example.com", "admin")
    bodies: list[str] = []

    async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await client.request(method, path, headers=admin, **kwargs)
        bodies.append(response.text)
        return response

    created = await add_provider(
        client,
        admin,
        name="Main",
        preset="deepseek",
        api_key=SECRET,
        settings={"x": 1, "headers": {"X-Gateway-Key": OTHER_SECRET}},
    )
    bodies.append(str(created))
    assert created["type"] == "openai-compatible"
    assert created["base_url"] == "https://api.deepseek.com/v1"
    assert created["api_key_hint"] == "sk-live-…6b5c"
    assert created["has_api_key"] is True
    assert created["settings"] == {"x": 1, "headers": {"X-Gateway-Key": "sk-live-…8888"}}
    pid = created["id"]

    async with platform.services.session_factory() as session:
        stored = await session.scalar(select(Provider.api_key_encrypted).where(Provider.id == pid))
    assert stored is not None
    assert SECRET not in stored
    assert stored.startswith("v1:")
    assert platform.services.keyring is not None
    assert platform.services.keyring.decrypt(stored) == SECRET

    assert (await call("GET", "/api/providers")).json()["total"] == 1
    assert (await call("GET", f"/api/providers/{pid}")).json()["name"] == "Main"
    duplicate = await call(
        "POST", "/api/providers", json={"name": "Main", "preset": "openai", "api_key": SECRET}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "provider_name_taken"
    invalid = await call(
        "POST", "/api/providers", json={"name": "X", "api_key": SECRET, "base_url": "ftp://x"}
    )
    assert invalid.status_code == 400
    no_type = await call(
        "POST", "/api/providers", json={"name": "Y", "api_key": SECRET, "base_url": "http://h"}
    )
    assert no_type.json()["code"] == "type_required"

    patched = await call(
        "PATCH", f"/api/providers/{pid}", json={"api_key": OTHER_SECRET, "enabled": False}
    )
    assert patched.json()["api_key_hint"] == "sk-live-…8888"
    assert patched.json()["enabled"] is False
    cleared = await call("PATCH", f"/api/providers/{pid}", json={"api_key": None})
    assert cleared.json()["has_api_key"] is False
    assert cleared.json()["api_key_hint"] is None

    for body in bodies:
        assert SECRET not in body
        assert OTHER_SECRET not in body
    assert "request" in caplog.text  # the logs were captured at all
    assert SECRET not in caplog.text
    assert OTHER_SECRET not in caplog.text

    assert (await call("DELETE", f"/api/providers/{pid}")).status_code == 204
    assert (await call("GET", f"/api/providers/{pid}")).status_code == 404

    async def audited() -> list[str]:
        # The page and its total are separate reads: wait for the items themselves.
        page = (await call("GET", f"/api/admin/audit?subject={pid}")).json()
        types = [e["type"] for e in page["items"]]
        return types if "llmforge.providers.provider.deleted.v1" in types else []

    types = await eventually(audited)
    assert "llmforge.providers.provider.deleted.v1" in types
    assert all(SECRET not in b and OTHER_SECRET not in b for b in bodies)


async def test_presets_for_everyone_providers_for_admins(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    user = await login(platform, client, "user@example.com")
    admin = await login(platform, client, "root@example.com", "admin")
    presets = (await client.get("/api/providers/presets", headers=user)).json()
    by_id = {p["id"]: p for p in presets}
    assert by_id["ollama"]["base_url"] == "http://127.0.0.1:11434/v1"
    assert by_id["ollama"]["requires_key"] is False
    assert {"anthropic", "gemini", "openai", "vllm", "llamacpp"} <= by_id.keys()
    assert (await client.get("/api/providers/presets")).status_code == 401
    for method, path in [("GET", "/api/providers"), ("POST", "/api/providers/x/test")]:
        assert (await client.request(method, path, headers=user)).status_code == 403
    unknown = await client.post(
        "/api/providers", headers=admin, json={"name": "N", "preset": "nope"}
    )
    assert unknown.json()["code"] == "unknown_preset"


async def test_connection_test_types_errors_and_refresh_stores_models(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    admin = await login(platform, client, "root@example.com", "admin")
    good = await add_provider(
        client,
        admin,
        name="Good",
        type="openai-compatible",
        base_url=fake_openai.base_url,
        api_key="test-key",
    )
    bad = await add_provider(
        client,
        admin,
        name="Bad",
        type="openai-compatible",
        base_url=fake_openai.base_url,
        api_key="sk-wrong-key-000000000000",
    )
    gone = await add_provider(
        client,
        admin,
        name="Gone",
        type="openai-compatible",
        base_url=f"http://127.0.0.1:{_free_port()}/v1",
        api_key="test-key",
    )
    ok = (await client.post(f"/api/providers/{good['id']}/test", headers=admin)).json()
    assert ok["ok"] is True
    assert ok["latency_ms"] >= 0
    denied = (await client.post(f"/api/providers/{bad['id']}/test", headers=admin)).json()
    assert denied["ok"] is False
    assert denied["error"] == "auth"
    unreachable = (await client.post(f"/api/providers/{gone['id']}/test", headers=admin)).json()
    assert unreachable["ok"] is False
    assert unreachable["error"] == "unreachable"

    fake_openai.scenario = Scenario(models=["m-1", "m-2", "m-3"])
    refreshed = await client.post(f"/api/providers/{good['id']}/refresh-models", headers=admin)
    assert refreshed.status_code == 200, refreshed.text
    assert [m["id"] for m in refreshed.json()["models"]] == ["m-1", "m-2", "m-3"]
    stored = (await client.get(f"/api/providers/{good['id']}", headers=admin)).json()
    assert [m["id"] for m in stored["available_models"]] == ["m-1", "m-2", "m-3"]
    assert stored["models_synced_at"] is not None
    failed = await client.post(f"/api/providers/{bad['id']}/refresh-models", headers=admin)
    assert failed.status_code == 502
    assert failed.json()["code"] == "provider_auth"
    assert "sk-wrong" not in failed.text
