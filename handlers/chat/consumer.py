"""The chat consumer: each turn event becomes its two messages, exactly once.

Message ids come from the handler that streamed the turn, so a redelivered or re-published
event finds its rows and inserts nothing. Siblings are settled by creation time rather
than by arrival: whichever order two regenerations are persisted in, the newest answer
ends up current and the other superseded.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from events import Event
from events.chat import TurnCancelled, TurnCompleted, TurnEvent, TurnFailed
from handlers.chat.records import turn_rows
from runtime.bus import Consumer
from runtime.db.models import ChatMessage, ChatSession, utcnow

CHAT_TURN_SUBJECTS = ("llmforge.chat.turn.>",)


@functools.cache
def insert_ignoring_duplicates(dialect: str) -> Insert:
    if dialect == "postgresql":
        return postgresql.insert(ChatMessage).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "sqlite":
        return sqlite.insert(ChatMessage).on_conflict_do_nothing(index_elements=["id"])
    raise NotImplementedError(f"chat_messages has no idempotent insert for {dialect!r}")


async def _settle_siblings(session: AsyncSession, row: dict[str, Any]) -> None:
    """Older siblings of a new message are superseded; a newer one supersedes it."""
    new_id: str = row["id"]
    created: datetime = row["created_at"]
    parent = row["parent_id"]
    siblings = and_(
        ChatMessage.session_id == row["session_id"],
        ChatMessage.parent_id.is_(None) if parent is None else ChatMessage.parent_id == parent,
        ChatMessage.id != new_id,
    )
    older = or_(
        ChatMessage.created_at < created,
        and_(ChatMessage.created_at == created, ChatMessage.id < new_id),
    )
    await session.execute(
        update(ChatMessage)
        .where(siblings, older, ChatMessage.superseded_at.is_(None))
        .values(superseded_at=created)
    )
    newer = await session.scalar(
        select(exists().where(siblings, ~older, ChatMessage.deleted_at.is_(None)))
    )
    if newer:
        await session.execute(
            update(ChatMessage).where(ChatMessage.id == new_id).values(superseded_at=utcnow())
        )


async def persist_turn(session: AsyncSession, event: TurnEvent) -> int:
    """Write the turn in the caller's transaction; returns how many rows were new."""
    session_id = event.data.session_id
    if await session.get(ChatSession, session_id) is None:
        return 0  # the session was deleted while its turn was on the way
    statement = insert_ignoring_duplicates(session.get_bind().dialect.name)
    inserted = 0
    for row in turn_rows(event):
        result = await session.execute(statement.values(**row))
        if getattr(result, "rowcount", 0) == 1:
            inserted += 1
            await _settle_siblings(session, row)
    if inserted:
        await session.execute(
            update(ChatSession).where(ChatSession.id == session_id).values(updated_at=utcnow())
        )
    return inserted


def chat_consumer(session_factory: async_sessionmaker[AsyncSession]) -> Consumer:
    """One transaction per turn; one at a time, which also suits SQLite's single writer."""

    async def persist(event: Event) -> None:
        if not isinstance(event, TurnCompleted | TurnFailed | TurnCancelled):
            return
        async with session_factory() as session, session.begin():
            await persist_turn(session, event)

    return Consumer(
        name="chat",
        subjects=CHAT_TURN_SUBJECTS,
        handler=persist,
        description="persists each chat turn's messages once, by the ids in the event",
    )
