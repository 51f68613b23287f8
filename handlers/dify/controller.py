"""POST /api/dify/retrieval: a knowledge base as a Dify external knowledge base.

In Dify: Knowledge → External Knowledge API → endpoint ``<llmforge>/api/dify``, API key
a personal key (``lf_…``); then connect a knowledge base with its id as the External
Knowledge ID. Dify appends ``/retrieval`` itself.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth.principal import resolve_api_key
from handlers.dify.conditions import UnsupportedCondition, to_filter
from handlers.dify.errors import (
    AUTH_FAILED,
    DIFY_EXCEPTION_HANDLERS,
    INVALID_AUTH_HEADER,
    INVALID_REQUEST,
    KNOWLEDGE_NOT_FOUND,
    RETRIEVAL_FAILED,
    DifyProblem,
)
from handlers.dify.schemas import Record, RetrievalRequest, RetrievalResponse
from handlers.knowledge.deps import KNOWLEDGE_DEPENDENCIES
from handlers.knowledge.retrieval import search_bases
from runtime.db.models import KnowledgeBase, User
from runtime.embeddings import EmbeddingError, EmbeddingModels
from runtime.errors import ProblemError
from runtime.llm.metering import Caller
from runtime.security import looks_like_api_key
from runtime.vectors import VectorStore


async def _caller(request: Request[Any, Any, Any], session: AsyncSession) -> tuple[User, str]:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise DifyProblem(
            403,
            INVALID_AUTH_HEADER,
            "Invalid Authorization header format. Expected 'Bearer <api-key>' format.",
        )
    if not looks_like_api_key(token):
        raise DifyProblem(
            403, AUTH_FAILED, "Authorization failed: use a personal API key (lf_...)."
        )
    try:
        user, key = await resolve_api_key(session, token)
    except ProblemError as exc:
        raise DifyProblem(403, AUTH_FAILED, f"Authorization failed: {exc.detail}") from exc
    return user, key.id


class DifyController(Controller):
    path = "/api/dify"
    tags = ["dify"]
    dependencies = KNOWLEDGE_DEPENDENCIES
    exception_handlers = DIFY_EXCEPTION_HANDLERS

    @post("/retrieval", operation_id="difyRetrieval", status_code=200, security=[{"bearer": []}])
    async def retrieval(
        self,
        request: Request[Any, Any, Any],
        data: RetrievalRequest,
        db_session: AsyncSession,
        embeddings: EmbeddingModels,
        vectors: VectorStore,
    ) -> RetrievalResponse:
        """Dify's External Knowledge API: ``{records: [{content, score, title, metadata}]}``."""
        user, key_id = await _caller(request, db_session)
        kb = await db_session.scalar(
            select(KnowledgeBase).where(
                KnowledgeBase.id == data.knowledge_id,
                (KnowledgeBase.shared.is_(True)) | (KnowledgeBase.owner_id == user.id),
            )
        )
        if kb is None:
            raise DifyProblem(404, KNOWLEDGE_NOT_FOUND, "The knowledge does not exist.")
        try:
            metadata = to_filter(data.metadata_condition)
        except UnsupportedCondition as exc:
            raise DifyProblem(400, INVALID_REQUEST, str(exc)) from exc
        setting = data.retrieval_setting
        try:
            citations = await search_bases(
                [kb],
                data.query,
                embeddings=embeddings,
                vectors=vectors,
                top_k=setting.top_k,
                score_threshold=setting.score_threshold or None,
                metadata=metadata,
                caller=Caller(user_id=user.id, api_key_id=key_id, origin="dify"),
            )
        except EmbeddingError as exc:
            raise DifyProblem(502, RETRIEVAL_FAILED, f"Retrieval failed: {exc}") from exc
        records = [
            Record(
                content=c.text,
                score=c.score,
                title=c.filename,
                metadata={
                    **c.metadata,
                    "document_id": c.document_id,
                    "knowledge_base_id": c.knowledge_base_id,
                    "chunk_index": c.chunk_index,
                    "filename": c.filename,
                },
            )
            for c in citations
        ]
        return RetrievalResponse(records=records)
