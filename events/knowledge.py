"""Events of the knowledge domain: knowledge bases, their documents and indexing."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from events.envelope import Event


class KnowledgeBaseData(msgspec.Struct, frozen=True, kw_only=True):
    knowledge_base_id: str
    owner_id: str
    name: str
    embedding_model: str
    shared: bool = False


class KnowledgeBaseChangedData(KnowledgeBaseData, frozen=True, kw_only=True):
    # Names of the fields that changed.
    changed: list[str] = msgspec.field(default_factory=list)


class KnowledgeBaseCreated(
    Event, frozen=True, kw_only=True, tag="llmforge.knowledge.base.created.v1"
):
    """A knowledge base was created."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.base.created"
    data: KnowledgeBaseData


class KnowledgeBaseUpdated(
    Event, frozen=True, kw_only=True, tag="llmforge.knowledge.base.updated.v1"
):
    """A knowledge base's name, description, chunking or sharing changed."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.base.updated"
    data: KnowledgeBaseChangedData


class KnowledgeBaseDeleted(
    Event, frozen=True, kw_only=True, tag="llmforge.knowledge.base.deleted.v1"
):
    """A knowledge base was deleted with its documents and their vectors."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.base.deleted"
    data: KnowledgeBaseData


class DocumentData(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    knowledge_base_id: str
    # The knowledge base's owner: who may see the document's events.
    owner_id: str
    filename: str
    content_type: str | None = None
    size_bytes: int = 0
    content_hash: str = ""


class DocumentUploaded(
    Event, frozen=True, kw_only=True, tag="llmforge.knowledge.document.uploaded.v1"
):
    """A file was stored; the indexer parses, chunks, embeds and upserts it."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.document.{subject}.uploaded"
    data: DocumentData


class DocumentReindexRequested(
    Event, frozen=True, kw_only=True, tag="llmforge.knowledge.document.reindex_requested.v1"
):
    """Index the stored file again (same point ids, so nothing is duplicated)."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.document.{subject}.reindex_requested"
    data: DocumentData


class IndexingProgressData(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    knowledge_base_id: str
    owner_id: str
    # parsing, embedding
    stage: str
    chunks_done: int = 0
    chunks_total: int = 0


class DocumentIndexing(
    Event, frozen=True, kw_only=True, tag="llmforge.knowledge.document.indexing.v1"
):
    """Indexing progress: sent when it starts and after each embedded batch."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.document.{subject}.indexing"
    data: IndexingProgressData


class DocumentIndexedData(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    knowledge_base_id: str
    owner_id: str
    num_chunks: int
    embedding_model: str
    dimension: int
    duration_ms: float = 0.0


class DocumentIndexed(
    Event, frozen=True, kw_only=True, tag="llmforge.knowledge.document.indexed.v1"
):
    """Every chunk of the document is searchable."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.document.{subject}.indexed"
    data: DocumentIndexedData


class DocumentFailedData(msgspec.Struct, frozen=True, kw_only=True):
    document_id: str
    knowledge_base_id: str
    owner_id: str
    # encrypted_pdf, empty_text, unsupported_type, parse_error, embedding_failed,
    # too_many_attempts
    reason: str
    detail: str = ""


class DocumentFailed(Event, frozen=True, kw_only=True, tag="llmforge.knowledge.document.failed.v1"):
    """The document could not be indexed; ``reason`` says why."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.document.{subject}.failed"
    data: DocumentFailedData


class DocumentDeleted(
    Event, frozen=True, kw_only=True, tag="llmforge.knowledge.document.deleted.v1"
):
    """A document, its file and its vectors were removed."""

    SUBJECT: ClassVar[str] = "llmforge.knowledge.document.{subject}.deleted"
    data: DocumentData


KNOWLEDGE_EVENTS = (
    KnowledgeBaseCreated,
    KnowledgeBaseUpdated,
    KnowledgeBaseDeleted,
    DocumentUploaded,
    DocumentReindexRequested,
    DocumentIndexing,
    DocumentIndexed,
    DocumentFailed,
    DocumentDeleted,
)
