"""One suite, every vector store: embedded Qdrant Edge, qdrant-client (local mode), and Edge
served over NATS request-reply to another connection (``runtime/vectors/remote.py``)."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from qdrant_client import AsyncQdrantClient

from runtime.vectors import ChunkPoint, MetaCondition, MetaFilter, VectorStore, point_id
from runtime.vectors.edge import EdgeVectorStore
from runtime.vectors.remote import RemoteVectorStore, VectorStoreServer
from runtime.vectors.server import QdrantVectorStore

DIM = 16
# qdrant-client local mode ignores payload indexes (and says so); the server honours them.
pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")
BACKENDS = ("edge", "qdrant-client", "remote")


def _unit(seed: int) -> list[float]:
    rng = random.Random(seed)
    v = [rng.gauss(0.0, 1.0) for _ in range(DIM)]
    norm = sum(x * x for x in v) ** 0.5
    return [x / norm for x in v]


def _point(kb: str, doc: str, index: int, seed: int, **meta: object) -> ChunkPoint:
    payload = {
        "kb_id": kb,
        "doc_id": doc,
        "chunk_index": index,
        "text": f"{doc} chunk {index}",
        "filename": f"{doc}.txt",
        "meta": meta,
    }
    return ChunkPoint(point_id(doc, index), _unit(seed), payload)


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, nats_server: str
) -> AsyncIterator[VectorStore]:
    if request.param == "remote":
        async with _remote_edge_store(nats_server, tmp_path) as remote:
            yield remote
        return
    vectors: VectorStore
    if request.param == "edge":
        vectors = EdgeVectorStore(tmp_path / "vectors")
    else:
        vectors = QdrantVectorStore(AsyncQdrantClient(location=":memory:"))
    yield vectors
    await vectors.close()


@contextlib.asynccontextmanager
async def _remote_edge_store(nats_url: str, tmp_path: Path) -> AsyncIterator[RemoteVectorStore]:
    """An Edge store served by one connection, used through another (two processes' view)."""
    owner, caller = await nats.connect(nats_url), await nats.connect(nats_url)
    local = EdgeVectorStore(tmp_path / "vectors")
    server = VectorStoreServer(local, owner, f"test{uuid.uuid4().hex}.rpc.vectors")
    await server.start()
    try:
        yield RemoteVectorStore(caller, server.subject, timeout=10)
    finally:
        await server.stop()
        await local.close()
        await caller.close()
        await owner.close()


async def _corpus(store: VectorStore) -> None:
    await store.upsert(
        [_point("kb1", "d1", i, 100 + i, page=i + 1, lang="en") for i in range(5)]
        + [_point("kb1", "d2", i, 200 + i, page=1, lang="de") for i in range(3)]
        + [_point("kb2", "d3", i, 300 + i, page=2, lang="en") for i in range(4)]
    )


async def test_search_finds_the_exact_vector_first_within_the_given_bases(
    store: VectorStore,
) -> None:
    await _corpus(store)
    hits = await store.search(["kb1"], _unit(102), top_k=3)
    assert hits[0].id == point_id("d1", 2)
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].payload["text"] == "d1 chunk 2"
    assert hits[0].payload["meta"]["page"] == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # A vector of another base is never returned, however close.
    assert all(
        h.payload["kb_id"] == "kb1" for h in await store.search(["kb1"], _unit(301), top_k=10)
    )
    both = await store.search(["kb1", "kb2"], _unit(301), top_k=1)
    assert both[0].id == point_id("d3", 1)
    assert await store.search([], _unit(1), top_k=3) == []


async def test_filters_by_document_metadata_and_score(store: VectorStore) -> None:
    await _corpus(store)
    only_d2 = await store.search(["kb1"], _unit(101), top_k=10, document_ids=["d2"])
    assert {h.payload["doc_id"] for h in only_d2} == {"d2"}
    assert len(only_d2) == 3
    german = await store.search(
        ["kb1"], _unit(101), top_k=10, metadata=MetaFilter.equals({"lang": "de"})
    )
    assert {h.payload["doc_id"] for h in german} == {"d2"}
    late_pages = MetaFilter((MetaCondition("page", "gte", 4),))
    assert {
        h.payload["chunk_index"]
        for h in await store.search(["kb1"], _unit(1), top_k=10, metadata=late_pages)
    } == {3, 4}
    either = MetaFilter(
        (MetaCondition("lang", "eq", "de"), MetaCondition("page", "eq", 5)), match_any=True
    )
    found = {
        (h.payload["doc_id"], h.payload["chunk_index"])
        for h in await store.search(["kb1"], _unit(1), top_k=10, metadata=either)
    }
    assert found == {("d2", 0), ("d2", 1), ("d2", 2), ("d1", 4)}
    not_en = MetaFilter((MetaCondition("lang", "ne", "en"),))
    assert {
        h.payload["doc_id"]
        for h in await store.search(["kb1"], _unit(1), top_k=10, metadata=not_en)
    } == {"d2"}
    pages = MetaFilter((MetaCondition("page", "in", [1, 2]),))
    assert len(await store.search(["kb1"], _unit(1), top_k=10, metadata=pages)) == 5
    missing = MetaFilter((MetaCondition("heading", "empty"),))
    assert len(await store.search(["kb1"], _unit(1), top_k=10, metadata=missing)) == 8
    strict = await store.search(["kb1"], _unit(102), top_k=10, score_threshold=0.99)
    assert [h.id for h in strict] == [point_id("d1", 2)]


async def test_upserting_the_same_points_again_changes_nothing(store: VectorStore) -> None:
    await _corpus(store)
    before = await store.point_ids("d1")
    await _corpus(store)
    assert await store.point_ids("d1") == before
    assert len(before) == 5
    assert await store.count() == 12
    assert await store.count(kb_id="kb1") == 8
    assert await store.count(document_id="d3") == 4


async def test_deletes_remove_a_document_its_tail_or_a_whole_base(store: VectorStore) -> None:
    await _corpus(store)
    await store.delete_document("d1", from_chunk=3)
    assert await store.point_ids("d1") == sorted(point_id("d1", i) for i in range(3))
    await store.delete_document("d2")
    assert await store.count(kb_id="kb1") == 3
    await store.delete_kb("kb1")
    assert await store.count(kb_id="kb1") == 0
    assert await store.count(kb_id="kb2") == 4
    assert await store.search(["kb1"], _unit(101), top_k=5) == []


async def test_a_vector_size_never_stored_finds_nothing(store: VectorStore) -> None:
    await _corpus(store)
    assert await store.search(["kb1"], [1.0, 0.0, 0.0], top_k=5) == []
    await store.delete_document("nope")  # no error either


async def test_edge_shards_survive_a_reopen_and_are_shared_in_process(tmp_path: Path) -> None:
    root = tmp_path / "vectors"
    first = EdgeVectorStore(root)
    await _corpus(first)
    # A second store on the same root (another platform in this process) shares shards.
    second = EdgeVectorStore(root)
    assert await second.count() == 12
    await first.close()
    assert await second.count(kb_id="kb2") == 4
    await second.close()
    reopened = EdgeVectorStore(root)
    try:
        hits = await reopened.search(["kb2"], _unit(302), top_k=1)
        assert hits[0].id == point_id("d3", 2)
    finally:
        await reopened.close()
