"""Retrieval: the query embedded per model, top-k chunks of the bases, as citations.

``retrieve`` is the entry point for other features (chat with knowledge): it takes
base ids and a query and returns ``Citation``s, best first, ready to quote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, select

from runtime.db.models import KnowledgeBase
from runtime.embeddings import EmbeddingModels
from runtime.llm.metering import Caller
from runtime.services import Services
from runtime.vectors import Hit, MetaFilter, VectorStore


class Citation(msgspec.Struct, kw_only=True, frozen=True):
    """One retrieved chunk; ``rank`` numbers citations from 1 in the order given."""

    rank: int
    text: str
    score: float
    document_id: str
    knowledge_base_id: str
    filename: str
    chunk_index: int
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


def _citation(rank: int, hit: Hit) -> Citation:
    p = hit.payload
    return Citation(
        rank=rank,
        text=str(p.get("text", "")),
        score=hit.score,
        document_id=str(p.get("doc_id", "")),
        knowledge_base_id=str(p.get("kb_id", "")),
        filename=str(p.get("filename", "")),
        chunk_index=int(p.get("chunk_index", 0)),
        metadata=dict(p.get("meta") or {}),
    )


async def search_bases(
    bases: Sequence[KnowledgeBase],
    query: str,
    *,
    embeddings: EmbeddingModels,
    vectors: VectorStore,
    top_k: int = 5,
    score_threshold: float | None = None,
    document_ids: Sequence[str] | None = None,
    metadata: MetaFilter | None = None,
    caller: Caller | None = None,
) -> list[Citation]:
    """Best ``top_k`` chunks over ``bases``; the query is embedded once per model."""
    by_model: dict[str, list[str]] = {}
    for kb in bases:
        if kb.embedding_dimension is not None:  # None: nothing indexed yet
            by_model.setdefault(kb.embedding_model, []).append(kb.id)
    hits: list[Hit] = []
    for model, kb_ids in by_model.items():
        [vector] = await embeddings.for_model(model, caller).embed([query])
        hits += await vectors.search(
            kb_ids,
            vector,
            top_k=top_k,
            score_threshold=score_threshold,
            document_ids=document_ids,
            metadata=metadata,
        )
    # Scores of different models are not strictly comparable; with one model per
    # request, which is the common case, this order is exact.
    hits.sort(key=lambda h: h.score, reverse=True)
    return [_citation(rank, hit) for rank, hit in enumerate(hits[:top_k], start=1)]


async def retrieve(
    services: Services,
    kb_ids: Sequence[str],
    query: str,
    top_k: int = 5,
    *,
    user_id: str | None = None,
    score_threshold: float | None = None,
) -> list[Citation]:
    """Citations for ``query`` from the given bases (unknown ids are skipped).

    With ``user_id``, only bases that user may read (own or shared) are searched.
    Raises ``runtime.embeddings.EmbeddingError`` when the query cannot be embedded.
    """
    if services.embeddings is None or services.vectors is None:
        raise RuntimeError("knowledge retrieval is not running in this process")
    where: list[ColumnElement[bool]] = [KnowledgeBase.id.in_(list(kb_ids))]
    if user_id is not None:
        where.append((KnowledgeBase.shared.is_(True)) | (KnowledgeBase.owner_id == user_id))
    async with services.session_factory() as session:
        bases = (await session.scalars(select(KnowledgeBase).where(*where))).all()
    return await search_bases(
        bases,
        query,
        embeddings=services.embeddings,
        vectors=services.vectors,
        top_k=top_k,
        score_threshold=score_threshold,
        caller=Caller(user_id=user_id, origin="knowledge"),
    )


def format_context(citations: Sequence[Citation]) -> str:
    """Citations as a prompt block: ``[1] file (page 2)`` then the text, per chunk."""
    blocks = []
    for c in citations:
        where = [f"page {c.metadata['page']}"] if "page" in c.metadata else []
        if c.metadata.get("heading"):
            where.append(str(c.metadata["heading"]))
        place = f" ({', '.join(where)})" if where else ""
        blocks.append(f"[{c.rank}] {c.filename}{place}\n{c.text}")
    return "\n\n".join(blocks)
