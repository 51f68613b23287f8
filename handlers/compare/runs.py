"""Saved comparison runs: owner-scoped reads and deletion."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.compare import CompareRunDeleted, CompareRunRef
from handlers.auth import CurrentUser
from runtime.db.models import CompareResult, CompareRun, CompareVote, utcnow
from runtime.db.paging import page_of
from runtime.errors import NotFound
from runtime.outbox import emit


async def get_owned(session: AsyncSession, user: CurrentUser, run_id: str) -> CompareRun:
    """The caller's run; 404 for anyone else's, so ids reveal nothing."""
    run = await session.get(CompareRun, run_id)
    if run is None or run.user_id != user.id or run.deleted_at is not None:
        raise NotFound("compare_run_not_found", detail=f"No comparison run {run_id}.")
    return run


async def list_runs(
    session: AsyncSession,
    user: CurrentUser,
    *,
    batch_id: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[CompareRun], int]:
    """Newest first: interactive runs, or with ``batch_id`` that batch's runs in prompt order."""
    query = select(CompareRun).where(CompareRun.user_id == user.id, CompareRun.deleted_at.is_(None))
    if batch_id is None:
        query = query.where(CompareRun.batch_id.is_(None)).order_by(
            CompareRun.created_at.desc(), CompareRun.id
        )
    else:
        query = query.where(CompareRun.batch_id == batch_id).order_by(CompareRun.prompt_index)
    return await page_of(session, query, limit=limit, offset=offset)


async def results_of(
    session: AsyncSession, run_ids: Sequence[str]
) -> dict[str, list[CompareResult]]:
    """Each run's results in the order its models were requested."""
    grouped: dict[str, list[CompareResult]] = {run_id: [] for run_id in run_ids}
    if run_ids:
        rows = await session.scalars(
            select(CompareResult)
            .where(CompareResult.run_id.in_(list(run_ids)))
            .order_by(CompareResult.run_id, CompareResult.position)
        )
        for row in rows:
            grouped[row.run_id].append(row)
    return grouped


async def delete_run(session: AsyncSession, user: CurrentUser, run_id: str) -> None:
    """Drop the answers and votes; the emptied row stays as a tombstone (see the model)."""
    run = await get_owned(session, user, run_id)
    await session.execute(delete(CompareResult).where(CompareResult.run_id == run.id))
    await session.execute(delete(CompareVote).where(CompareVote.run_id == run.id))
    run.deleted_at = utcnow()
    run.prompt, run.system_prompt, run.parameters = "", None, {}
    emit(session, CompareRunDeleted(subject=run.id, actor=user.id, data=_ref(run)))


def _ref(run: CompareRun) -> CompareRunRef:
    return CompareRunRef(run_id=run.id, user_id=run.user_id)
