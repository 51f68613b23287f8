"""Rows to response bodies."""

from __future__ import annotations

from handlers.knowledge import schemas
from handlers.knowledge.retrieval import Citation
from runtime.db.models import Document, KnowledgeBase


def kb_out(row: KnowledgeBase, documents: int) -> schemas.KnowledgeBase:
    return schemas.KnowledgeBase(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        description=row.description,
        embedding_model=row.embedding_model,
        embedding_dimension=row.embedding_dimension,
        chunk_size=row.chunk_size,
        chunk_overlap=row.chunk_overlap,
        shared=row.shared,
        document_count=documents,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def document_out(row: Document) -> schemas.Document:
    return schemas.Document(
        id=row.id,
        knowledge_base_id=row.knowledge_base_id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        content_hash=row.content_hash,
        status=row.status,
        num_chunks=row.num_chunks,
        error=row.error,
        error_reason=row.error_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        indexed_at=row.indexed_at,
    )


def result_out(c: Citation) -> schemas.SearchResult:
    return schemas.SearchResult(
        text=c.text,
        score=c.score,
        document_id=c.document_id,
        knowledge_base_id=c.knowledge_base_id,
        filename=c.filename,
        chunk_index=c.chunk_index,
        metadata=c.metadata,
    )
