"""Events of the training domain: datasets, fine-tuning jobs and served adapters.

Job events carry the job id as a subject token (``llmforge.training.job.<id>.<verb>``) so
one job's feed is a single filter, and ``owner_id`` so the visibility rule can tell who
may see them. The ``requested`` event holds the whole job spec: a worker needs nothing
else to run it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from events.envelope import Event


class DatasetData(msgspec.Struct, frozen=True, kw_only=True):
    dataset_id: str
    owner_id: str
    name: str
    version: int
    format: str
    content_hash: str
    num_records: int = 0


class DatasetCreated(Event, frozen=True, kw_only=True, tag="llmforge.training.dataset.created.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.dataset.created"
    data: DatasetData


class DatasetDeleted(Event, frozen=True, kw_only=True, tag="llmforge.training.dataset.deleted.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.dataset.deleted"
    data: DatasetData


class DatasetCollectedData(msgspec.Struct, frozen=True, kw_only=True):
    """A dataset built from rated chats and compare votes (``POST /api/datasets/collect``)."""

    dataset_id: str
    owner_id: str
    name: str
    version: int
    format: str
    # The held-out split, stored as its own dataset; None when nothing was held out.
    validation_dataset_id: str | None = None
    pairs: int = 0
    duplicates_dropped: int = 0
    train_records: int = 0
    validation_records: int = 0
    # Pairs by origin: chat, compare, or manual (added or pasted in review).
    sources: dict[str, int] = msgspec.field(default_factory=dict)
    # The preview filters the caller says the pairs came from (sources, models, dates…).
    filters: dict[str, Any] = msgspec.field(default_factory=dict)


class DatasetCollected(
    Event, frozen=True, kw_only=True, tag="llmforge.training.dataset.collected.v1"
):
    """Reviewed pairs from rated chats and compare votes became a dataset and its split."""

    SUBJECT: ClassVar[str] = "llmforge.training.dataset.collected"
    data: DatasetCollectedData


class DatasetFile(msgspec.Struct, frozen=True, kw_only=True):
    """One dataset as LLaMA-Factory reads it: its file and its ``dataset_info.json`` entry."""

    dataset_id: str
    name: str
    file_path: str
    info: dict[str, Any]
    num_records: int = 0
    stats: dict[str, Any] = msgspec.field(default_factory=dict)


class JobSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a worker needs to run a job, resolved when the job was accepted."""

    base_model_id: str
    base_model_path: str
    datasets: list[DatasetFile]
    output_dir: str
    eval_datasets: list[DatasetFile] = msgspec.field(default_factory=list)
    # LLaMA-Factory's own argument names and values (stage, finetuning_type, lora_rank…).
    hyperparameters: dict[str, Any] = msgspec.field(default_factory=dict)


