"""Evaluations of fine-tuned models (one per training job) and their per-example results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin, utcnow


class TrainingEvaluation(IdMixin, TimestampMixin, Base):
    """Base model vs fine-tuned model on held-out prompts, optionally judged pairwise."""

    __tablename__ = "training_evaluations"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("training_jobs.id", ondelete="CASCADE"), unique=True
    )
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # pending (waits for the job) | running | completed | failed
    status: Mapped[str] = mapped_column(String(32), default="pending")
    # Bumped by each re-run: a worker still busy with an older run stops at its next write.
    run: Mapped[int] = mapped_column(default=1)
    # prompts, judge_model_id, max_examples, max_tokens as asked for.
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # No foreign keys: the results outlive a deleted model config.
    base_model_id: Mapped[str | None] = mapped_column(String(32))
    tuned_model_id: Mapped[str | None] = mapped_column(String(32))
    judge_model_id: Mapped[str | None] = mapped_column(String(32))
    # Where the prompts came from: "prompts" (given) or "validation" (the dataset's split).
    source: Mapped[str | None] = mapped_column(String(32))
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    # Model servers this evaluation started (and stops when it ends).
    server_ids: Mapped[list[Any]] = mapped_column(default=list)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class TrainingEvaluationExample(Base):
    """One prompt answered by both models, with the judge's verdicts in both orders."""

    __tablename__ = "training_evaluation_examples"

    evaluation_id: Mapped[str] = mapped_column(
        ForeignKey("training_evaluations.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(primary_key=True)
    prompt: Mapped[str] = mapped_column(Text)
    system: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    base_output: Mapped[str] = mapped_column(Text, default="")
    tuned_output: Mapped[str] = mapped_column(Text, default="")
    # status, error, latency_ms, ttft_ms, input/output tokens (and whether they are counted
    # from the stream because the server reported none).
    base_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tuned_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {"base_first": "A"|"B"|"tie"|null, "tuned_first": …, "error": …}
    verdicts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # From the fine-tuned model's side: win | loss | tie; None when not judged.
    outcome: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
