"""An API process beside the knowledge owner: search and delete over the embedded store.

Only the process running the knowledge consumers opens Qdrant Edge's files; this API-only
process reaches them over NATS (``runtime/vectors/remote.py``) without a Qdrant server.
"""

from __future__ import annotations

import httpx

from runtime.platform import Roles
from runtime.vectors.remote import RemoteVectorStore
from tests.fixtures.app import PlatformFactory
from tests.integration.gateway_support import login
from tests.integration.knowledge_support import create_kb, indexed, knowledge_settings


async def test_an_api_replica_searches_and_deletes_through_the_owner(
    platform_factory: PlatformFactory,
) -> None:
    overrides = {"knowledge": knowledge_settings()}
    owner = await platform_factory(overrides=overrides)
    replica = await platform_factory(Roles(consumers=False), overrides=overrides)
    assert replica.services is not None
    assert isinstance(replica.services.vectors, RemoteVectorStore)
    async with (
        httpx.AsyncClient(base_url=owner.url, timeout=30.0) as at_owner,
        httpx.AsyncClient(base_url=replica.url, timeout=30.0) as at_replica,
    ):
        headers = await login(owner, at_owner, "ada@example.com")
        kb = await create_kb(at_replica, headers, name="research")
        doc = await indexed(at_replica, headers, kb["id"], "zephyr_reactor.md")

        found = await at_replica.post(
            f"/api/knowledge-bases/{kb['id']}/search",
            headers=headers,
            json={"query": "What is the Zephyr-9 reactor cooled with?", "top_k": 2},
        )
        assert found.status_code == 200, found.text
        top = found.json()["results"][0]
        assert "gallium" in top["text"]
        assert top["document_id"] == doc["id"]

        gone = await at_replica.delete(
            f"/api/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=headers
        )
        assert gone.status_code == 204, gone.text
        assert owner.services is not None
        assert owner.services.vectors is not None
        assert await owner.services.vectors.count(document_id=doc["id"]) == 0