class JobData(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    owner_id: str


class JobRequestedData(JobSpec, frozen=True, kw_only=True):
    """The job's ids and its whole spec (this is a JobSpec)."""

    job_id: str
    owner_id: str


class JobStartedData(JobData, frozen=True, kw_only=True):
    attempt: int = 1
    # Set when a redelivered job picked up from its last checkpoint.
    resumed_from_checkpoint: str | None = None
    swanlab_run_id: str | None = None
    host: str = ""
    pid: int | None = None


class JobProgressData(JobData, frozen=True, kw_only=True):
    step: int
    total_steps: int
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    # Input tokens per second, when the trainer counts them.
    throughput: float | None = None
    elapsed_seconds: float | None = None
    remaining_seconds: float | None = None
    percentage: float | None = None


class JobLogData(JobData, frozen=True, kw_only=True):
    lines: list[str]


class JobCheckpointData(JobData, frozen=True, kw_only=True):
    step: int
    path: str


class JobCompletedData(JobData, frozen=True, kw_only=True):
    adapter_path: str
    base_model_id: str
    finetuning_type: str
    template: str
    duration_seconds: float
    final_loss: float | None = None
    best_loss: float | None = None
    steps: int = 0
    report_path: str | None = None
    swanlab_run_id: str | None = None


class JobFailedData(JobData, frozen=True, kw_only=True):
    error: str
    # The last lines the trainer printed.
    log_tail: list[str] = msgspec.field(default_factory=list)
    exit_code: int | None = None


class JobCancelledData(JobData, frozen=True, kw_only=True):
    reason: str = "requested"


class JobRequested(Event, frozen=True, kw_only=True, tag="llmforge.training.job.requested.v1"):
    """A job was accepted (stored ``queued``): the work message for the trainer workers."""

    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.requested"
    data: JobRequestedData


class JobStarted(Event, frozen=True, kw_only=True, tag="llmforge.training.job.started.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.started"
    data: JobStartedData


class JobProgress(Event, frozen=True, kw_only=True, tag="llmforge.training.job.progress.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.progress"
    data: JobProgressData


class JobLog(Event, frozen=True, kw_only=True, tag="llmforge.training.job.log.v1"):
    """A batch of the trainer's output lines."""

    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.log"
    data: JobLogData


class JobCheckpoint(Event, frozen=True, kw_only=True, tag="llmforge.training.job.checkpoint.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.checkpoint"
    data: JobCheckpointData


class JobCompleted(Event, frozen=True, kw_only=True, tag="llmforge.training.job.completed.v1"):
    """Training finished; the adapter is written and becomes a model config."""

    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.completed"
    data: JobCompletedData


class JobFailed(Event, frozen=True, kw_only=True, tag="llmforge.training.job.failed.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.failed"
    data: JobFailedData


class JobCancelRequested(
    Event, frozen=True, kw_only=True, tag="llmforge.training.job.cancel_requested.v1"
):
    """Stop this job: the worker that owns it ends the trainer's process group."""

    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.cancel_requested"
    data: JobData


class JobCancelled(Event, frozen=True, kw_only=True, tag="llmforge.training.job.cancelled.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.job.{subject}.cancelled"
    data: JobCancelledData


class ServerData(msgspec.Struct, frozen=True, kw_only=True):
    server_id: str
    model_config_id: str
    owner_id: str


class ServerRequestedData(ServerData, frozen=True, kw_only=True):
    base_model_path: str
    adapter_path: str | None
    template: str
    finetuning_type: str = "lora"
    model_name: str
    log_path: str


class ServerStartedData(ServerData, frozen=True, kw_only=True):
    base_url: str
    port: int
    host: str = ""
    pid: int | None = None


class ServerStoppedData(ServerData, frozen=True, kw_only=True):
    reason: str = "requested"
    error: str | None = None


class ServerRequested(
    Event, frozen=True, kw_only=True, tag="llmforge.training.server.requested.v1"
):
    """Serve a model folder (plus adapter) with ``llamafactory-cli api``."""

    SUBJECT: ClassVar[str] = "llmforge.training.server.{subject}.requested"
    data: ServerRequestedData


class ServerStarted(Event, frozen=True, kw_only=True, tag="llmforge.training.server.started.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.server.{subject}.started"
    data: ServerStartedData


class ServerStopRequested(
    Event, frozen=True, kw_only=True, tag="llmforge.training.server.stop_requested.v1"
):
    SUBJECT: ClassVar[str] = "llmforge.training.server.{subject}.stop_requested"
    data: ServerData


class ServerStopped(Event, frozen=True, kw_only=True, tag="llmforge.training.server.stopped.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.server.{subject}.stopped"
    data: ServerStoppedData


class ExportData(msgspec.Struct, frozen=True, kw_only=True):
    export_id: str
    model_config_id: str  # the adapter being merged
    owner_id: str


class ExportRequestedData(ExportData, frozen=True, kw_only=True):
    base_model_path: str
    adapter_path: str
    template: str
    export_dir: str
    alias: str


class ExportCompletedData(ExportData, frozen=True, kw_only=True):
    export_dir: str
    alias: str
    template: str
    duration_seconds: float = 0.0


class ExportFailedData(ExportData, frozen=True, kw_only=True):
    error: str
    log_tail: list[str] = msgspec.field(default_factory=list)


class ExportRequested(
    Event, frozen=True, kw_only=True, tag="llmforge.training.export.requested.v1"
):
    """Merge an adapter into its base model with ``llamafactory-cli export``."""

    SUBJECT: ClassVar[str] = "llmforge.training.export.{subject}.requested"
    data: ExportRequestedData


class ExportCompleted(
    Event, frozen=True, kw_only=True, tag="llmforge.training.export.completed.v1"
):
    """The merged model folder is written; it becomes a local model config."""

    SUBJECT: ClassVar[str] = "llmforge.training.export.{subject}.completed"
    data: ExportCompletedData


class ExportFailed(Event, frozen=True, kw_only=True, tag="llmforge.training.export.failed.v1"):
    SUBJECT: ClassVar[str] = "llmforge.training.export.{subject}.failed"
    data: ExportFailedData


def job_subjects(job_id: str) -> str:
    """Every event of one job (its SSE feed reads this filter)."""
    return f"llmforge.training.job.{job_id}.*"


JOB_TERMINAL_EVENTS = (JobCompleted, JobFailed, JobCancelled)

TRAINING_EVENTS = (
    DatasetCreated,
    DatasetDeleted,
    DatasetCollected,
    JobRequested,
    JobStarted,
    JobProgress,
    JobLog,
    JobCheckpoint,
    JobCompleted,
    JobFailed,
    JobCancelRequested,
    JobCancelled,
    ServerRequested,
    ServerStarted,
    ServerStopRequested,
    ServerStopped,
    ExportRequested,
    ExportCompleted,
    ExportFailed,
)
