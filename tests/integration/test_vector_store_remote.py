"""The embedded store over NATS: what a caller sees when its owner is missing or fails."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import nats
import pytest
from nats.aio.client import Client as NATS

from runtime.vectors import ChunkPoint, Hit, MetaFilter
from runtime.vectors.remote import RemoteVectorStore, VectorStoreServer, VectorStoreUnavailable


@pytest.fixture
async def connections(nats_server: str) -> AsyncIterator[tuple[NATS, NATS]]:
    owner, caller = await nats.connect(nats_server), await nats.connect(nats_server)
    yield owner, caller
    await caller.close()
    await owner.close()


class BrokenStore:
    """Searches fail as a store with a locked or corrupt file would; counts work."""

    async def search(
        self,
        kb_ids: Sequence[str],
        vector: Sequence[float],
        *,
        top_k: int,
        score_threshold: float | None = None,
        document_ids: Sequence[str] | None = None,
        metadata: MetaFilter | None = None,
    ) -> list[Hit]:
        raise OSError("shard is locked by another process")

    async def count(self, *, kb_id: str | None = None, document_id: str | None = None) -> int:
        return 7

    async def upsert(self, points: Sequence[ChunkPoint]) -> None: ...
    async def delete_document(self, document_id: str, *, from_chunk: int = 0) -> None: ...
    async def delete_kb(self, kb_id: str) -> None: ...
    async def point_ids(self, document_id: str) -> list[str]:
        return []

    async def close(self) -> None: ...


def _subject() -> str:
    return f"t{uuid.uuid4().hex}.rpc.vectors"


async def test_no_owner_is_a_clear_error_not_a_hang(connections: tuple[NATS, NATS]) -> None:
    remote = RemoteVectorStore(connections[1], _subject(), timeout=5)
    with pytest.raises(VectorStoreUnavailable, match="no process serves the embedded"):
        await remote.count()


async def test_the_owners_failure_reaches_the_caller_and_serving_goes_on(
    connections: tuple[NATS, NATS],
) -> None:
    owner, caller = connections
    server = VectorStoreServer(BrokenStore(), owner, _subject())
    await server.start()
    try:
        remote = RemoteVectorStore(caller, server.subject, timeout=5)
        with pytest.raises(VectorStoreUnavailable, match="OSError: shard is locked"):
            await remote.search(["kb"], [0.1, 0.2], top_k=3)
        assert await remote.count(kb_id="kb") == 7
    finally:
        await server.stop()


async def test_a_malformed_call_is_answered_with_an_error(connections: tuple[NATS, NATS]) -> None:
    owner, caller = connections
    server = VectorStoreServer(BrokenStore(), owner, _subject())
    await server.start()
    try:
        reply = await caller.request(server.subject, b"\x93not a call", timeout=5)
        assert b"bad vector store call" in reply.data
    finally:
        await server.stop()
