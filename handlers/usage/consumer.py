"""The usage consumer: every ``llm.call.completed`` event becomes one llm_calls row, once."""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from events import Event
from events.llm import LlmCallCompleted
from runtime.bus import BOOKKEEPING_LINGER, Consumer
from runtime.db.models.providers import LlmCall

USAGE_SUBJECTS = ("llmforge.llm.>",)


def usage_row(event: LlmCallCompleted) -> dict[str, Any]:
    return {"id": event.id, "time": event.time, **msgspec.structs.asdict(event.data)}


@functools.cache
def insert_ignoring_duplicates(dialect: str) -> Insert:
    # The event id is the primary key: a redelivered event hits the conflict and is skipped.
    if dialect == "postgresql":
        return postgresql.insert(LlmCall).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "sqlite":
        return sqlite.insert(LlmCall).on_conflict_do_nothing(index_elements=["id"])
    raise NotImplementedError(f"llm_calls has no idempotent insert for {dialect!r}")


async def write_usage_rows(session: AsyncSession, events: list[Event]) -> int:
    """Add the rows to the session's transaction; other event types are ignored."""
    rows = [usage_row(e) for e in events if isinstance(e, LlmCallCompleted)]
    if rows:
        statement = insert_ignoring_duplicates(session.get_bind().dialect.name)
        await session.execute(statement, rows)
    return len(rows)


def usage_consumer(
    session_factory: async_sessionmaker[AsyncSession], *, fetch_batch: int = 256
) -> Consumer:
    """One transaction per batch: the gateway may produce thousands of calls a second."""

    async def record(events: list[Event]) -> None:
        async with session_factory() as session, session.begin():
            await write_usage_rows(session, events)

    return Consumer(
        name="usage",
        subjects=USAGE_SUBJECTS,
        handler=record,
        batch=True,
        fetch_batch=fetch_batch,
        linger=BOOKKEEPING_LINGER,
        description="keeps one llm_calls row per gateway call, idempotent by event id",
    )
