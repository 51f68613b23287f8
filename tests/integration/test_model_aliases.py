"""Stable aliases: promote, /v1 switches at once, roll back, history, events, permissions."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from runtime.platform import Platform, Roles
from runtime.settings import Settings
from tests.fixtures.app import PlatformFactory
from tests.integration.evaluation_support import ScriptedFake, chat, fake_models
from tests.integration.gateway_support import eventually, login, personal_key

Env = tuple[Platform, httpx.AsyncClient, dict[str, str], dict[str, str], str, dict[str, str]]


@pytest.fixture
async def fake() -> AsyncIterator[ScriptedFake]:
    async with ScriptedFake({"model-one": "Answer one.", "model-two": "Answer two."}) as server:
        yield server


@pytest.fixture
async def env(platform: Platform, fake: ScriptedFake) -> AsyncIterator[Env]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=20) as client:
        admin = await login(platform, client, "root@example.com", "admin")
        user = await login(platform, client, "user@example.com")
        key = await personal_key(client, user)
        ids = await fake_models(client, admin, fake)
        yield platform, client, admin, user, key, ids


async def _promote(
    client: httpx.AsyncClient, headers: dict[str, str], alias: str, config_id: str
) -> httpx.Response:
    return await client.put(
        f"/api/models/aliases/{alias}", json={"model_config_id": config_id}, headers=headers
    )


async def _answer(client: httpx.AsyncClient, key: str, model: str) -> tuple[str, str]:
    response = await chat(client, key, model)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["model"], body["choices"][0]["message"]["content"]


async def test_promote_switches_v1_at_once_and_rollback_goes_back(
    env: Env, fake: ScriptedFake
) -> None:
    _, client, admin, _, key, ids = env
    missing = await chat(client, key, "assistant")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"

    created = await _promote(client, admin, "assistant", ids["model-one"])
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["target"] == {
        "model_config_id": ids["model-one"],
        "alias": "model-one",
        "name": "model-one",
        "servable": True,
    }
    assert body["previous"] == []
    # The response names the config that answered, as OpenAI names a snapshot.
    assert await _answer(client, key, "assistant") == ("model-one", "Answer one.")

    moved = await _promote(client, admin, "assistant", ids["model-two"])
    assert moved.status_code == 200
    assert moved.json()["previous"] == [ids["model-one"]]
    # No waiting: the promoting process dropped its cached resolution after the commit.
    assert await _answer(client, key, "assistant") == ("model-two", "Answer two.")
    assert fake.chat_requests("model-two")

    same = await _promote(client, admin, "assistant", ids["model-two"])
    assert same.status_code == 200
    assert same.json()["previous"] == [ids["model-one"]]

    back = await client.post("/api/models/aliases/assistant/rollback", headers=admin)
    assert back.status_code == 200, back.text
    assert back.json()["target"]["model_config_id"] == ids["model-one"]
    assert back.json()["previous"] == []
    assert await _answer(client, key, "assistant") == ("model-one", "Answer one.")

    again = await client.post("/api/models/aliases/assistant/rollback", headers=admin)
    assert again.status_code == 409
    assert again.json()["code"] == "nothing_to_roll_back"

    history = await client.get("/api/models/aliases/assistant/history", headers=admin)
    steps = [
        (h["action"], h["model_config_id"], h["previous_model_config_id"])
        for h in history.json()["items"]
    ]
    assert steps == [
        ("rolled_back", ids["model-one"], ids["model-two"]),
        ("promoted", ids["model-two"], ids["model-one"]),
        ("promoted", ids["model-one"], None),
    ]

    listed = (await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})).json()
    assert {"assistant", "model-one", "model-two"} <= {m["id"] for m in listed["data"]}
    aliases = (await client.get("/api/models/aliases", headers=admin)).json()["items"]
    assert [(a["alias"], a["target"]["model_config_id"]) for a in aliases] == [
        ("assistant", ids["model-one"])
    ]


async def test_every_step_is_an_event_in_the_audit_log(env: Env) -> None:
    _, client, admin, _, _, ids = env
    assert (await _promote(client, admin, "prod", ids["model-one"])).status_code == 201
    assert (await _promote(client, admin, "prod", ids["model-two"])).status_code == 200
    assert (
        await client.post("/api/models/aliases/prod/rollback", headers=admin)
    ).status_code == 200
    me = (await client.get("/api/auth/me", headers=admin)).json()["id"]
    history = (await client.get("/api/models/aliases/prod/history", headers=admin)).json()

    async def audited() -> list[dict[str, Any]] | None:
        page = (
            await client.get(
                "/api/admin/audit", params={"type": "llmforge.providers.model."}, headers=admin
            )
        ).json()
        # The page and its total are separate reads: wait for the items themselves.
        items: list[dict[str, Any]] = page["items"]
        return items if len(items) == 3 else None

    items = await eventually(audited)
    assert [i["type"] for i in items] == [
        "llmforge.providers.model.rolled_back.v1",
        "llmforge.providers.model.promoted.v1",
        "llmforge.providers.model.promoted.v1",
    ]
    assert all(i["actor"] == me and i["subject"] == "prod" for i in items)
    assert items[0]["data"] == {
        "alias": "prod",
        "model_config_id": ids["model-one"],
        "previous_model_config_id": ids["model-two"],
    }
    # The history row names the event the audit log (and webhooks) got.
    assert [h["event_id"] for h in history["items"]] == [i["id"] for i in items]


async def test_only_admins_promote_and_roll_back(env: Env) -> None:
    _, client, admin, user, _, ids = env
    refused = await _promote(client, user, "assistant", ids["model-one"])
    assert refused.status_code == 403
    assert (await _promote(client, admin, "assistant", ids["model-one"])).status_code == 201
    rollback = await client.post("/api/models/aliases/assistant/rollback", headers=user)
    assert rollback.status_code == 403
    history = await client.get("/api/models/aliases/assistant/history", headers=user)
    assert history.status_code == 403
    # Everyone who chats may see which aliases exist.
    assert (await client.get("/api/models/aliases", headers=user)).status_code == 200


async def test_bad_promotions_are_refused_with_clear_codes(env: Env) -> None:
    _, client, admin, _, _, ids = env

    async def code(alias: str, config_id: str) -> tuple[int, str]:
        response = await _promote(client, admin, alias, config_id)
        return response.status_code, response.json().get("code")

    assert await code("assistant", "nope") == (422, "unknown_model_config")
    # A stable alias is resolved first: taking another config's alias would hide it.
    assert await code("model-two", ids["model-one"]) == (409, "alias_taken")
    disabled = await client.patch(
        f"/api/models/{ids['model-two']}", json={"enabled": False}, headers=admin
    )
    assert disabled.status_code == 200
    assert await code("assistant", ids["model-two"]) == (409, "model_not_servable")
    assert await code("has space", ids["model-one"]) == (400, "invalid_alias")
    # A config promoted under its own alias changes nothing for clients: allowed.
    assert (await _promote(client, admin, "model-one", ids["model-one"])).status_code == 201

    assert (await _promote(client, admin, "assistant", ids["model-one"])).status_code == 201
    taken = await client.post(
        "/api/models",
        json={
            "provider_id": (
                await client.get(f"/api/models/{ids['model-one']}", headers=admin)
            ).json()["provider_id"],
            "model_id": "x",
            "alias": "assistant",
        },
        headers=admin,
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "alias_taken"


async def test_other_replicas_drop_the_alias_at_once_despite_a_long_cache(
    platform_factory: PlatformFactory, fake: ScriptedFake
) -> None:
    one = await platform_factory()
    # A cache that would keep the old target for minutes: only the broadcast can help.
    long_cache = {"llm": dataclasses.replace(Settings().llm, resolve_cache_ttl_seconds=300.0)}
    two = await platform_factory(Roles(consumers=False), overrides=long_cache)
    async with (
        httpx.AsyncClient(base_url=one.url, timeout=20) as first,
        httpx.AsyncClient(base_url=two.url, timeout=20) as second,
    ):
        admin = await login(one, first, "root@example.com", "admin")
        key = await personal_key(first, admin)
        ids = await fake_models(first, admin, fake)
        assert (await _promote(first, admin, "assistant", ids["model-one"])).status_code == 201
        assert await _answer(second, key, "assistant") == ("model-one", "Answer one.")
        assert (await _promote(first, admin, "assistant", ids["model-two"])).status_code == 200

        async def switched() -> bool:
            return await _answer(second, key, "assistant") == ("model-two", "Answer two.")

        await eventually(switched, timeout=10)


async def test_deleted_targets_leave_the_alias_answering_404_until_a_new_promotion(
    env: Env,
) -> None:
    _, client, admin, _, key, ids = env
    assert (await _promote(client, admin, "assistant", ids["model-one"])).status_code == 201
    assert (await _promote(client, admin, "assistant", ids["model-two"])).status_code == 200
    gone = await client.delete(f"/api/models/{ids['model-one']}", headers=admin)
    assert gone.status_code == 204
    refused = await client.post("/api/models/aliases/assistant/rollback", headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (409, "previous_target_gone")

    assert (
        await client.delete(f"/api/models/{ids['model-two']}", headers=admin)
    ).status_code == 204
    (alias,) = (await client.get("/api/models/aliases", headers=admin)).json()["items"]
    assert alias["target"] is None

    async def not_found() -> bool:
        return (await chat(client, key, "assistant")).status_code == 404

    await eventually(not_found)  # the resolver's cache lets the old target live a moment
