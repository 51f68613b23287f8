"""The audit consumer: every event on the bus becomes one audit_log row, exactly once."""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from events import Event
from events.streams import SUBJECT_ROOT
from runtime.bus import BOOKKEEPING_LINGER, Consumer
from runtime.db.models import AuditLog

AUDIT_SUBJECTS = (f"{SUBJECT_ROOT}.>",)


def audit_row(event: Event) -> dict[str, Any]:
    data = msgspec.to_builtins(getattr(event, "data", None))
    return {
        "id": event.id,
        "type": event.type,
        "subject": event.subject,
        "actor": event.actor,
        "source": event.source,
        "time": event.time,
        "data": data if isinstance(data, dict) else {"value": data},
    }


@functools.cache
def insert_ignoring_duplicates(dialect: str) -> Insert:
    # The event id is the primary key: a redelivered or re-published event hits the
    # conflict and is skipped, which is what makes the consumer idempotent.
    if dialect == "postgresql":
        return postgresql.insert(AuditLog).on_conflict_do_nothing(index_elements=["id"])
    if dialect == "sqlite":
        return sqlite.insert(AuditLog).on_conflict_do_nothing(index_elements=["id"])
    raise NotImplementedError(f"audit log has no idempotent insert for {dialect!r}")


async def write_audit_rows(session: AsyncSession, events: list[Event]) -> None:
    """Add the rows to the session's transaction; the caller commits."""
    if not events:
        return
    statement = insert_ignoring_duplicates(session.get_bind().dialect.name)
    await session.execute(statement, [audit_row(event) for event in events])


def audit_consumer(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    fetch_batch: int = 256,
    concurrency: int = 1,
) -> Consumer:
    """One transaction per batch. One writer suits SQLite; PostgreSQL can take more."""

    async def record(events: list[Event]) -> None:
        async with session_factory() as session, session.begin():
            await write_audit_rows(session, events)

    return Consumer(
        name="audit",
        subjects=AUDIT_SUBJECTS,
        handler=record,
        batch=True,
        concurrency=concurrency,
        fetch_batch=fetch_batch,
        linger=BOOKKEEPING_LINGER,
        description="writes every event to audit_log, idempotent by event id",
    )
