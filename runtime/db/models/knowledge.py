"""Knowledge bases and their documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin

# The embedding model every new knowledge base gets unless it names a provider's model.
LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


class KnowledgeBase(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_bases"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # The local model's name, or the alias of a provider model with an embeddings endpoint.
    embedding_model: Mapped[str] = mapped_column(String(200), default=LOCAL_EMBEDDING_MODEL)
    # Vector size, known once the first document is indexed; None: nothing searchable yet.
    embedding_dimension: Mapped[int | None] = mapped_column(default=None)
    # In tokens of the embedding model's tokenizer.
    chunk_size: Mapped[int] = mapped_column(default=200)
    chunk_overlap: Mapped[int] = mapped_column(default=30)
    shared: Mapped[bool] = mapped_column(default=False, index=True)


class Document(IdMixin, TimestampMixin, Base):
    __tablename__ = "documents"

    knowledge_base_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str | None] = mapped_column(String(200))
    file_path: Mapped[str] = mapped_column(String(1000))
    size_bytes: Mapped[int] = mapped_column(default=0)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # uploaded -> indexing -> indexed | failed
    status: Mapped[str] = mapped_column(String(16), default="uploaded", index=True)
    num_chunks: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Machine-readable failure reason (encrypted_pdf, empty_text, ...).
    error_reason: Mapped[str | None] = mapped_column(String(50))
    # The event the indexer last worked on, and its attempts at it: a redelivered event
    # that already reached indexed/failed is skipped, a crashing one gives up in the end.
    index_event_id: Mapped[str | None] = mapped_column(String(32))
    index_attempts: Mapped[int] = mapped_column(default=0)
    indexed_at: Mapped[datetime | None] = mapped_column(default=None)
    uploaded_by: Mapped[str | None] = mapped_column(String(32))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
