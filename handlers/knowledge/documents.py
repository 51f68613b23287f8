"""Document use cases: upload to disk and queue, list, read, delete, re-index."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from litestar import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.knowledge import (
    DocumentData,
    DocumentDeleted,
    DocumentReindexRequested,
    DocumentUploaded,
)
from handlers.auth import CurrentUser
from handlers.knowledge import service
from handlers.knowledge.parsers import extension_of
from handlers.knowledge.uploads import receive_upload
from runtime.db.models import Document, KnowledgeBase, new_id
from runtime.db.paging import page_of
from runtime.errors import Conflict, NotFound
from runtime.outbox import emit
from runtime.settings import Settings
from runtime.vectors import VectorStore

STATUSES = ("uploaded", "indexing", "indexed", "failed")


def document_data(row: Document, kb: KnowledgeBase) -> DocumentData:
    return DocumentData(
        document_id=row.id,
        knowledge_base_id=kb.id,
        owner_id=kb.owner_id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        content_hash=row.content_hash,
    )


async def upload(
    session: AsyncSession,
    user: CurrentUser,
    kb_id: str,
    request: Request[Any, Any, Any],
    settings: Settings,
) -> Document:
    """Store the file and its row, queue it for indexing; committed before returning."""
    kb = await service.editable(session, user, kb_id)
    directory = service.files_dir(settings.data_dir, kb.id)
    received = await receive_upload(request, directory, settings.knowledge.max_upload_bytes)
    doc_id = new_id()
    final = directory / f"{doc_id}{extension_of(received.filename)}"
    try:
        existing = await session.scalar(
            select(Document.id).where(
                Document.knowledge_base_id == kb.id, Document.content_hash == received.sha256
            )
        )
        if existing is not None:
            raise Conflict(
                "duplicate_document",
                detail=f"This knowledge base already has this file as document {existing}.",
                errors=[{"document_id": existing}],
            )
        os.replace(received.path, final)
        row = Document(
            id=doc_id,
            knowledge_base_id=kb.id,
            filename=received.filename,
            content_type=received.content_type,
            file_path=str(final.relative_to(settings.data_dir)),
            size_bytes=received.size,
            content_hash=received.sha256,
            status="uploaded",
            uploaded_by=user.id,
        )
        session.add(row)
        await session.flush()
        emit(session, DocumentUploaded(subject=row.id, actor=user.id, data=document_data(row, kb)))
        # Committed here, not after the handler: a failed commit must take the file along.
        await session.commit()
    except BaseException:
        for path in (received.path, final):
            with suppress(OSError):
                path.unlink()
        raise
    return row


async def get(session: AsyncSession, user: CurrentUser, kb_id: str, doc_id: str) -> Document:
    kb = await service.get(session, user, kb_id)
    row = await session.scalar(
        select(Document).where(Document.id == doc_id, Document.knowledge_base_id == kb.id)
    )
    if row is None:
        raise NotFound("document_not_found", detail=f"No document {doc_id} in this knowledge base.")
    return row


async def list_documents(
    session: AsyncSession,
    user: CurrentUser,
    kb_id: str,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Document], int]:
    kb = await service.get(session, user, kb_id)
    where = [Document.knowledge_base_id == kb.id]
    if status:
        where.append(Document.status == status)
    query = select(Document).where(*where).order_by(Document.created_at.desc(), Document.id)
    return await page_of(session, query, limit=limit, offset=offset)


async def delete(
    session: AsyncSession,
    user: CurrentUser,
    kb_id: str,
    doc_id: str,
    vectors: VectorStore,
    data_dir: Path,
) -> None:
    kb = await service.editable(session, user, kb_id)
    row = await get(session, user, kb.id, doc_id)
    # Points first: if the store is down the request fails and the document stays whole.
    await vectors.delete_document(row.id)
    emit(session, DocumentDeleted(subject=row.id, actor=user.id, data=document_data(row, kb)))
    await session.delete(row)
    await session.flush()
    with suppress(OSError):
        (data_dir / row.file_path).unlink()


async def reindex(session: AsyncSession, user: CurrentUser, kb_id: str, doc_id: str) -> Document:
    kb = await service.editable(session, user, kb_id)
    row = await get(session, user, kb.id, doc_id)
    row.status = "uploaded"
    row.error = row.error_reason = None
    await session.flush()
    event = DocumentReindexRequested(subject=row.id, actor=user.id, data=document_data(row, kb))
    emit(session, event)
    return row
