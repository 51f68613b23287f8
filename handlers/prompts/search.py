"""Full-text search over templates: SQLite FTS5 or PostgreSQL tsvector, one behaviour.

Both match every word of the query as a prefix (``summ tra`` finds "Summarize … translation")
and rank by relevance. The index objects are created by migration 0002.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db import dialect_of
from runtime.db.models import PromptTemplate

_WORD = re.compile(r"\w+", re.UNICODE)
FTS_TABLE = "prompt_templates_fts"
PG_INDEX = "ix_prompt_templates_search"
# The indexed document; the PostgreSQL expression index is built on exactly this.
PG_DOCUMENT = (
    "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, '') || ' ' "
    "|| coalesce(category, '') || ' ' || coalesce(body, ''))"
)


# The table name is a constant; the user's words only ever travel as a bound parameter.
_FTS_QUERY = (
    f"SELECT id FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match "  # noqa: S608
    f"ORDER BY bm25({FTS_TABLE})"
)


def query_words(q: str) -> list[str]:
    # Only word characters reach the engines, so no query syntax can be injected.
    return _WORD.findall(q.lower())[:16]


async def matching_ids(
    session: AsyncSession, q: str, visible: ColumnElement[bool]
) -> list[str] | None:
    """Ids matching ``q`` best first, among visible templates; None when ``q`` has no words."""
    words = query_words(q)
    if not words:
        return None
    if dialect_of(session) == "postgresql":
        tsquery = func.to_tsquery("simple", " & ".join(f"{w}:*" for w in words))
        document: ColumnElement[object] = literal_column(PG_DOCUMENT)
        stmt = (
            select(PromptTemplate.id)
            .where(visible, document.op("@@")(tsquery))
            .order_by(func.ts_rank(document, tsquery).desc(), PromptTemplate.id)
        )
        return list((await session.scalars(stmt)).all())
    match = " ".join(f'"{w}"*' for w in words)
    ranked = text(_FTS_QUERY).bindparams(match=match)
    ids = [row[0] for row in await session.execute(ranked)]
    if not ids:
        return []
    allowed = set(
        (
            await session.scalars(
                select(PromptTemplate.id).where(visible, PromptTemplate.id.in_(ids))
            )
        ).all()
    )
    return [i for i in ids if i in allowed]


def has_tag(dialect: str, tag: str) -> ColumnElement[bool]:
    """``tags`` (a JSON list) contains ``tag``, in each database's JSON dialect."""
    if dialect == "postgresql":
        return literal_column("prompt_templates.tags::jsonb").op("?")(tag)
    return text(
        "EXISTS (SELECT 1 FROM json_each(prompt_templates.tags) WHERE json_each.value = :tag)"
    ).bindparams(tag=tag)  # type: ignore[return-value]
