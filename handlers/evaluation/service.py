"""Evaluation use cases: plan one with a new job, re-run it, read it with its examples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.evaluation import EvaluationData, EvaluationRequested
from handlers.auth import CurrentUser
from handlers.evaluation.prompts import has_validation
from handlers.evaluation.schemas import EvaluationRerun
from handlers.training import service as jobs
from handlers.training.schemas import EvaluationSpec
from runtime.db.models import (
    ModelConfig,
    TrainingEvaluation,
    TrainingEvaluationExample,
    TrainingJob,
)
from runtime.errors import Conflict, NotFound, Unprocessable
from runtime.outbox import emit

_SETTINGS = ("prompts", "judge_model_id", "max_examples", "max_tokens")


def _settings(spec: EvaluationSpec) -> dict[str, Any]:
    raw: dict[str, Any] = msgspec.to_builtins(spec)
    return {k: raw.get(k) for k in _SETTINGS}


async def _check(session: AsyncSession, job: TrainingJob, settings: dict[str, Any]) -> None:
    judge_id = settings.get("judge_model_id")
    if judge_id is not None:
        judge = await session.get(ModelConfig, judge_id)
        if judge is None or not judge.enabled:
            raise Unprocessable(
                "unknown_judge_model", detail=f"No enabled model config {judge_id} to judge."
            )
    if not settings.get("prompts") and not await has_validation(
        session, list(job.dataset_ids or [])
    ):
        raise Unprocessable(
            "no_evaluation_prompts",
            detail="The datasets have no validation split: give evaluation prompts "
            "(or disable the evaluation).",
        )


async def plan_for_job(
    session: AsyncSession, job: TrainingJob, spec: EvaluationSpec | None
) -> TrainingEvaluation | None:
    """Store the job's evaluation ``pending``; it runs when the job succeeds.

    Without a spec, only jobs whose datasets hold a validation split are evaluated; an
    explicit one without prompts to use is a 422.
    """
    if spec is not None and not spec.enabled:
        return None
    settings = _settings(spec or EvaluationSpec())
    if spec is None and not await has_validation(session, list(job.dataset_ids or [])):
        return None
    await _check(session, job, settings)
    row = TrainingEvaluation(
        job_id=job.id,
        owner_id=job.owner_id,
        status="pending",
        run=1,
        settings=settings,
        base_model_id=job.base_model_id,
        judge_model_id=settings.get("judge_model_id"),
        server_ids=[],
        summary={},
    )
    session.add(row)
    await session.flush()
    return row


async def _row(session: AsyncSession, job_id: str, *, lock: bool = False) -> TrainingEvaluation:
    query = select(TrainingEvaluation).where(TrainingEvaluation.job_id == job_id)
    row = await session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound("evaluation_not_found", detail=f"Job {job_id} has no evaluation.")
    return row


async def get(
    session: AsyncSession, user: CurrentUser, job_id: str
) -> tuple[TrainingEvaluation, Sequence[TrainingEvaluationExample]]:
    job = await jobs.get(session, user, job_id)
    row = await _row(session, job.id)
    examples = await session.scalars(
        select(TrainingEvaluationExample)
        .where(TrainingEvaluationExample.evaluation_id == row.id)
        .order_by(TrainingEvaluationExample.index)
    )
    return row, examples.all()


async def rerun(
    session: AsyncSession, user: CurrentUser, job_id: str, change: EvaluationRerun
) -> TrainingEvaluation:
    """Start the evaluation over (a new run), with the changed settings; 409 until the
    job succeeded. A run still going stops at its next write."""
    job = await jobs.get(session, user, job_id)
    if job.status != "succeeded" or not job.result_model_id:
        raise Conflict("job_not_succeeded", detail=f"The job is {job.status}; nothing to evaluate.")
    try:
        row = await _row(session, job.id, lock=True)
    except NotFound:
        row = TrainingEvaluation(
            job_id=job.id,
            owner_id=job.owner_id,
            run=0,
            settings=_settings(EvaluationSpec()),
            base_model_id=job.base_model_id,
            server_ids=[],
            summary={},
        )
        session.add(row)
        await session.flush()
    settings = dict(row.settings or {})
    for name in _SETTINGS:
        value = getattr(change, name)
        if value is not msgspec.UNSET:
            settings[name] = value
    await _check(session, job, settings)
    await session.execute(
        delete(TrainingEvaluationExample).where(TrainingEvaluationExample.evaluation_id == row.id)
    )
    row.settings = settings
    row.run += 1
    row.status, row.error, row.summary = "pending", None, {}
    row.done, row.total = 0, 0
    row.judge_model_id = settings.get("judge_model_id")
    row.started_at = row.finished_at = None
    await session.flush()
    data = EvaluationData(job_id=job.id, owner_id=job.owner_id, evaluation_id=row.id, run=row.run)
    emit(session, EvaluationRequested(subject=job.id, actor=user.id, data=data))
    return row
