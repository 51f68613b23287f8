"""Dify's External Knowledge API: Dify-shaped requests get Dify-shaped answers and errors."""

from __future__ import annotations

from typing import Any

import httpx

from runtime.platform import Platform
from tests.integration import knowledge_support
from tests.integration.gateway_support import login, personal_key
from tests.integration.knowledge_support import (
    create_kb,
    indexed,
)

# The shared fixtures: a platform whose model cache outlives the test, and its client.
kb_platform = knowledge_support.kb_platform
kb_client = knowledge_support.kb_client

URL = "/api/dify/retrieval"


def _body(
    kb_id: str, query: str = "What is the Zephyr-9 reactor cooled with?", **extra: Any
) -> dict[str, Any]:
    return {
        "knowledge_id": kb_id,
        "query": query,
        "retrieval_setting": {"top_k": 3, "score_threshold": 0.1},
        **extra,
    }


async def test_dify_retrieval_returns_records_from_the_knowledge_base(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    headers = await login(kb_platform, kb_client, "ada@example.com")
    key = await personal_key(kb_client, headers)
    kb = await create_kb(kb_client, headers)
    doc = await indexed(kb_client, headers, kb["id"], "zephyr_reactor.md")
    await indexed(kb_client, headers, kb["id"], "cooling_systems.html")
    dify = {"Authorization": f"Bearer {key}"}

    response = await kb_client.post(URL, headers=dify, json=_body(kb["id"]))
    assert response.status_code == 200, response.text
    records = response.json()["records"]
    assert 1 <= len(records) <= 3
    top = records[0]
    assert set(top) == {"content", "score", "title", "metadata"}
    assert "gallium" in top["content"]
    assert top["title"] == "zephyr_reactor.md"
    assert top["metadata"]["document_id"] == doc["id"]
    assert all(r["score"] >= 0.1 and isinstance(r["metadata"], dict) for r in records)

    # Dify's metadata filters map onto the chunks' source metadata.
    only_html = _body(
        kb["id"],
        metadata_condition={
            "logical_operator": "and",
            "conditions": [
                {
                    "name": ["heading"],
                    "comparison_operator": "is",
                    "value": "Cooling systems in power plants > Sodium-cooled designs",
                }
            ],
        },
    )
    filtered = (await kb_client.post(URL, headers=dify, json=only_html)).json()["records"]
    assert [r["title"] for r in filtered] == ["cooling_systems.html"]
    strict = await kb_client.post(
        URL,
        headers=dify,
        json={**_body(kb["id"]), "retrieval_setting": {"top_k": 3, "score_threshold": 0.99}},
    )
    assert strict.json() == {"records": []}


async def test_dify_errors_use_difys_codes(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    ada = await login(kb_platform, kb_client, "ada@example.com")
    bob = await login(kb_platform, kb_client, "bob@example.com")
    ada_key, bob_key = await personal_key(kb_client, ada), await personal_key(kb_client, bob)
    kb = await create_kb(kb_client, ada)

    async def call(headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        response = await kb_client.post(URL, headers=headers, json=body)
        return response.status_code, response.json()

    status, body = await call({}, _body(kb["id"]))
    assert (status, body["error_code"]) == (403, 1001)
    assert body["error_msg"]
    status, body = await call({"Authorization": f"Basic {ada_key}"}, _body(kb["id"]))
    assert (status, body["error_code"]) == (403, 1001)
    status, body = await call({"Authorization": "Bearer lf_not_a_real_key_000000"}, _body(kb["id"]))
    assert (status, body["error_code"]) == (403, 1002)
    # A login token is not an API key: Dify is configured with a key.
    status, body = await call(ada, _body(kb["id"]))
    assert (status, body["error_code"]) == (403, 1002)
    status, body = await call({"Authorization": f"Bearer {ada_key}"}, _body("no-such-kb"))
    assert (status, body) == (
        404,
        {"error_code": 2001, "error_msg": "The knowledge does not exist."},
    )
    # Someone else's private base does not exist, as far as bob can tell.
    status, body = await call({"Authorization": f"Bearer {bob_key}"}, _body(kb["id"]))
    assert (status, body["error_code"]) == (404, 2001)
    status, body = await call({"Authorization": f"Bearer {ada_key}"}, {"knowledge_id": kb["id"]})
    assert (status, body["error_code"]) == (400, 4000)
    unsupported = _body(
        kb["id"],
        metadata_condition={
            "conditions": [{"name": "heading", "comparison_operator": "contains", "value": "x"}]
        },
    )
    status, body = await call({"Authorization": f"Bearer {ada_key}"}, unsupported)
    assert (status, body["error_code"]) == (400, 4000)
    assert "contains" in body["error_msg"]
    # An empty base answers with no records rather than an error.
    status, body = await call({"Authorization": f"Bearer {ada_key}"}, _body(kb["id"]))
    assert (status, body) == (200, {"records": []})
