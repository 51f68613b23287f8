"""Request and response bodies of the knowledge-base, document and search routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Description = Annotated[str, Meta(max_length=2000)]
ModelName = Annotated[str, Meta(min_length=1, max_length=200)]
# Token budgets; the local model's own limit is checked by the service.
ChunkSize = Annotated[int, Meta(ge=32, le=8192)]
ChunkOverlap = Annotated[int, Meta(ge=0, le=2048)]
MetaKey = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
MetaValue = str | int | float | bool


class KnowledgeBaseCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    description: Description | None = None
    # "all-MiniLM-L6-v2" (local, default) or the alias of a configured provider model.
    embedding_model: ModelName = "all-MiniLM-L6-v2"
    chunk_size: ChunkSize = 200
    chunk_overlap: ChunkOverlap = 30
    # Shared knowledge bases are readable (searchable) by every user.
    shared: bool = False


class KnowledgeBaseUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Absent fields stay; the embedding model is fixed once the base has documents."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    embedding_model: ModelName | UnsetType = UNSET
    chunk_size: ChunkSize | UnsetType = UNSET
    chunk_overlap: ChunkOverlap | UnsetType = UNSET
    shared: bool | UnsetType = UNSET


class KnowledgeBase(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    name: str
    description: str | None
    embedding_model: str
    embedding_dimension: int | None
    chunk_size: int
    chunk_overlap: int
    shared: bool
    document_count: int
    created_at: datetime
    updated_at: datetime


class KnowledgeBasePage(msgspec.Struct, kw_only=True):
    items: list[KnowledgeBase]
    total: int
    limit: int
    offset: int


class Document(msgspec.Struct, kw_only=True):
    id: str
    knowledge_base_id: str
    filename: str
    content_type: str | None
    size_bytes: int
    content_hash: str
    # uploaded, indexing, indexed, failed
    status: str
    num_chunks: int
    error: str | None
    error_reason: str | None
    created_at: datetime
    updated_at: datetime
    indexed_at: datetime | None


class DocumentPage(msgspec.Struct, kw_only=True):
    items: list[Document]
    total: int
    limit: int
    offset: int


class SearchRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    query: Annotated[str, Meta(min_length=1, max_length=8000)]
    top_k: Annotated[int, Meta(ge=1, le=100)] = 5
    score_threshold: Annotated[float, Meta(ge=-1.0, le=1.0)] | None = None
    document_ids: Annotated[list[str], Meta(max_length=1000)] | None = None
    # Equality on source metadata: page, heading, row_start, ...
    metadata: dict[MetaKey, MetaValue] | None = None


class SearchResult(msgspec.Struct, kw_only=True):
    text: str
    score: float
    document_id: str
    knowledge_base_id: str
    filename: str
    chunk_index: int
    metadata: dict[str, Any]


class SearchResponse(msgspec.Struct, kw_only=True):
    results: list[SearchResult]
