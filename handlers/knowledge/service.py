"""Knowledge-base use cases: visibility, validation, CRUD and their events."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import msgspec
from msgspec import UNSET
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.knowledge import (
    KnowledgeBaseChangedData,
    KnowledgeBaseCreated,
    KnowledgeBaseData,
    KnowledgeBaseDeleted,
    KnowledgeBaseUpdated,
)
from handlers.auth import CurrentUser
from handlers.knowledge.schemas import KnowledgeBaseCreate, KnowledgeBaseUpdate
from runtime.db.models import Document, KnowledgeBase
from runtime.db.paging import page_of
from runtime.embeddings import EmbeddingModels, LocalEmbedder
from runtime.errors import BadRequest, Conflict, Forbidden, NotFound
from runtime.llm.resolver import ModelNotFound
from runtime.outbox import emit
from runtime.vectors import VectorStore

_EDITABLE = ("name", "description", "embedding_model", "chunk_size", "chunk_overlap", "shared")


def readable_by(user: CurrentUser) -> ColumnElement[bool]:
    """Shared bases and the caller's own; private ones stay private, even to admins."""
    return or_(KnowledgeBase.shared.is_(True), KnowledgeBase.owner_id == user.id)


def files_dir(data_dir: Path, kb_id: str) -> Path:
    return data_dir / "knowledge" / kb_id


def _data(row: KnowledgeBase) -> KnowledgeBaseData:
    return KnowledgeBaseData(
        knowledge_base_id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        embedding_model=row.embedding_model,
        shared=row.shared,
    )


async def _check_model(embeddings: EmbeddingModels, name: str) -> None:
    try:
        await embeddings.check_model(name)
    except ModelNotFound as exc:
        raise BadRequest(
            "unknown_embedding_model",
            detail=f"No model {name!r}: use all-MiniLM-L6-v2 or the alias of an enabled "
            "model config whose provider serves embeddings.",
        ) from exc


def _check_chunking(model: str, size: int, overlap: int) -> None:
    if EmbeddingModels.is_local(model) and size > LocalEmbedder.max_tokens:
        raise BadRequest(
            "chunk_size_too_large",
            detail=f"{model} reads at most {LocalEmbedder.max_tokens} tokens per chunk.",
        )
    if overlap * 2 > size:
        raise BadRequest("chunk_overlap_too_large", detail="Overlap must be at most half the size.")


async def get(session: AsyncSession, user: CurrentUser, kb_id: str) -> KnowledgeBase:
    row = await session.scalar(
        select(KnowledgeBase).where(KnowledgeBase.id == kb_id, readable_by(user))
    )
    if row is None:
        raise NotFound("knowledge_base_not_found", detail=f"No knowledge base {kb_id}.")
    return row


async def editable(session: AsyncSession, user: CurrentUser, kb_id: str) -> KnowledgeBase:
    row = await get(session, user, kb_id)
    if row.owner_id != user.id and not user.is_admin:
        raise Forbidden("not_knowledge_base_owner", detail="Only its owner or an admin changes it.")
    return row


async def create(
    session: AsyncSession, user: CurrentUser, data: KnowledgeBaseCreate, embeddings: EmbeddingModels
) -> KnowledgeBase:
    _check_chunking(data.embedding_model, data.chunk_size, data.chunk_overlap)
    await _check_model(embeddings, data.embedding_model)
    row = KnowledgeBase(
        owner_id=user.id,
        name=data.name,
        description=data.description,
        embedding_model=data.embedding_model,
        chunk_size=data.chunk_size,
        chunk_overlap=data.chunk_overlap,
        shared=data.shared,
    )
    session.add(row)
    await session.flush()
    emit(session, KnowledgeBaseCreated(subject=row.id, actor=user.id, data=_data(row)))
    return row


async def document_counts(session: AsyncSession, kb_ids: Sequence[str]) -> dict[str, int]:
    if not kb_ids:
        return {}
    rows = await session.execute(
        select(Document.knowledge_base_id, func.count())
        .where(Document.knowledge_base_id.in_(kb_ids))
        .group_by(Document.knowledge_base_id)
    )
    return {kb: int(n) for kb, n in rows.all()}


async def update(
    session: AsyncSession,
    user: CurrentUser,
    kb_id: str,
    data: KnowledgeBaseUpdate,
    embeddings: EmbeddingModels,
) -> KnowledgeBase:
    row = await editable(session, user, kb_id)
    changes = {
        f: getattr(data, f)
        for f in _EDITABLE
        if getattr(data, f) is not UNSET and getattr(data, f) != getattr(row, f)
    }
    if "embedding_model" in changes:
        if (await document_counts(session, [row.id])).get(row.id):
            raise Conflict(
                "embedding_model_fixed",
                detail="The embedding model cannot change once documents exist: their "
                "vectors would not be comparable. Create a new knowledge base instead.",
            )
        await _check_model(embeddings, changes["embedding_model"])
        row.embedding_dimension = None
    _check_chunking(
        changes.get("embedding_model", row.embedding_model),
        changes.get("chunk_size", row.chunk_size),
        changes.get("chunk_overlap", row.chunk_overlap),
    )
    if not changes:
        return row
    for name, value in changes.items():
        setattr(row, name, value)
    await session.flush()
    data_out = KnowledgeBaseChangedData(
        **msgspec.structs.asdict(_data(row)), changed=sorted(changes)
    )
    emit(session, KnowledgeBaseUpdated(subject=row.id, actor=user.id, data=data_out))
    return row


async def delete(
    session: AsyncSession, user: CurrentUser, kb_id: str, vectors: VectorStore, data_dir: Path
) -> None:
    row = await editable(session, user, kb_id)
    # Lock the documents before the base, in the order the indexer takes them (its update
    # of a document locks that row, then key-shares the base through the foreign key):
    # the cascade would otherwise lock base then documents and deadlock with it.
    await session.execute(
        select(Document.id).where(Document.knowledge_base_id == row.id).with_for_update()
    )
    # Vectors first: if the store is down the request fails and nothing has changed.
    await vectors.delete_kb(row.id)
    emit(session, KnowledgeBaseDeleted(subject=row.id, actor=user.id, data=_data(row)))
    await session.delete(row)
    await session.flush()
    shutil.rmtree(files_dir(data_dir, row.id), ignore_errors=True)


async def list_bases(
    session: AsyncSession, user: CurrentUser, *, q: str | None, limit: int, offset: int
) -> tuple[Sequence[KnowledgeBase], int]:
    where = [readable_by(user)]
    if q:
        where.append(KnowledgeBase.name.ilike(f"%{q}%"))
    query = (
        select(KnowledgeBase)
        .where(*where)
        .order_by(KnowledgeBase.created_at.desc(), KnowledgeBase.id)
    )
    return await page_of(session, query, limit=limit, offset=offset)
