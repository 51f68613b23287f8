"""Batch comparisons: queue one, read it back with its per-model summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.compare import CompareBatchRequested, CompareBatchRequestedData
from handlers.auth import CurrentUser
from handlers.compare.leaderboard import standings, with_votes
from handlers.compare.metrics import summarize
from handlers.compare.schemas import BatchCreate, BatchModelSummary
from handlers.compare.targets import resolve_models, stored_parameters
from runtime.db.models import CompareBatch, CompareResult, CompareRun
from runtime.db.paging import page_of
from runtime.errors import NotFound
from runtime.outbox import emit


async def create_batch(session: AsyncSession, user: CurrentUser, data: BatchCreate) -> CompareBatch:
    """Store the batch as ``queued`` and stage its work item in the same transaction."""
    models = await resolve_models(session, data.model_config_ids)
    batch = CompareBatch(
        user_id=user.id,
        name=data.name,
        status="queued",
        system_prompt=data.system_prompt,
        parameters=stored_parameters(data.parameters),
        models=[msgspec.to_builtins(m) for m in models],
        prompts=list(data.prompts),
        total=len(data.prompts) * len(models),
        done=0,
        errors=0,
    )
    session.add(batch)
    await session.flush()
    requested = CompareBatchRequestedData(
        batch_id=batch.id,
        user_id=user.id,
        name=batch.name,
        model_config_ids=[m.model_config_id for m in models],
        prompt_count=len(data.prompts),
        total=batch.total,
    )
    emit(session, CompareBatchRequested(subject=batch.id, actor=user.id, data=requested))
    return batch


async def get_owned(session: AsyncSession, user: CurrentUser, batch_id: str) -> CompareBatch:
    batch = await session.get(CompareBatch, batch_id)
    if batch is None or batch.user_id != user.id:
        raise NotFound("compare_batch_not_found", detail=f"No batch comparison {batch_id}.")
    return batch


async def list_batches(
    session: AsyncSession, user: CurrentUser, *, limit: int, offset: int
) -> tuple[Sequence[CompareBatch], int]:
    query = select(CompareBatch).where(CompareBatch.user_id == user.id)
    query = query.order_by(CompareBatch.created_at.desc(), CompareBatch.id)
    return await page_of(session, query, limit=limit, offset=offset)


async def batch_results(session: AsyncSession, batch_id: str) -> Sequence[CompareResult]:
    return (
        await session.scalars(
            select(CompareResult)
            .join(CompareRun, CompareRun.id == CompareResult.run_id)
            .where(CompareRun.batch_id == batch_id, CompareRun.deleted_at.is_(None))
        )
    ).all()


async def model_summaries(
    session: AsyncSession, batch: CompareBatch, *, votes: bool = True
) -> list[BatchModelSummary]:
    """Per model, in the batch's order: speed, cost, errors, and its record in votes."""
    by_model: dict[str, list[CompareResult]] = defaultdict(list)
    for row in await batch_results(session, batch.id):
        by_model[row.model_config_id].append(row)
    record = await standings(session, batch_id=batch.id) if votes else {}
    out = []
    for model in batch.models:
        model_id = model["model_config_id"]
        plain = summarize(model_id, model["alias"], by_model[model_id])
        summary = BatchModelSummary(**msgspec.structs.asdict(plain))
        out.append(with_votes(summary, record.get(model_id)))
    return out
