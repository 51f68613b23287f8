"""Datasets and fine-tuning jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin


class Dataset(IdMixin, TimestampMixin, Base):
    __tablename__ = "datasets"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(32))  # alpaca | sharegpt
    file_path: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(default=0)
    num_records: Mapped[int] = mapped_column(default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)


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
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
