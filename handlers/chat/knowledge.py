"""Chat with knowledge: a session's bases, the chunks each turn retrieves, the prompt block.

Retrieval runs in the turn's producer before the upstream stream opens; its chunks become
one system block with numbered sources, the ``citations`` SSE event, and the turn event's
``citations`` (stored in the answer's ``meta_info``). A failed retrieval is logged and the
turn goes on without sources.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.chat import TurnCitation
from handlers.auth import CurrentUser
from handlers.knowledge.retrieval import retrieve
from handlers.knowledge.service import readable_by
from runtime.db.models import KnowledgeBase
from runtime.errors import BadRequest
from runtime.llm.types import Message
from runtime.services import Services

log = structlog.get_logger(__name__)

DEFAULT_TOP_K = 5
INSTRUCTION = (
    "Answer using the numbered sources below when they are relevant, and cite each source "
    "you use as [n] (its number). If the sources do not answer the question, say so."
)


async def checked_ids(session: AsyncSession, user: CurrentUser, kb_ids: Sequence[str]) -> list[str]:
    """The ids, deduplicated in order; 400 when one is not a base the caller may read."""
    wanted = list(dict.fromkeys(kb_ids))
    if not wanted:
        return []
    found = set(
        await session.scalars(
            select(KnowledgeBase.id).where(KnowledgeBase.id.in_(wanted), readable_by(user))
        )
    )
    unknown = [kb_id for kb_id in wanted if kb_id not in found]
    if unknown:
        raise BadRequest(
            "unknown_knowledge_bases",
            detail=f"No knowledge bases {', '.join(unknown)}.",
            errors=[
                {"field": "knowledge_base_ids", "name": kb_id, "message": "no such knowledge base"}
                for kb_id in unknown
            ],
        )
    return wanted


async def gather(
    services: Services,
    kb_ids: Sequence[str],
    query: str,
    top_k: int | None,
    *,
    user_id: str,
    turn_id: str,
) -> list[TurnCitation]:
    """The turn's sources, best first; empty (and logged) when retrieval fails."""
    if not kb_ids:
        return []
    try:
        found = await retrieve(
            services, list(kb_ids), query, top_k or DEFAULT_TOP_K, user_id=user_id
        )
    except Exception as exc:
        log.warning(
            "chat_knowledge_retrieval_failed",
            turn_id=turn_id,
            knowledge_base_ids=list(kb_ids),
            error=repr(exc),
        )
        return []
    return [
        TurnCitation(
            index=index,
            document_id=c.document_id,
            knowledge_base_id=c.knowledge_base_id,
            filename=c.filename,
            chunk_index=c.chunk_index,
            score=c.score,
            text=c.text,
        )
        for index, c in enumerate(found, start=1)
    ]


def context_block(citations: Sequence[TurnCitation]) -> str:
    sources = "\n\n".join(f"[{c.index}] {c.filename} — {c.text}" for c in citations)
    return f"{INSTRUCTION}\n\nSources:\n\n{sources}"


def with_context(messages: Sequence[Message], citations: Sequence[TurnCitation]) -> list[Message]:
    """The messages with the sources as a system block (after the session's own prompt)."""
    out = list(messages)
    if not citations:
        return out
    block = context_block(citations)
    if out and out[0].role == "system" and isinstance(out[0].content, str):
        # One system message: some providers take only the first, or only one.
        out[0] = Message(role="system", content=f"{out[0].content}\n\n{block}")
    else:
        out.insert(0, Message(role="system", content=block))
    return out


def as_dicts(citations: Sequence[TurnCitation]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = msgspec.to_builtins(list(citations))
    return out
