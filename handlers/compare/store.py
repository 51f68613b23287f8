"""Idempotent writes of comparison records: a repeated event or job changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from events.compare import ModelAnswer
from runtime.db.models import Base
from runtime.db.models.base import utcnow


async def insert_ignoring_duplicates(
    session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]], keys: list[str]
) -> None:
    """INSERT … ON CONFLICT (keys) DO NOTHING, in the session's transaction."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(model).on_conflict_do_nothing(index_elements=keys)
    elif dialect == "sqlite":
        statement = sqlite.insert(model).on_conflict_do_nothing(index_elements=keys)
    else:
        raise NotImplementedError(f"no idempotent insert for {dialect!r}")
    await session.execute(statement, list(rows))


def result_row(run_id: str, position: int, answer: ModelAnswer) -> dict[str, Any]:
    """A ``compare_results`` row from one model's answer (event and batch worker alike)."""
    return {
        "run_id": run_id,
        "model_config_id": answer.model_config_id,
        "position": position,
        "alias": answer.alias,
        "name": answer.name,
        "status": answer.status,
        "answer": answer.answer,
        "reasoning": answer.reasoning,
        "truncated": answer.truncated,
        "finish_reason": answer.finish_reason,
        "error": answer.error,
        "error_message": answer.error_message,
        **msgspec.structs.asdict(answer.metrics),
        "created_at": utcnow(),
    }
