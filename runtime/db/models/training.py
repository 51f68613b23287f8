"""Datasets, fine-tuning jobs with their metric curves, and served models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin, utcnow


class Dataset(IdMixin, TimestampMixin, Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("owner_id", "name", "version"),)

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Uploading other content under the same name makes the next version.
    version: Mapped[int] = mapped_column(default=1)
    format: Mapped[str] = mapped_column(String(32))  # alpaca | sharegpt | openai
    file_path: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(default=0)
    num_records: Mapped[int] = mapped_column(default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The dataset_info.json entry LLaMA-Factory reads this file with.
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)


class TrainingJob(IdMixin, TimestampMixin, Base):
    __tablename__ = "training_jobs"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    base_model_id: Mapped[str | None] = mapped_column(
        ForeignKey("model_configs.id", ondelete="SET NULL")
    )
    # OpenAI fine-tuning vocabulary: validating_files, queued, running, succeeded,
    # failed, cancelled.
    status: Mapped[str] = mapped_column(String(32), default="queued", index=True)
    dataset_ids: Mapped[list[Any]] = mapped_column(default=list)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output_dir: Mapped[str | None] = mapped_column(String(1000))
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    swanlab_run_id: Mapped[str | None] = mapped_column(String(200))
    result_model_id: Mapped[str | None] = mapped_column(String(32))
    adapter_path: Mapped[str | None] = mapped_column(String(1000))
    report_path: Mapped[str | None] = mapped_column(String(1000))
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class TrainingMetric(Base):
    """One logged training step of a job: the loss and learning-rate curves."""

    __tablename__ = "training_metrics"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("training_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(primary_key=True)
    epoch: Mapped[float | None]
    loss: Mapped[float | None]
    eval_loss: Mapped[float | None]
    learning_rate: Mapped[float | None]
    grad_norm: Mapped[float | None]
    throughput: Mapped[float | None]
    elapsed_seconds: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelServer(IdMixin, TimestampMixin, Base):
    """A ``llamafactory-cli api`` process serving a local model or adapter."""

    __tablename__ = "model_servers"

    model_config_id: Mapped[str] = mapped_column(
        ForeignKey("model_configs.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The openai-compatible provider registered for it while it runs.
    provider_id: Mapped[str | None] = mapped_column(String(32))
    # starting | running | stopped | failed
    status: Mapped[str] = mapped_column(String(32), default="starting")
    base_url: Mapped[str | None] = mapped_column(String(300))
    host: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None]
    log_path: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(Text)
    stopped_at: Mapped[datetime | None]
