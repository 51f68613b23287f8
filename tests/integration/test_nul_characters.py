"""NUL characters are a 400 on both databases (PostgreSQL cannot store them in text)."""

from __future__ import annotations

import httpx
import pytest

from runtime.platform import Platform
from tests.integration.permission_support import admin_session, problem_code


async def test_nul_in_a_path_query_or_json_body_is_a_400_problem(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    calls = [
        client.get("/api/prompts/a%00b", headers=admin),
        client.get("/api/webhooks/x%00", headers=admin),
        client.get("/api/admin/users", params={"q": "x\x00"}, headers=admin),
        client.post("/api/prompts", headers=admin, json={"name": "a\x00b", "body": "x"}),
        client.post("/api/knowledge-bases", headers=admin, json={"name": "kb\x00"}),
        # Public routes too: nothing reaches the database.
        client.post("/api/auth/login", json={"email": "a\x00@x.com", "password": "p" * 12}),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 400, (response.url, response.text)
        assert problem_code(response) == "nul_character"
    # Nothing was written by the refused ones.
    listed = await client.get("/api/knowledge-bases", headers=admin)
    assert listed.json()["total"] == 0


@pytest.mark.parametrize(
    "text",
    [
        "a backslash then u0000: \\u0000",  # JSON "\\\\u0000": no NUL in the string
        "nothing odd",
    ],
)
async def test_text_that_only_looks_like_an_escape_is_accepted(
    platform: Platform, client: httpx.AsyncClient, text: str
) -> None:
    admin = await admin_session(platform, client)
    created = await client.post("/api/prompts", headers=admin, json={"name": "n", "body": text})
    assert created.status_code == 201, created.text
    assert created.json()["body"] == text


async def test_nul_in_an_uploads_form_field_is_a_400_and_nothing_is_kept(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    admin = await admin_session(platform, client)
    records = b'[{"instruction": "2+2?", "input": "", "output": "4"}]'
    response = await client.post(
        "/api/datasets",
        headers=admin,
        files={"file": ("math.json", records, "application/json")},
        data={"name": "math\x00"},
    )
    assert response.status_code == 400, response.text
    assert problem_code(response) == "nul_character"
    assert (await client.get("/api/datasets", headers=admin)).json()["total"] == 0
