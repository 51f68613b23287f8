"""Projection of training events onto rows: job status and progress, metric curves, models.

Applying an event twice changes nothing: metrics are keyed by (job, step), a finished
job never goes back to running, and the adapter's model config is created once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event
from events.providers import ModelConfigCreated, ModelConfigData
from events.training import (
    JobCancelled,
    JobCheckpoint,
    JobCompleted,
    JobFailed,
    JobProgress,
    JobStarted,
)
from runtime.bus import Consumer, EventBus
from runtime.db.models import ModelConfig, TrainingJob, TrainingMetric, utcnow
from runtime.outbox import emit, publish_committed

FINISHED = ("succeeded", "failed", "cancelled")
_PROGRESS_FIELDS = (
    "step",
    "total_steps",
    "epoch",
    "loss",
    "eval_loss",
    "learning_rate",
    "grad_norm",
    "throughput",
    "elapsed_seconds",
    "remaining_seconds",
    "percentage",
)


async def _started(job: TrainingJob, event: JobStarted) -> None:
    if job.status not in FINISHED:
        job.status = "running"
    job.started_at = job.started_at or event.time
    job.attempts = max(job.attempts, event.data.attempt)
    job.swanlab_run_id = event.data.swanlab_run_id or job.swanlab_run_id
    if event.data.resumed_from_checkpoint:
        job.progress = {**job.progress, "resumed_from": event.data.resumed_from_checkpoint}


async def _progress(session: AsyncSession, job: TrainingJob, event: JobProgress) -> None:
    d = event.data
    metric = await session.get(TrainingMetric, (job.id, d.step))
    if metric is None:
        metric = TrainingMetric(job_id=job.id, step=d.step)
        session.add(metric)
    # The last line of a run repeats the step without a loss: keep what is known.
    for name in (
        "epoch",
        "loss",
        "eval_loss",
        "learning_rate",
        "grad_norm",
        "throughput",
        "elapsed_seconds",
    ):
        value = getattr(d, name)
        if value is not None:
            setattr(metric, name, value)
    await session.flush()
    if d.step >= int(job.progress.get("step", 0)):
        latest = {k: v for k in _PROGRESS_FIELDS if (v := getattr(d, k)) is not None}
        job.progress = {**job.progress, **latest}


async def _register_adapter(session: AsyncSession, job: TrainingJob, d: JobCompleted) -> None:
    """The adapter becomes a model config (kind ``adapter``), served on request."""
    if job.result_model_id:
        return
    base = await session.get(ModelConfig, d.data.base_model_id)
    alias = f"ft-{job.id[:12]}"
    config = ModelConfig(
        provider_id=None,
        model_id=alias,
        alias=alias,
        name=f"{base.name if base else 'model'} + {d.data.finetuning_type} ({job.id[:8]})",
        kind="adapter",
        local_path=d.data.adapter_path,
        enabled=True,
        capabilities={},
        parameters={},
    )
    session.add(config)
    await session.flush()
    job.result_model_id = config.id
    data = ModelConfigData(
        model_config_id=config.id,
        provider_id=None,
        model_id=config.model_id,
        alias=alias,
        name=config.name,
        enabled=True,
    )
    emit(session, ModelConfigCreated(subject=config.id, data=data))


async def _apply(session: AsyncSession, event: Event) -> None:
    job_id = getattr(getattr(event, "data", None), "job_id", None)
    if job_id is None:
        return
    job = await session.get(TrainingJob, job_id)
    if job is None:
        return  # deleted meanwhile
    if isinstance(event, JobStarted):
        await _started(job, event)
    elif isinstance(event, JobProgress):
        await _progress(session, job, event)
    elif isinstance(event, JobCheckpoint):
        kept = list(job.progress.get("checkpoints", []))
        if event.data.step not in kept:
            job.progress = {**job.progress, "checkpoints": sorted([*kept, event.data.step])}
    elif isinstance(event, JobCompleted) and job.status != "succeeded":
        job.status = "succeeded"
        job.finished_at = job.finished_at or event.time
        job.adapter_path = event.data.adapter_path
        job.report_path = event.data.report_path
        job.error = None
        job.progress = {
            **job.progress,
            "final_loss": event.data.final_loss,
            "best_loss": event.data.best_loss,
            "duration_seconds": event.data.duration_seconds,
        }
        await _register_adapter(session, job, event)
    elif isinstance(event, JobFailed) and job.status not in FINISHED:
        job.status = "failed"
        job.finished_at = event.time
        tail = "\n".join(event.data.log_tail[-20:])
        job.error = f"{event.data.error}\n--- last lines ---\n{tail}" if tail else event.data.error
    elif isinstance(event, JobCancelled) and job.status not in FINISHED:
        job.status = "cancelled"
        job.finished_at = event.time
    job.updated_at = utcnow()


def projection_consumer(
    session_factory: async_sessionmaker[AsyncSession], bus: EventBus
) -> Consumer:
    from handlers.training.export import apply_export_event
    from handlers.training.serving_projection import apply_server_event

    async def project(events: Sequence[Event]) -> None:
        async with session_factory() as session:
            for event in events:
                await _apply(session, event)
                await apply_server_event(session, event)
                await apply_export_event(session, event)
            await session.commit()
            await publish_committed(session, bus)

    return Consumer(
        name="training-projection",
        subjects=[
            "llmforge.training.job.>",
            "llmforge.training.server.>",
            "llmforge.training.export.*.completed",
        ],
        handler=project,
        batch=True,
        fetch_batch=64,
        description="keeps training jobs, metrics, adapters and model servers current",
    )
