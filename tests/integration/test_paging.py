"""page_of: a page and its total from one statement (one snapshot), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from runtime.db.models import AuditLog
from runtime.db.paging import page_of

T0 = datetime(2026, 12, 1, tzinfo=UTC)


async def _five_entries(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        session.add_all(
            AuditLog(
                id=f"e{i}",
                type="llmforge.test.thing.happened.v1",
                subject=f"s{i}",
                actor="u1",
                source="test",
                time=T0 + timedelta(minutes=i),
            )
            for i in range(5)
        )


async def test_pages_carry_the_total_of_the_whole_listing(
    session_factory: async_sessionmaker[AsyncSession], db_engine: AsyncEngine
) -> None:
    await _five_entries(session_factory)
    statements: list[str] = []
    event.listen(
        db_engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_: statements.append(sql),
    )
    query = select(AuditLog).order_by(AuditLog.time.desc())
    async with session_factory() as session:
        rows, total = await page_of(session, query, limit=2, offset=0)
        assert [r.id for r in rows] == ["e4", "e3"]
        assert total == 5
        # The rows and the count came from one statement, hence one snapshot.
        assert len(statements) == 1
        rows, total = await page_of(session, query, limit=2, offset=4)
        assert ([r.id for r in rows], total) == (["e0"], 5)
        # Past the end no row carries the count: it is read on its own.
        assert await page_of(session, query, limit=2, offset=9) == ([], 5)
        nothing = query.where(AuditLog.actor == "nobody")
        assert await page_of(session, nothing, limit=2, offset=0) == ([], 0)
