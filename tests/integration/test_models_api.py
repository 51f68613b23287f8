"""Model config routes: validation, unique aliases, who sees what, cascade with providers."""

from __future__ import annotations

import httpx

from runtime.db.models import ModelConfig
from runtime.platform import Platform
from tests.integration.gateway_support import add_model, add_provider, login


async def test_model_configs_validate_and_show_users_only_what_is_served(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await login(platform, client, "root@example.com", "admin")
    user = await login(platform, client, "user@example.com")
    provider = await add_provider(client, admin, name="P", preset="ollama")
    pid = provider["id"]
    model = await add_model(
        client,
        admin,
        provider_id=pid,
        model_id="qwen3:8b",
        alias="qwen3",
        capabilities={"reasoning": True, "context_window": 32768},
        parameters={"temperature": 0.6, "max_tokens": 512},
        input_price_per_mtok=0.5,
        output_price_per_mtok=1.5,
    )
    assert model["name"] == "qwen3"
    assert model["capabilities"] == {
        "reasoning": True,
        "vision": False,
        "tools": False,
        "context_window": 32768,
    }
    assert model["parameters"] == {"temperature": 0.6, "max_tokens": 512}
    hidden = await add_model(
        client, admin, provider_id=pid, model_id="m", alias="org/hidden:v1", enabled=False
    )

    bad = [
        ({"provider_id": pid, "model_id": "x", "alias": "qwen3"}, 409, "alias_taken"),
        ({"provider_id": "nope", "model_id": "x", "alias": "a"}, 400, "unknown_provider"),
        ({"provider_id": pid, "model_id": "x", "alias": "has space"}, 400, "validation_failed"),
        (
            {"provider_id": pid, "model_id": "x", "alias": "t", "parameters": {"temperature": 9}},
            400,
            "validation_failed",
        ),
    ]
    for body, status, code in bad:
        response = await client.post("/api/models", json=body, headers=admin)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert (await client.post("/api/models", json={}, headers=user)).status_code == 403

    async with platform.services.session_factory() as session:
        # A local base model (no provider): users list it to fine-tune it.
        session.add(ModelConfig(alias="smollm2", model_id="smollm2", name="S", kind="local"))
        await session.commit()
    as_user = (await client.get("/api/models", headers=user)).json()
    assert [m["alias"] for m in as_user["items"]] == ["qwen3", "smollm2"]
    assert (await client.get(f"/api/models/{hidden['id']}", headers=user)).status_code == 404
    as_admin = (await client.get("/api/models?limit=1", headers=admin)).json()
    assert (as_admin["total"], len(as_admin["items"]), as_admin["limit"]) == (3, 1, 1)

    changed = await client.patch(
        f"/api/models/{model['id']}",
        headers=admin,
        json={"alias": "qwen3-fast", "input_price_per_mtok": None, "parameters": {"top_p": 0.9}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["alias"] == "qwen3-fast"
    assert changed.json()["input_price_per_mtok"] is None
    assert changed.json()["output_price_per_mtok"] == 1.5
    clash = await client.patch(
        f"/api/models/{model['id']}", headers=admin, json={"alias": "org/hidden:v1"}
    )
    assert clash.status_code == 409

    assert (await client.delete(f"/api/models/{hidden['id']}", headers=admin)).status_code == 204
    assert (await client.get(f"/api/models/{hidden['id']}", headers=admin)).status_code == 404

    # Disabling the provider hides its models from users; deleting it removes them.
    await client.patch(f"/api/providers/{pid}", headers=admin, json={"enabled": False})
    listed = (await client.get("/api/models", headers=user)).json()["items"]
    assert [m["alias"] for m in listed] == ["smollm2"]
    assert (await client.delete(f"/api/providers/{pid}", headers=admin)).status_code == 204
    listed = (await client.get("/api/models", headers=admin)).json()["items"]
    assert [m["alias"] for m in listed] == ["smollm2"]
