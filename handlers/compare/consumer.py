"""The run record consumer: each ``compare.run.completed`` becomes one saved run, once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event
from events.compare import CompareRunCompleted
from handlers.compare.store import insert_ignoring_duplicates, result_row
from runtime.bus import Consumer
from runtime.db.models import CompareResult, CompareRun, User

RUN_SUBJECTS = (CompareRunCompleted.SUBJECT,)


def _run_row(event: CompareRunCompleted) -> dict[str, Any]:
    data = event.data
    return {
        "id": data.run_id,
        "user_id": data.user_id,
        "prompt": data.prompt,
        "system_prompt": data.system_prompt,
        "parameters": data.parameters,
        "models": [
            {"model_config_id": m.model_config_id, "alias": m.alias, "name": m.name}
            for m in data.models
        ],
        "created_at": event.time,
        "updated_at": event.time,
    }


async def save_runs(session: AsyncSession, events: list[Event]) -> int:
    """Add new runs with their results to the session's transaction; returns how many.

    The run id is the key: a redelivered event, or the same run published again under a
    new event id, finds its id taken (even by a deleted run's tombstone) and is skipped.
    """
    runs = {e.data.run_id: e for e in events if isinstance(e, CompareRunCompleted)}
    if not runs:
        return 0
    taken = set(await session.scalars(select(CompareRun.id).where(CompareRun.id.in_(list(runs)))))
    users = {e.data.user_id for e in runs.values()}
    # A user deleted meanwhile: their run has nowhere to go, and retrying will not help.
    live = set(await session.scalars(select(User.id).where(User.id.in_(list(users)))))
    fresh = [e for run_id, e in runs.items() if run_id not in taken and e.data.user_id in live]
    await insert_ignoring_duplicates(session, CompareRun, [_run_row(e) for e in fresh], ["id"])
    results = [
        result_row(e.data.run_id, i, answer)
        for e in fresh
        for i, answer in enumerate(e.data.models)
    ]
    await insert_ignoring_duplicates(session, CompareResult, results, ["run_id", "model_config_id"])
    return len(fresh)


def run_record_consumer(
    session_factory: async_sessionmaker[AsyncSession], *, fetch_batch: int = 64
) -> Consumer:
    """One transaction per batch of runs."""

    async def record(events: list[Event]) -> None:
        async with session_factory() as session, session.begin():
            await save_runs(session, events)

    return Consumer(
        name="compare-runs",
        subjects=RUN_SUBJECTS,
        handler=record,
        batch=True,
        fetch_batch=fetch_batch,
        description="saves each comparison run with its per-model results, idempotent by run id",
    )
