"""POST /api/dify/retrieval: a knowledge base as a Dify external knowledge base.

In Dify: Knowledge → External Knowledge API → endpoint ``<llmforge>/api/dify``, API key
a personal key (``lf_…``); then connect a knowledge base with its id as the External
Knowledge ID. Dify appends ``/retrieval`` itself.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
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
from runtime.db.models import KnowledgeBase
from runtime.embeddings import EmbeddingError, EmbeddingModels
from runtime.errors import ProblemError
from runtime.llm.metering import Caller
from runtime.security import looks_like_api_key
from runtime.vectors import VectorStore


async def _dify_credentials(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Dify's header rules first (1001), and personal API keys only (1002)."""
    header = connection.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
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


def _auth_failed(problem: ProblemError) -> DifyProblem:
    # Unknown, revoked or expired key, disabled owner, or a role without knowledge.manage.
    return DifyProblem(403, AUTH_FAILED, f"Authorization failed: {problem.detail or problem.title}")


class DifyController(Controller):
    path = "/api/dify"
    tags = ["dify"]
    dependencies = KNOWLEDGE_DEPENDENCIES
    exception_handlers = DIFY_EXCEPTION_HANDLERS
    guards = [_dify_credentials, requires(Permission.KNOWLEDGE_MANAGE, denied=_auth_failed)]

    @post("/retrieval", operation_id="difyRetrieval", status_code=200, security=[{"bearer": []}])
    async def retrieval(
        self,
        data: RetrievalRequest,
        db_session: AsyncSession,
        current_user: CurrentUser,
        embeddings: EmbeddingModels,
        vectors: VectorStore,
    ) -> RetrievalResponse:
        """Dify's External Knowledge API: ``{records: [{content, score, title, metadata}]}``."""
        user, key_id = current_user, current_user.api_key_id
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
