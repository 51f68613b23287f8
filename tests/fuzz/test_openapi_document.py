"""The served OpenAPI document says what the API answers (what the fuzzer holds it to)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runtime.platform import Platform
from tests.integration.permission_support import admin_session


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_errors_are_documented_in_each_route_familys_format(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    paths = (await _document(client))["paths"]

    def bad_request(path: str, method: str) -> dict[str, Any]:
        content: dict[str, Any] = paths[path][method]["responses"]["400"]["content"]
        return content

    assert bad_request("/api/prompts", "post") == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert bad_request("/v1/chat/completions", "post") == {
        "application/json": {"schema": {"$ref": "#/components/schemas/OpenAIError"}}
    }
    assert bad_request("/api/dify/retrieval", "post") == {
        "application/json": {"schema": {"$ref": "#/components/schemas/DifyError"}}
    }
    # And the problem the API really sends matches it.
    admin = await admin_session(platform, client)
    answer = await client.post("/api/prompts", headers=admin, json={"name": 1})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert {"type", "title", "status", "code"} <= set(answer.json())


async def test_streams_formats_and_empty_answers_are_declared(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    document = await _document(client)
    paths = document["paths"]
    stream = paths["/api/chat/sessions/{session_id}/messages"]["post"]["responses"]["200"]
    assert list(stream["content"]) == ["text/event-stream"]
    export = paths["/api/chat/sessions/{session_id}/export"]["get"]["responses"]["200"]
    assert list(export["content"]) == ["text/markdown", "application/json"]
    raw = paths["/api/chat/messages/{message_id}/raw"]["get"]["responses"]["200"]
    assert list(raw["content"]) == ["text/markdown"]
    logout = paths["/api/auth/logout"]["post"]["responses"]["204"]
    assert "content" not in logout
    # The document is corrected once and served the same way by every schema route.
    assert (await client.get("/schema/openapi.json")).json() == document
    assert "Problem" in (await client.get("/schema/openapi.yaml")).text


async def test_text_answers_name_their_charset_once(
    platform: Platform, client: httpx.AsyncClient
) -> None:
    metrics = await client.get("/metrics")
    assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
