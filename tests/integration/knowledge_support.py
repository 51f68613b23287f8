"""Helpers of the knowledge and Dify tests: a platform with the shared model cache, files."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.platform import Platform
from runtime.settings import KnowledgeSettings
from tests.fixtures.app import PlatformFactory

DATA = Path(__file__).parents[1] / "data" / "knowledge"
# Shared by every test run on this machine: the ONNX export (~6 s) happens once, and its
# path is versioned by the export recipe, so a stale cache is never reused.
MODEL_CACHE = Path(tempfile.gettempdir()) / "llmforge-test-models"


def knowledge_settings(**changes: Any) -> KnowledgeSettings:
    return KnowledgeSettings(model_cache_dir=MODEL_CACHE, index_max_attempts=2, **changes)


@pytest.fixture
async def kb_platform(platform_factory: PlatformFactory) -> Platform:
    return await platform_factory(overrides={"knowledge": knowledge_settings()})


@pytest.fixture
async def kb_client(kb_platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=kb_platform.url, timeout=30.0) as http:
        yield http


async def create_kb(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/knowledge-bases", headers=headers, json={"name": "kb", **body}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    kb_id: str,
    filename: str,
    content: bytes | None = None,
) -> httpx.Response:
    body = content if content is not None else (DATA / filename).read_bytes()
    files = {"file": (filename, body, "application/octet-stream")}
    return await client.post(
        f"/api/knowledge-bases/{kb_id}/documents", headers=headers, files=files
    )


async def uploaded(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, filename: str
) -> dict[str, Any]:
    response = await upload(client, headers, kb_id, filename)
    assert response.status_code == 202, response.text
    doc: dict[str, Any] = response.json()
    return doc


async def settled(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    kb_id: str,
    doc_id: str,
    *,
    within: float = 60.0,
) -> dict[str, Any]:
    """Bounded poll until the document is indexed or failed (the first run exports the model)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get(
            f"/api/knowledge-bases/{kb_id}/documents/{doc_id}", headers=headers
        )
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        if doc["status"] in ("indexed", "failed"):
            return doc
        assert asyncio.get_running_loop().time() < deadline, f"still {doc['status']}"
        await asyncio.sleep(0.1)


async def indexed(
    client: httpx.AsyncClient, headers: dict[str, str], kb_id: str, filename: str
) -> dict[str, Any]:
    doc = await uploaded(client, headers, kb_id, filename)
    done = await settled(client, headers, kb_id, doc["id"])
    assert done["status"] == "indexed", done
    return done
