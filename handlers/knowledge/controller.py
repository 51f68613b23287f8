"""Knowledge-base routes: CRUD and search (/api/knowledge-bases)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.deps import MAX_OFFSET
from handlers.knowledge import service
from handlers.knowledge.deps import KNOWLEDGE_DEPENDENCIES
from handlers.knowledge.retrieval import search_bases
from handlers.knowledge.schemas import (
    KnowledgeBase,
    KnowledgeBaseCreate,
    KnowledgeBasePage,
    KnowledgeBaseUpdate,
    SearchRequest,
    SearchResponse,
)
from handlers.knowledge.views import kb_out, result_out
from handlers.quotas import within_quota
from runtime.embeddings import EmbeddingError, EmbeddingModels
from runtime.errors import ProblemError
from runtime.llm.metering import Caller
from runtime.settings import Settings
from runtime.vectors import MetaFilter, VectorStore

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


def embedding_failed(exc: EmbeddingError) -> ProblemError:
    return ProblemError(502, "embedding_failed", "Embedding failed", str(exc))


class KnowledgeBaseController(Controller):
    path = "/api/knowledge-bases"
    tags = ["knowledge"]
    guards = [requires(Permission.KNOWLEDGE_MANAGE)]
    dependencies = KNOWLEDGE_DEPENDENCIES

    @get("/", operation_id="knowledgeBasesList")
    async def list_bases(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        q: str | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> KnowledgeBasePage:
        rows, total = await service.list_bases(
            db_session, current_user, q=q, limit=limit, offset=offset
        )
        counts = await service.document_counts(db_session, [r.id for r in rows])
        items = [kb_out(r, counts.get(r.id, 0)) for r in rows]
        return KnowledgeBasePage(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="knowledgeBasesCreate", status_code=201)
    async def create(
        self,
        data: KnowledgeBaseCreate,
        db_session: AsyncSession,
        current_user: CurrentUser,
        embeddings: EmbeddingModels,
    ) -> KnowledgeBase:
        return kb_out(await service.create(db_session, current_user, data, embeddings), 0)

    @get("/{kb_id:str}", operation_id="knowledgeBasesGet")
    async def get_one(
        self, kb_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> KnowledgeBase:
        row = await service.get(db_session, current_user, kb_id)
        counts = await service.document_counts(db_session, [row.id])
        return kb_out(row, counts.get(row.id, 0))

    @patch("/{kb_id:str}", operation_id="knowledgeBasesUpdate")
    async def update(
        self,
        kb_id: str,
        data: KnowledgeBaseUpdate,
        db_session: AsyncSession,
        current_user: CurrentUser,
        embeddings: EmbeddingModels,
    ) -> KnowledgeBase:
        row = await service.update(db_session, current_user, kb_id, data, embeddings)
        counts = await service.document_counts(db_session, [row.id])
        return kb_out(row, counts.get(row.id, 0))

    @delete("/{kb_id:str}", operation_id="knowledgeBasesDelete", status_code=204)
    async def remove(
        self,
        kb_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        vectors: VectorStore,
        settings: Settings,
    ) -> None:
        await service.delete(db_session, current_user, kb_id, vectors, settings.data_dir)

    # A search embeds the query, through a provider when the base uses one: it spends.
    @post(
        "/{kb_id:str}/search",
        operation_id="knowledgeBasesSearch",
        status_code=200,
        guards=[within_quota],
    )
    async def search(
        self,
        kb_id: str,
        data: SearchRequest,
        db_session: AsyncSession,
        current_user: CurrentUser,
        embeddings: EmbeddingModels,
        vectors: VectorStore,
    ) -> SearchResponse:
        """Top-k chunks by cosine similarity; ``metadata`` filters by equality."""
        row = await service.get(db_session, current_user, kb_id)
        try:
            citations = await search_bases(
                [row],
                data.query,
                embeddings=embeddings,
                vectors=vectors,
                top_k=data.top_k,
                score_threshold=data.score_threshold,
                document_ids=data.document_ids,
                metadata=MetaFilter.equals(data.metadata) if data.metadata else None,
                caller=Caller(
                    user_id=current_user.id, api_key_id=current_user.api_key_id, origin="knowledge"
                ),
            )
        except EmbeddingError as exc:
            raise embedding_failed(exc) from exc
        return SearchResponse(results=[result_out(c) for c in citations])
