"""The batch job's records: what is left to run, each answer with its progress, the end.

Each answer is stored in its own transaction together with its progress event (outbox),
so a worker that dies mid-batch loses at most the answers in flight: the redelivered
message finds the stored ones and runs only the rest.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import msgspec
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.compare import (
    CompareBatchCompleted,
    CompareBatchCompletedData,
    CompareBatchProgress,
    CompareBatchProgressData,
    ModelSummary,
)
from handlers.compare.batches import model_summaries
from handlers.compare.calls import Answer
from handlers.compare.schemas import ModelRef
from handlers.compare.store import insert_ignoring_duplicates, result_row
from runtime.bus.connection import EventBus
from runtime.db.models import CompareBatch, CompareResult, CompareRun, utcnow
from runtime.outbox import emit, publish_committed

# Answers kept per result row; the database, not the broker, is the limit here.
RESULT_BUDGET = 2 * 1024 * 1024
_IDS = uuid.UUID("6f1d7c52-8a43-4d0e-9b6a-2f5e1c3d4b70")


def stable_id(*parts: object) -> str:
    """The same id on every delivery: run rows and event ids that a retry reproduces."""
    return uuid.uuid5(_IDS, "/".join(map(str, parts))).hex


@dataclass(frozen=True, slots=True)
class Item:
    """One prompt for one model."""

    index: int
    run_id: str
    model: ModelRef


async def plan(
    sessions: async_sessionmaker[AsyncSession], batch_id: str
) -> tuple[CompareBatch, list[Item]] | None:
    """Mark the batch running, make sure every prompt has its run row, list what is left."""
    async with sessions() as session, session.begin():
        batch = await session.get(CompareBatch, batch_id)
        if batch is None or batch.status == "completed":
            return None
        if batch.status == "queued":
            batch.status, batch.started_at = "running", utcnow()
        runs = [
            {
                "id": stable_id(batch.id, index),
                "user_id": batch.user_id,
                "batch_id": batch.id,
                "prompt_index": index,
                "prompt": prompt,
                "system_prompt": batch.system_prompt,
                "parameters": batch.parameters,
                "models": batch.models,
            }
            for index, prompt in enumerate(batch.prompts)
        ]
        await insert_ignoring_duplicates(session, CompareRun, runs, ["id"])
        keys = await session.execute(
            select(CompareResult.run_id, CompareResult.model_config_id)
            .join(CompareRun, CompareRun.id == CompareResult.run_id)
            .where(CompareRun.batch_id == batch.id)
        )
        stored = {(run_id, model_id) for run_id, model_id in keys}
        # A run its owner deleted mid-batch stays deleted: nothing more is asked for it.
        deleted = set(
            await session.scalars(
                select(CompareRun.id).where(
                    CompareRun.batch_id == batch.id, CompareRun.deleted_at.is_not(None)
                )
            )
        )
    models = [msgspec.convert(m, ModelRef) for m in batch.models]
    items = [
        Item(index, run["id"], model)
        for index, run in enumerate(runs)
        for model in models
        if run["id"] not in deleted and (run["id"], model.model_config_id) not in stored
    ]
    return batch, items


class BatchLedger:
    """Writes of one delivery of a batch job; one writer at a time."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], bus: EventBus, batch: CompareBatch
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._batch = batch
        # Progress counts stay in order, and SQLite sees no write contention.
        self._lock = asyncio.Lock()

    async def store(self, item: Item, answer: Answer) -> None:
        """Save one answer and stage its progress event, in one transaction."""
        batch = self._batch
        position = [m["model_config_id"] for m in batch.models].index(item.model.model_config_id)
        row = result_row(item.run_id, position, answer.snapshot(RESULT_BUDGET))
        async with self._lock, self._sessions() as session:
            async with session.begin():
                await insert_ignoring_duplicates(
                    session, CompareResult, [row], ["run_id", "model_config_id"]
                )
                done, errors = await _counts(session, batch.id)
                stored = await session.get(CompareBatch, batch.id)
                if stored is None:
                    return
                stored.done, stored.errors = done, errors
                progress = CompareBatchProgressData(
                    batch_id=batch.id,
                    user_id=batch.user_id,
                    done=done,
                    total=batch.total,
                    errors=errors,
                    prompt_index=item.index,
                    model_config_id=item.model.model_config_id,
                    status=answer.status,
                )
                emit(
                    session,
                    CompareBatchProgress(
                        id=stable_id(batch.id, "progress", done),
                        subject=batch.id,
                        actor=batch.user_id,
                        data=progress,
                    ),
                )
            await publish_committed(session, self._bus)

    async def complete(self) -> None:
        """Mark the batch completed with its summary; a second call does nothing."""
        batch_id = self._batch.id
        async with self._sessions() as session:
            async with session.begin():
                batch = await session.get(CompareBatch, batch_id)
                if batch is None or batch.status == "completed":
                    return
                done, errors = await _counts(session, batch_id)
                summaries = await model_summaries(session, batch, votes=False)
                batch.status, batch.completed_at = "completed", utcnow()
                batch.done, batch.errors = done, errors
                data = CompareBatchCompletedData(
                    batch_id=batch.id,
                    user_id=batch.user_id,
                    total=batch.total,
                    errors=errors,
                    models=[
                        msgspec.convert(msgspec.structs.asdict(s), ModelSummary) for s in summaries
                    ],
                )
                emit(
                    session,
                    CompareBatchCompleted(
                        id=stable_id(batch.id, "completed"),
                        subject=batch.id,
                        actor=batch.user_id,
                        data=data,
                    ),
                )
            await publish_committed(session, self._bus)


async def _counts(session: AsyncSession, batch_id: str) -> tuple[int, int]:
    """Stored answers and errors, counted rather than incremented: repeats cannot inflate."""
    row = (
        await session.execute(
            select(func.count(), func.sum(case((CompareResult.status == "error", 1), else_=0)))
            .join(CompareRun, CompareRun.id == CompareResult.run_id)
            .where(CompareRun.batch_id == batch_id)
        )
    ).one()
    return int(row[0]), int(row[1] or 0)
