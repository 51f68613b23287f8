"""Training job routes (/api/training/jobs): submit, read, cancel, live events, curves, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from litestar import Controller, Response, get, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from sqlalchemy.ext.asyncio import AsyncSession

from events import Event
from events.training import job_subjects
from handlers.auth import CurrentUser, Permission, requires
from handlers.deps import MAX_OFFSET
from handlers.events_feed.position import InvalidPosition, decode_position
from handlers.events_feed.stream import EventFeed
from handlers.events_feed.visibility import can_see
from handlers.training import service
from handlers.training.schemas import Job, JobCreate, JobPage, MetricPoint, Metrics
from runtime.bus import EventBus
from runtime.db.models import TrainingJob
from runtime.errors import BadRequest, NotFound
from runtime.settings import Settings

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]
ResumeHeader = Annotated[str | None, Parameter(header="Last-Event-ID", required=False)]
TRAINING_STREAM = "LLMFORGE_TRAINING"
# Litestar appends "; charset=utf-8" to text/* types itself.
_MEDIA = {"html": "text/html", "markdown": "text/markdown", "json": "application/json"}
_FILES = {"html": "report.html", "markdown": "report.md", "json": "report.json"}


def job_out(job: TrainingJob, warnings: list[str] | None = None) -> Job:
    return Job(
        id=job.id,
        owner_id=job.owner_id,
        status=job.status,
        base_model_id=job.base_model_id,
        dataset_ids=list(job.dataset_ids or []),
        hyperparameters=dict(job.hyperparameters or {}),
        progress=dict(job.progress or {}),
        error=job.error,
        swanlab_run_id=job.swanlab_run_id,
        result_model_id=job.result_model_id,
        output_dir=job.output_dir,
        adapter_path=job.adapter_path,
        report_url=f"/api/training/jobs/{job.id}/report" if job.report_path else None,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        warnings=warnings or [],
    )


class TrainingJobController(Controller):
    path = "/api/training/jobs"
    tags = ["training"]
    guards = [requires(Permission.TRAINING_RUN)]

    @post("/", operation_id="trainingJobsCreate", status_code=202)
    async def create(
        self,
        data: JobCreate,
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
    ) -> Job:
        """Validate, store the job ``queued`` and publish ``training.job.requested``."""
        job, warnings = await service.create(db_session, current_user, data, settings.data_dir)
        return job_out(job, warnings)

    @get("/", operation_id="trainingJobsList")
    async def list_jobs(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        status: str | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> JobPage:
        rows, total = await service.list_jobs(
            db_session, current_user, status=status, limit=limit, offset=offset
        )
        return JobPage(items=[job_out(j) for j in rows], total=total, limit=limit, offset=offset)

    @get("/{job_id:str}", operation_id="trainingJobsGet")
    async def get_one(
        self, job_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Job:
        return job_out(await service.get(db_session, current_user, job_id))

    @post("/{job_id:str}/cancel", operation_id="trainingJobsCancel", status_code=202)
    async def cancel(self, job_id: str, db_session: AsyncSession, current_user: CurrentUser) -> Job:
        """Publishes ``training.job.cancel_requested``; the owning worker stops the run."""
        return job_out(await service.cancel(db_session, current_user, job_id))

    @get("/{job_id:str}/events", operation_id="trainingJobsEvents")
    async def events(
        self,
        job_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        bus: EventBus,
        settings: Settings,
        last_event_id: ResumeHeader = None,
    ) -> ServerSentEvent:
        """SSE of the job's events from its first (or after ``Last-Event-ID``), then live."""
        await service.get(db_session, current_user, job_id)
        try:
            # No position: from the stream's start, filtered to this job by the server.
            resume = decode_position(last_event_id) if last_event_id else {TRAINING_STREAM: 0}
        except InvalidPosition as exc:
            raise BadRequest("invalid_resume_token", detail=str(exc)) from exc

        def visible(event: Event) -> bool:
            return can_see(current_user, event)

        feed = EventFeed(
            bus.fanout,
            [job_subjects(job_id)],
            visible,
            resume=resume,
            heartbeat=settings.event_feed.heartbeat_seconds,
            queue_size=settings.event_feed.queue_size,
        )
        return ServerSentEvent(feed.messages())

    @get("/{job_id:str}/metrics", operation_id="trainingJobsMetrics")
    async def metrics(
        self, job_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Metrics:
        job = await service.get(db_session, current_user, job_id)
        rows = await service.metrics(db_session, job.id)
        points = [
            MetricPoint(
                step=r.step,
                epoch=r.epoch,
                loss=r.loss,
                eval_loss=r.eval_loss,
                learning_rate=r.learning_rate,
                grad_norm=r.grad_norm,
                throughput=r.throughput,
                elapsed_seconds=r.elapsed_seconds,
            )
            for r in rows
        ]
        return Metrics(job_id=job.id, status=job.status, points=points)

    @get(
        "/{job_id:str}/report",
        operation_id="trainingJobsReport",
        opt={"media_types": tuple(_MEDIA.values())},
    )
    async def report(
        self,
        job_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        format: Literal["html", "markdown", "json"] = "html",
    ) -> Response[bytes]:
        """The report written when the job succeeded: HTML (images inline), Markdown, JSON."""
        job = await service.get(db_session, current_user, job_id)
        if not job.report_path:
            raise NotFound("report_not_ready", detail=f"The job is {job.status}; no report yet.")
        path = Path(job.report_path).parent / _FILES[format]
        if not path.is_file():
            raise NotFound("report_missing", detail="The report files are gone.")
        return Response(path.read_bytes(), media_type=_MEDIA[format])
