"""One page of a listing and the total it belongs to, read in one statement.

Two statements (a count, then the page) each see their own snapshot under READ COMMITTED:
with rows arriving in between (audit entries, usage rows), ``total`` and ``items``
disagree. ``count(*) OVER ()`` counts the whole filtered set in the statement that reads
the page, before LIMIT and OFFSET apply, on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def page_of(
    session: AsyncSession, query: Select[T], *, limit: int, offset: int
) -> tuple[Sequence[T], int]:
    """Rows ``offset`` to ``offset + limit`` of ``query`` (one entity, ordered by the
    caller) and how many it has in all.

    A page past the end has no row to carry the count: a second statement counts then.
    """
    counted = query.add_columns(func.count().over()).limit(limit).offset(offset)
    rows = (await session.execute(counted)).all()
    if rows:
        return [row[0] for row in rows], int(rows[0][-1])
    if offset == 0:
        return [], 0
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return [], int(total or 0)
