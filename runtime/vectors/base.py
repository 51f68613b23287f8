"""The vector store contract: chunks of documents, searched within knowledge bases."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

# Payload fields every point carries; kb_id and doc_id are indexed keywords.
KB_ID = "kb_id"
DOC_ID = "doc_id"
CHUNK_INDEX = "chunk_index"
TEXT = "text"
FILENAME = "filename"
# Source metadata (page, heading, rows...), filterable as ``meta.<key>``.
META = "meta"

# uuid5 namespace of point ids: the same document and chunk always give the same id,
# so indexing a document again overwrites its points instead of adding new ones.
POINT_NAMESPACE = uuid.UUID("6f1c1f0e-54b8-4c8e-9a57-2f0b0e6d7a11")

_META_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

MetaOp = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "empty", "not_empty"]
Scalar = str | int | float | bool


def point_id(document_id: str, chunk_index: int) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, f"{document_id}:{chunk_index}"))


@dataclass(frozen=True, slots=True)
class ChunkPoint:
    id: str
    vector: Sequence[float]
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MetaCondition:
    """One test on ``meta.<key>``; ``value`` is a list for in/not_in, absent for empty."""

    key: str
    op: MetaOp = "eq"
    value: Scalar | list[Scalar] | None = None

    def __post_init__(self) -> None:
        if not _META_KEY.match(self.key):
            raise ValueError(f"metadata key {self.key!r} must be a plain identifier")

    @property
    def path(self) -> str:
        return f"{META}.{self.key}"


@dataclass(frozen=True, slots=True)
class MetaFilter:
    """Conditions joined by AND (default) or, with ``match_any``, by OR."""

    conditions: tuple[MetaCondition, ...] = field(default_factory=tuple)
    match_any: bool = False

    @classmethod
    def equals(cls, values: dict[str, Scalar]) -> MetaFilter:
        return cls(tuple(MetaCondition(k, "eq", v) for k, v in values.items()))


# runtime_checkable: Litestar checks injected dependencies against their annotation.
@runtime_checkable
class VectorStore(Protocol):
    """Both backends (embedded Qdrant Edge, Qdrant server) pass one shared test suite."""

    async def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite; durable when it returns."""
        ...

    async def delete_document(self, document_id: str, *, from_chunk: int = 0) -> None:
        """Remove the document's points with ``chunk_index >= from_chunk``."""
        ...

    async def delete_kb(self, kb_id: str) -> None: ...

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
        """Best first, by cosine similarity; only points of ``kb_ids`` are considered."""
        ...

    async def count(self, *, kb_id: str | None = None, document_id: str | None = None) -> int: ...

    async def point_ids(self, document_id: str) -> list[str]: ...

    async def close(self) -> None: ...
