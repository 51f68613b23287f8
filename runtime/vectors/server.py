"""Qdrant server (``QDRANT_URL``) through qdrant-client: one collection per vector size.

The same layout as the embedded store, so moving to a server changes nothing else.
Tests run this backend on qdrant-client's local mode (``location=":memory:"``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from qdrant_client import AsyncQdrantClient, models

from runtime.vectors.base import (
    CHUNK_INDEX,
    DOC_ID,
    KB_ID,
    ChunkPoint,
    Hit,
    MetaCondition,
    MetaFilter,
)

_INDEXES = (
    (KB_ID, models.PayloadSchemaType.KEYWORD),
    (DOC_ID, models.PayloadSchemaType.KEYWORD),
    (CHUNK_INDEX, models.PayloadSchemaType.INTEGER),
)


def _condition(cond: MetaCondition) -> Any:
    key, value = cond.path, cond.value
    if cond.op == "eq":
        return models.FieldCondition(key=key, match=models.MatchValue(value=value))  # type: ignore[arg-type]
    if cond.op == "ne":
        inner = models.FieldCondition(key=key, match=models.MatchValue(value=value))  # type: ignore[arg-type]
        return models.Filter(must_not=[inner])
    if cond.op == "in":
        return models.FieldCondition(key=key, match=models.MatchAny(any=list(value)))  # type: ignore[arg-type]
    if cond.op == "not_in":
        return models.FieldCondition(
            key=key,
            match=models.MatchExcept(**{"except": list(value)}),  # type: ignore[arg-type]
        )
    if cond.op == "empty":
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=key))
    if cond.op == "not_empty":
        empty = models.IsEmptyCondition(is_empty=models.PayloadField(key=key))
        return models.Filter(must_not=[empty])
    bound = float(value)  # type: ignore[arg-type]
    return models.FieldCondition(key=key, range=models.Range(**{cond.op: bound}))


def build_filter(
    kb_ids: Sequence[str] | None = None,
    document_ids: Sequence[str] | None = None,
    metadata: MetaFilter | None = None,
    from_chunk: int = 0,
) -> models.Filter:
    must: list[Any] = []
    if kb_ids is not None:
        must.append(models.FieldCondition(key=KB_ID, match=models.MatchAny(any=list(kb_ids))))
    if document_ids is not None:
        must.append(
            models.FieldCondition(key=DOC_ID, match=models.MatchAny(any=list(document_ids)))
        )
    if from_chunk:
        must.append(models.FieldCondition(key=CHUNK_INDEX, range=models.Range(gte=from_chunk)))
    if metadata is not None and metadata.conditions:
        conditions = [_condition(c) for c in metadata.conditions]
        must.append(
            models.Filter(should=conditions)
            if metadata.match_any
            else models.Filter(must=conditions)
        )
    return models.Filter(must=must)


class QdrantVectorStore:
    """AsyncQdrantClient behind the VectorStore interface."""

    def __init__(self, client: AsyncQdrantClient, *, prefix: str = "llmforge_chunks") -> None:
        self._client = client
        self._prefix = prefix
        self._known: set[int] | None = None
        self._lock = asyncio.Lock()

    def _name(self, size: int) -> str:
        return f"{self._prefix}_{size}"

    async def _sizes(self) -> set[int]:
        """Vector sizes with a collection; listed once, then kept up to date here."""
        if self._known is None:
            listed = await self._client.get_collections()
            head = f"{self._prefix}_"
            self._known = {
                int(c.name[len(head) :])
                for c in listed.collections
                if c.name.startswith(head) and c.name[len(head) :].isdigit()
            }
        return self._known

    async def _ensure(self, size: int) -> str:
        name = self._name(size)
        async with self._lock:
            if size in await self._sizes():
                return name
            if not await self._client.collection_exists(name):
                # Another replica may create it at the same moment; the loser's error is
                # harmless as long as the collection exists afterwards.
                try:
                    await self._client.create_collection(
                        name,
                        vectors_config=models.VectorParams(
                            size=size, distance=models.Distance.COSINE
                        ),
                    )
                except Exception:
                    if not await self._client.collection_exists(name):
                        raise
                for field, schema in _INDEXES:
                    await self._client.create_payload_index(name, field, field_schema=schema)
            (await self._sizes()).add(size)
        return name

    async def upsert(self, points: Sequence[ChunkPoint]) -> None:
        by_size: dict[int, list[models.PointStruct]] = {}
        for p in points:
            by_size.setdefault(len(p.vector), []).append(
                models.PointStruct(id=p.id, vector=list(p.vector), payload=p.payload)
            )
        for size, batch in by_size.items():
            await self._client.upsert(await self._ensure(size), points=batch, wait=True)

    async def _delete(self, where: models.Filter) -> None:
        for size in sorted(await self._sizes()):
            await self._client.delete(
                self._name(size), points_selector=models.FilterSelector(filter=where), wait=True
            )

    async def delete_document(self, document_id: str, *, from_chunk: int = 0) -> None:
        await self._delete(build_filter(document_ids=[document_id], from_chunk=from_chunk))

    async def delete_kb(self, kb_id: str) -> None:
        await self._delete(build_filter(kb_ids=[kb_id]))

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
        if not kb_ids or top_k < 1 or len(vector) not in await self._sizes():
            return []
        response = await self._client.query_points(
            self._name(len(vector)),
            query=list(vector),
            query_filter=build_filter(kb_ids, document_ids, metadata),
            limit=top_k,
            score_threshold=score_threshold,
            with_payload=True,
        )
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    async def count(self, *, kb_id: str | None = None, document_id: str | None = None) -> int:
        where = build_filter([kb_id] if kb_id else None, [document_id] if document_id else None)
        total = 0
        for size in await self._sizes():
            result = await self._client.count(self._name(size), count_filter=where, exact=True)
            total += result.count
        return total

    async def point_ids(self, document_id: str) -> list[str]:
        where = build_filter(document_ids=[document_id])
        ids: list[str] = []
        for size in await self._sizes():
            offset: Any = None
            while True:
                records, offset = await self._client.scroll(
                    self._name(size),
                    scroll_filter=where,
                    limit=1000,
                    offset=offset,
                    with_payload=False,
                )
                ids.extend(str(r.id) for r in records)
                if offset is None:
                    break
        return sorted(ids)

    async def close(self) -> None:
        await self._client.close()
