"""Prompt templates over real HTTP on both databases: validation, versions, search, sharing."""

from __future__ import annotations

from typing import Any

import httpx

from handlers.auth import create_user
from runtime.platform import Platform
from runtime.security import get_passwords
from runtime.security.passwords import Argon2Params

PASSWORD = "correct horse battery"
CHEAP = get_passwords(Argon2Params(time_cost=1, memory_kib=1024, parallelism=1))

SUMMARY = {
    "name": "Summarizer",
    "description": "Summarize a text for a reader",
    "category": "writing",
    "tags": ["summary", "en"],
    "body": "Summarize the following for {{audience}} in {{language}}:\n\n{{text}}",
    "variables": [
        {"name": "audience", "description": "who reads it", "default": "engineers"},
        {"name": "language", "default": "English"},
        {"name": "text", "required": True},
    ],
}


async def _login(
    platform: Platform, client: httpx.AsyncClient, email: str, role: str = "user"
) -> dict[str, str]:
    async with platform.services.session_factory() as session:
        await create_user(session, email, PASSWORD, role, passwords=CHEAP)
        await session.commit()
    response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], **changes: Any
) -> dict[str, Any]:
    response = await client.post("/api/prompts", headers=headers, json={**SUMMARY, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_template_with_mismatched_variables_is_refused_and_nothing_is_saved(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    headers = await _login(platform, client, "ada@example.com")
    response = await client.post(
        "/api/prompts",
        headers=headers,
        json={**SUMMARY, "variables": [{"name": "audience"}, {"name": "unused"}]},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_template_variables"
    names = {(e["field"], e["name"]) for e in body["errors"]}
    assert names == {("body", "language"), ("body", "text"), ("variables", "unused")}
    listing = (await client.get("/api/prompts", headers=headers)).json()
    assert listing["total"] == 0


async def test_every_edit_keeps_a_version_that_can_be_diffed_and_restored(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    headers = await _login(platform, client, "ada@example.com")
    created = await _create(client, headers)
    tid = created["id"]
    assert created["version"] == 1

    edited = await client.patch(
        f"/api/prompts/{tid}",
        headers=headers,
        json={"body": "TL;DR for {{audience}} in {{language}}: {{text}}", "note": "shorter"},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    # An edit that changes nothing makes no version.
    same = await client.patch(f"/api/prompts/{tid}", headers=headers, json={"name": "Summarizer"})
    assert same.json()["version"] == 2
    broken = await client.patch(f"/api/prompts/{tid}", headers=headers, json={"body": "{{nope}}"})
    assert broken.status_code == 400
    assert (await client.get(f"/api/prompts/{tid}", headers=headers)).json()["version"] == 2

    versions = (await client.get(f"/api/prompts/{tid}/versions", headers=headers)).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["note"] == "shorter"
    diff = (await client.get(f"/api/prompts/{tid}/diff?from=1&to=2", headers=headers)).json()
    assert diff["changed"] == ["body"]
    assert "-Summarize the following" in diff["body_diff"]
    assert "+TL;DR for" in diff["body_diff"]

    restored = await client.post(f"/api/prompts/{tid}/versions/1/restore", headers=headers)
    assert restored.status_code == 200
    assert restored.json()["version"] == 3
    assert restored.json()["body"] == SUMMARY["body"]
    missing = await client.get(f"/api/prompts/{tid}/versions/9", headers=headers)
    assert missing.status_code == 404


async def test_render_fills_defaults_and_reports_missing_variables(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    headers = await _login(platform, client, "ada@example.com")
    tid = (await _create(client, headers))["id"]
    partial = (
        await client.post(f"/api/prompts/{tid}/render", headers=headers, json={"variables": {}})
    ).json()
    assert partial["complete"] is False
    assert partial["missing"] == ["text"]
    full = (
        await client.post(
            f"/api/prompts/{tid}/render",
            headers=headers,
            json={"variables": {"text": "NATS is a broker.", "language": "中文"}},
        )
    ).json()
    assert full == {
        "text": "Summarize the following for engineers in 中文:\n\nNATS is a broker.",
        "complete": True,
        "missing": [],
        "unknown": [],
    }


async def test_search_by_words_category_and_tag_on_both_databases(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    headers = await _login(platform, client, "ada@example.com")
    await _create(client, headers)
    await _create(
        client,
        headers,
        name="Translator",
        description="Translate between languages",
        category="language",
        tags=["translation"],
        body="Translate {{text}} into {{language}} for {{audience}}",
    )

    async def names(query: str) -> list[str]:
        page = (await client.get(f"/api/prompts?{query}", headers=headers)).json()
        return [t["name"] for t in page["items"]]

    assert await names("q=summ") == ["Summarizer"]
    assert await names("q=translate%20languages") == ["Translator"]
    assert sorted(await names("q=audience")) == ["Summarizer", "Translator"]
    assert await names("q=nothing-like-this") == []
    assert await names("q=%22%29%20OR%20*") == []  # query syntax is not injectable
    assert await names("category=language") == ["Translator"]
    assert await names("tag=summary") == ["Summarizer"]
    assert await names("q=audience&tag=translation") == ["Translator"]


async def test_private_templates_stay_private_and_only_admins_publish(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    ada = await _login(platform, client, "ada@example.com")
    bob = await _login(platform, client, "bob@example.com")
    admin = await _login(platform, client, "root@example.com", "admin")
    private = await _create(client, ada)

    refused = await client.post("/api/prompts", headers=ada, json={**SUMMARY, "shared": True})
    assert refused.status_code == 403
    shared = await _create(client, admin, name="House style", shared=True)

    for path in (f"/api/prompts/{private['id']}", f"/api/prompts/{private['id']}/versions"):
        assert (await client.get(path, headers=bob)).status_code == 404
    assert (await client.delete(f"/api/prompts/{private['id']}", headers=bob)).status_code == 404
    bob_list = (await client.get("/api/prompts", headers=bob)).json()
    assert [t["name"] for t in bob_list["items"]] == ["House style"]
    # Bob can use a shared template but not change it.
    assert (await client.get(f"/api/prompts/{shared['id']}", headers=bob)).status_code == 200
    edit = await client.patch(f"/api/prompts/{shared['id']}", headers=bob, json={"name": "Mine"})
    assert edit.status_code == 403

    assert (await client.delete(f"/api/prompts/{private['id']}", headers=ada)).status_code == 204
    assert (await client.get(f"/api/prompts/{private['id']}", headers=ada)).status_code == 404
