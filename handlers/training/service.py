"""Training job use cases: accept (validate, store queued, publish), read, cancel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from events.training import (
    DatasetFile,
    JobCancelled,
    JobCancelledData,
    JobCancelRequested,
    JobData,
    JobRequested,
    JobRequestedData,
)
from handlers.auth import CurrentUser
from handlers.training import checks
from handlers.training.schemas import JobCreate
from runtime.db.models import Dataset, ModelConfig, TrainingJob, TrainingMetric, new_id, utcnow
from runtime.db.paging import page_of
from runtime.errors import Conflict, NotFound, Unprocessable
from runtime.outbox import emit

TERMINAL = ("succeeded", "failed", "cancelled")
# Request fields that are not LLaMA-Factory arguments.
_NOT_HYPERPARAMETERS = ("base_model_id", "dataset_ids", "eval_dataset_ids", "evaluation")


def jobs_root(data_dir: Path) -> Path:
    return data_dir / "training" / "jobs"


def _visible(user: CurrentUser) -> ColumnElement[bool]:
    return true() if user.is_admin else TrainingJob.owner_id == user.id


async def _datasets(session: AsyncSession, user: CurrentUser, ids: Sequence[str]) -> list[Dataset]:
    if not ids:
        return []
    query = select(Dataset).where(Dataset.id.in_(ids))
    if not user.is_admin:
        query = query.where(Dataset.owner_id == user.id)
    found = {d.id: d for d in await session.scalars(query)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Unprocessable("unknown_dataset", detail=f"No dataset {', '.join(missing)}.")
    return [found[i] for i in dict.fromkeys(ids)]


def _file(d: Dataset) -> DatasetFile:
    return DatasetFile(
        dataset_id=d.id,
        name=d.name,
        file_path=d.file_path,
        info=d.info,
        num_records=d.num_records,
        stats=d.stats,
    )


async def create(
    session: AsyncSession, user: CurrentUser, data: JobCreate, data_dir: Path
) -> tuple[TrainingJob, list[str]]:
    checks.hardware(data)
    base = await session.get(ModelConfig, data.base_model_id)
    model_path = checks.base_model_path(base, data.base_model_id)
    template = checks.template(data, model_path)
    train_sets = await _datasets(session, user, data.dataset_ids)
    eval_sets = await _datasets(session, user, data.eval_dataset_ids)
    warnings = checks.fit(data, train_sets)
    hyperparameters = {
        k: v
        for k, v in msgspec.structs.asdict(data).items()
        if k not in _NOT_HYPERPARAMETERS and v is not None
    }
    hyperparameters["template"] = template
    job_id = new_id()
    output_dir = (jobs_root(data_dir) / job_id / "output").resolve()
    job = TrainingJob(
        id=job_id,
        owner_id=user.id,
        base_model_id=data.base_model_id,
        status="queued",
        dataset_ids=[d.id for d in train_sets],
        hyperparameters=hyperparameters,
        output_dir=str(output_dir),
        progress={"eval_dataset_ids": [d.id for d in eval_sets]} if eval_sets else {},
    )
    session.add(job)
    await session.flush()
    from handlers.evaluation.service import plan_for_job  # the evaluation imports this module

    await plan_for_job(session, job, data.evaluation)
    spec = JobRequestedData(
        job_id=job.id,
        owner_id=user.id,
        base_model_id=data.base_model_id,
        base_model_path=model_path,
        datasets=[_file(d) for d in train_sets],
        eval_datasets=[_file(d) for d in eval_sets],
        hyperparameters=hyperparameters,
        output_dir=str(output_dir),
    )
    event = JobRequested(
        subject=job.id,
        actor=user.id,
        data=spec,
    )
    emit(session, event)
    return job, warnings


async def get(session: AsyncSession, user: CurrentUser, job_id: str) -> TrainingJob:
    job = await session.scalar(select(TrainingJob).where(TrainingJob.id == job_id, _visible(user)))
    if job is None:
        raise NotFound("job_not_found", detail=f"No training job {job_id}.")
    return job


async def list_jobs(
    session: AsyncSession, user: CurrentUser, *, status: str | None, limit: int, offset: int
) -> tuple[Sequence[TrainingJob], int]:
    query = select(TrainingJob).where(_visible(user))
    if status:
        query = query.where(TrainingJob.status == status)
    query = query.order_by(TrainingJob.created_at.desc(), TrainingJob.id)
    return await page_of(session, query, limit=limit, offset=offset)


async def cancel(session: AsyncSession, user: CurrentUser, job_id: str) -> TrainingJob:
    """Queued: cancelled at once. Running: the owning worker stops it and reports back."""
    job = await get(session, user, job_id)
    if job.status in TERMINAL:
        raise Conflict("job_finished", detail=f"The job is already {job.status}.")
    ids = JobData(job_id=job.id, owner_id=job.owner_id)
    emit(session, JobCancelRequested(subject=job.id, actor=user.id, data=ids))
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
        data = JobCancelledData(job_id=job.id, owner_id=job.owner_id, reason="cancelled_queued")
        emit(session, JobCancelled(subject=job.id, actor=user.id, data=data))
    return job


async def metrics(session: AsyncSession, job_id: str) -> Sequence[TrainingMetric]:
    query = select(TrainingMetric).where(TrainingMetric.job_id == job_id)
    return (await session.scalars(query.order_by(TrainingMetric.step))).all()
