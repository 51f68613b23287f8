"""Knowledge bases over real HTTP: upload, index with the real model, search, SSE, delete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from runtime.platform import Platform
from runtime.vectors import point_id
from tests.integration import knowledge_support
from tests.integration.gateway_support import login
from tests.integration.knowledge_support import (
    create_kb,
    indexed,
    settled,
    upload,
    uploaded,
)

# The shared fixtures: a platform whose model cache outlives the test, and its client.
kb_platform = knowledge_support.kb_platform
kb_client = knowledge_support.kb_client

QUESTION = "What is the Zephyr-9 reactor cooled with?"


async def _search(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, **body: Any
) -> list[dict[str, Any]]:
    response = await client.post(f"/api/knowledge-bases/{kb_id}/search", headers=headers, json=body)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def test_upload_index_and_search_finds_the_planted_passage_first(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    headers = await login(kb_platform, kb_client, "ada@example.com")
    kb = await create_kb(kb_client, headers, name="research")
    assert kb["embedding_model"] == "all-MiniLM-L6-v2"
    assert kb["embedding_dimension"] is None
    reactor = await indexed(kb_client, headers, kb["id"], "zephyr_reactor.md")
    for name in ("gardening.txt", "cooling_systems.html", "observatory.txt"):
        await indexed(kb_client, headers, kb["id"], name)
    assert reactor["num_chunks"] >= 4
    assert reactor["indexed_at"]

    results = await _search(kb_client, headers, kb["id"], query=QUESTION, top_k=3)
    top = results[0]
    assert "gallium" in top["text"]
    assert top["document_id"] == reactor["id"]
    assert top["filename"] == "zephyr_reactor.md"
    # The Markdown heading path travels with the chunk.
    assert top["metadata"]["heading"] == "Zephyr-9 Research Reactor > Design > Coolant"
    assert top["score"] > results[1]["score"]

    kb_now = (await kb_client.get(f"/api/knowledge-bases/{kb['id']}", headers=headers)).json()
    assert kb_now["embedding_dimension"] == 384
    assert kb_now["document_count"] == 4
    # Filters: only the HTML page, or only chunks under one heading.
    html = await _search(kb_client, headers, kb["id"], query=QUESTION, document_ids=[])
    assert html == []
    under = await _search(
        kb_client,
        headers,
        kb["id"],
        query="history",
        metadata={"heading": "Zephyr-9 Research Reactor > History"},
    )
    assert {r["metadata"]["heading"] for r in under} == {"Zephyr-9 Research Reactor > History"}


async def test_reindexing_keeps_the_same_points_and_delete_removes_them(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    headers = await login(kb_platform, kb_client, "ada@example.com")
    kb = await create_kb(kb_client, headers)
    doc = await indexed(kb_client, headers, kb["id"], "zephyr_reactor.md")
    vectors = kb_platform.services.vectors
    assert vectors is not None
    ids = await vectors.point_ids(doc["id"])
    assert ids == sorted(point_id(doc["id"], i) for i in range(doc["num_chunks"]))

    again = await kb_client.post(
        f"/api/knowledge-bases/{kb['id']}/documents/{doc['id']}/reindex", headers=headers
    )
    assert again.status_code == 202
    assert again.json()["status"] == "uploaded"
    redone = await settled(kb_client, headers, kb["id"], doc["id"])
    assert redone["status"] == "indexed"
    assert redone["num_chunks"] == doc["num_chunks"]
    assert await vectors.point_ids(doc["id"]) == ids
    assert await vectors.count(kb_id=kb["id"]) == len(ids)

    gone = await kb_client.delete(
        f"/api/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=headers
    )
    assert gone.status_code == 204
    assert await vectors.count(kb_id=kb["id"]) == 0
    missing = await kb_client.get(
        f"/api/knowledge-bases/{kb['id']}/documents/{doc['id']}", headers=headers
    )
    assert missing.status_code == 404
    files = kb_platform.settings.data_dir / "knowledge" / kb["id"]
    assert list(files.iterdir()) == []


async def test_document_events_stream_replays_progress_to_indexed(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    headers = await login(kb_platform, kb_client, "ada@example.com")
    kb = await create_kb(kb_client, headers)
    doc = await uploaded(kb_client, headers, kb["id"], "gardening.txt")
    url = f"/api/knowledge-bases/{kb['id']}/documents/{doc['id']}/events"
    seen: list[str] = []
    progress: list[dict[str, Any]] = []
    async with kb_client.stream("GET", url, headers=headers, timeout=60.0) as response:
        assert response.status_code == 200
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event.startswith("llmforge."):
                seen.append(event)
                if event.endswith("indexing.v1"):
                    progress.append(json.loads(line[6:])["data"])
                if event.endswith(("indexed.v1", "failed.v1")):
                    break
    assert seen[0] == "llmforge.knowledge.document.uploaded.v1"
    assert seen[-1] == "llmforge.knowledge.document.indexed.v1"
    assert progress[0]["stage"] == "parsing"
    assert progress[-1]["chunks_done"] == progress[-1]["chunks_total"] > 0


def _encrypted_pdf() -> bytes:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_unindexable_files_fail_with_a_reason_and_leave_no_points(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    headers = await login(kb_platform, kb_client, "ada@example.com")
    kb = await create_kb(kb_client, headers)
    cases = {
        "locked.pdf": (_encrypted_pdf(), "encrypted_pdf"),
        "blank.txt": (b"   \n\n  \t\n", "empty_text"),
        "binary.txt": (b"MZ\x00\x00\x90\x00 not text", "unsupported_type"),
        "broken.docx": (b"this is not a zip archive", "parse_error"),
    }
    for name, (content, reason) in cases.items():
        response = await upload(kb_client, headers, kb["id"], name, content)
        assert response.status_code == 202, response.text
        done = await settled(kb_client, headers, kb["id"], response.json()["id"])
        assert (name, done["status"], done["error_reason"]) == (name, "failed", reason)
        assert done["error"]
    vectors = kb_platform.services.vectors
    assert vectors is not None
    assert await vectors.count(kb_id=kb["id"]) == 0
    failed = await kb_client.get(
        f"/api/knowledge-bases/{kb['id']}/documents?status=failed", headers=headers
    )
    assert failed.json()["total"] == 4


async def test_refused_uploads_keep_nothing(platform_factory: Any, tmp_path: Path) -> None:
    from tests.integration.knowledge_support import knowledge_settings

    platform = await platform_factory(
        overrides={"knowledge": knowledge_settings(max_upload_bytes=1000)}
    )
    async with httpx.AsyncClient(base_url=platform.url, timeout=30.0) as client:
        headers = await login(platform, client, "ada@example.com")
        kb = await create_kb(client, headers)
        unsupported = await upload(client, headers, kb["id"], "tool.exe", b"MZ" * 10)
        assert unsupported.status_code == 415
        assert unsupported.json()["code"] == "unsupported_file_type"
        oversize = await upload(client, headers, kb["id"], "big.txt", b"word " * 1000)
        assert oversize.status_code == 413
        assert oversize.json()["code"] == "file_too_large"
        empty = await upload(client, headers, kb["id"], "empty.txt", b"")
        assert empty.status_code == 400
        assert empty.json()["code"] == "empty_file"
        no_file = await client.post(
            f"/api/knowledge-bases/{kb['id']}/documents", headers=headers, data={"x": "1"}
        )
        assert no_file.status_code == 400
        listing = await client.get(f"/api/knowledge-bases/{kb['id']}/documents", headers=headers)
        assert listing.json()["total"] == 0
        files = platform.settings.data_dir / "knowledge" / kb["id"]
        assert not files.exists() or list(files.iterdir()) == []
        first = await upload(client, headers, kb["id"], "a.txt", b"same words")
        assert first.status_code == 202
        duplicate = await upload(client, headers, kb["id"], "b.txt", b"same words")
        assert duplicate.status_code == 409
        assert duplicate.json()["code"] == "duplicate_document"


async def test_bases_are_private_unless_shared_and_only_owners_change_them(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    ada = await login(kb_platform, kb_client, "ada@example.com")
    bob = await login(kb_platform, kb_client, "bob@example.com")
    private = await create_kb(kb_client, ada, name="private")
    shared = await create_kb(kb_client, ada, name="team", shared=True)
    base = "/api/knowledge-bases"

    assert (await kb_client.get(f"{base}/{private['id']}", headers=bob)).status_code == 404
    assert (await kb_client.get(f"{base}/{shared['id']}", headers=bob)).status_code == 200
    names = {k["name"] for k in (await kb_client.get(base, headers=bob)).json()["items"]}
    assert names == {"team"}
    assert (await upload(kb_client, bob, private["id"], "x.txt", b"x")).status_code == 404
    assert (await upload(kb_client, bob, shared["id"], "x.txt", b"x")).status_code == 403
    renamed = await kb_client.patch(f"{base}/{shared['id']}", headers=bob, json={"name": "mine"})
    assert renamed.status_code == 403
    assert (await kb_client.delete(f"{base}/{shared['id']}", headers=bob)).status_code == 403
    search = await kb_client.post(
        f"{base}/{private['id']}/search", headers=bob, json={"query": "x"}
    )
    assert search.status_code == 404
    # Nothing indexed yet: an empty answer, without loading any model.
    empty = await kb_client.post(f"{base}/{shared['id']}/search", headers=bob, json={"query": "x"})
    assert empty.status_code == 200
    assert empty.json() == {"results": []}


async def test_base_settings_are_validated_and_the_model_is_fixed_once_used(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    headers = await login(kb_platform, kb_client, "ada@example.com")
    base = "/api/knowledge-bases"
    unknown = await kb_client.post(
        base, headers=headers, json={"name": "x", "embedding_model": "nope"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "unknown_embedding_model"
    too_big = await kb_client.post(base, headers=headers, json={"name": "x", "chunk_size": 1000})
    assert too_big.status_code == 400
    assert too_big.json()["code"] == "chunk_size_too_large"
    kb = await create_kb(kb_client, headers, description="notes", chunk_size=120, chunk_overlap=20)
    changed = await kb_client.patch(
        f"{base}/{kb['id']}", headers=headers, json={"name": "renamed", "description": None}
    )
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["description"]) == ("renamed", None)
    await upload(kb_client, headers, kb["id"], "faq.json")
    fixed = await kb_client.patch(
        f"{base}/{kb['id']}", headers=headers, json={"embedding_model": "other-model"}
    )
    assert fixed.status_code == 409
    assert fixed.json()["code"] == "embedding_model_fixed"
    gone = await kb_client.delete(f"{base}/{kb['id']}", headers=headers)
    assert gone.status_code == 204
    assert (await kb_client.get(f"{base}/{kb['id']}", headers=headers)).status_code == 404
    assert not (kb_platform.settings.data_dir / "knowledge" / kb["id"]).exists()


async def test_a_base_can_embed_through_a_configured_provider(
    kb_platform: Platform, kb_client: httpx.AsyncClient, fake_openai: Any
) -> None:
    from tests.integration.gateway_support import add_model, add_provider

    admin = await login(kb_platform, kb_client, "root@example.com", "admin")
    provider = await add_provider(
        kb_client,
        admin,
        name="Fake",
        type="openai-compatible",
        base_url=fake_openai.base_url,
        api_key="test-key",
    )
    await add_model(kb_client, admin, provider_id=provider["id"], model_id="emb-1", alias="emb")
    kb = await create_kb(kb_client, admin, embedding_model="emb", chunk_size=400, chunk_overlap=0)
    doc = await indexed(kb_client, admin, kb["id"], "planets.csv")
    # Rows are packed into chunks that remember which rows they hold.
    assert doc["num_chunks"] == 1
    kb_now = (await kb_client.get(f"/api/knowledge-bases/{kb['id']}", headers=admin)).json()
    assert kb_now["embedding_dimension"] == 4  # the fake provider's vector size
    results = await _search(kb_client, admin, kb["id"], query="moons")
    assert results[0]["metadata"] == {"row_start": 1, "row_end": 5}
    assert "Jupiter" in results[0]["text"]


async def test_a_provider_outage_is_retried_then_fails_the_document(
    kb_platform: Platform, kb_client: httpx.AsyncClient, fake_openai: Any
) -> None:
    from tests.fakes.base import Scenario
    from tests.integration.gateway_support import add_model, add_provider

    admin = await login(kb_platform, kb_client, "root@example.com", "admin")
    provider = await add_provider(
        kb_client,
        admin,
        name="Fake",
        type="openai-compatible",
        base_url=fake_openai.base_url,
        api_key="test-key",
        settings={"max_attempts": 1},
    )
    await add_model(kb_client, admin, provider_id=provider["id"], model_id="emb-1", alias="emb")
    kb = await create_kb(kb_client, admin, embedding_model="emb")
    fake_openai.scenario = Scenario(status=503)
    doc = await uploaded(kb_client, admin, kb["id"], "faq.json")
    done = await settled(kb_client, admin, kb["id"], doc["id"])
    assert done["status"] == "failed"
    assert done["error_reason"] == "embedding_failed"
    # One try per allowed attempt (two here), not one: the outage was retried.
    embeds = [r for r in fake_openai.requests if r.path.endswith("/embeddings")]
    assert len(embeds) >= 2


async def test_retrieve_gives_other_features_citations(
    kb_platform: Platform, kb_client: httpx.AsyncClient
) -> None:
    from handlers.knowledge import format_context, retrieve

    headers = await login(kb_platform, kb_client, "ada@example.com")
    bob = await login(kb_platform, kb_client, "bob@example.com")
    kb = await create_kb(kb_client, headers)
    await indexed(kb_client, headers, kb["id"], "zephyr_reactor.md")
    me = (await kb_client.get("/api/auth/me", headers=headers)).json()["id"]
    other = (await kb_client.get("/api/auth/me", headers=bob)).json()["id"]
    services = kb_platform.services
    citations = await retrieve(services, [kb["id"], "unknown"], QUESTION, 2, user_id=me)
    assert [c.rank for c in citations] == [1, 2]
    assert "gallium" in citations[0].text
    context = format_context(citations)
    assert context.startswith(
        "[1] zephyr_reactor.md (Zephyr-9 Research Reactor > Design > Coolant)"
    )
    # A private base is invisible to someone else.
    assert await retrieve(services, [kb["id"]], QUESTION, 2, user_id=other) == []
