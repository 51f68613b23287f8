"""Model comparison: runs with one result per model, batch jobs, and votes on runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin, utcnow


class CompareBatch(IdMixin, TimestampMixin, Base):
    """Every prompt answered by every model, run in the background by the batch worker."""

    __tablename__ = "compare_batches"
    __table_args__ = (Index("ix_compare_batches_user_created", "user_id", "created_at"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|completed
    system_prompt: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # [{model_config_id, alias, name}] in the requested order: a snapshot, so the batch
    # still reads well after a model config is renamed or deleted.
    models: Mapped[list[Any]] = mapped_column(default=list)
    prompts: Mapped[list[Any]] = mapped_column(default=list)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class CompareRun(IdMixin, TimestampMixin, Base):
    """One prompt answered by several models: interactive, or one prompt of a batch."""

    __tablename__ = "compare_runs"
    __table_args__ = (Index("ix_compare_runs_user_created", "user_id", "created_at"),)

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("compare_batches.id", ondelete="CASCADE"), index=True
    )
    prompt_index: Mapped[int | None] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    system_prompt: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    models: Mapped[list[Any]] = mapped_column(default=list)
    # A deleted run keeps its row, emptied, so a late or redelivered completion event
    # finds the id taken and cannot bring the run back.
    deleted_at: Mapped[datetime | None]


class CompareResult(Base):
    """One model's answer within a run, with its metrics."""

    __tablename__ = "compare_results"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("compare_runs.id", ondelete="CASCADE"), primary_key=True
    )
    # No foreign key: results outlive deleted model configs.
    model_config_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    alias: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))  # ok | error | cancelled
    answer: Mapped[str] = mapped_column(Text, default="")
    reasoning: Mapped[str] = mapped_column(Text, default="")
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    ttft_ms: Mapped[float | None]
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    generation_ms: Mapped[float | None]
    tokens_per_s: Mapped[float | None]
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CompareVote(IdMixin, TimestampMixin, Base):
    """A user's verdict on a run: the best model, or a tie (no winner). One per user and run."""

    __tablename__ = "compare_votes"
    __table_args__ = (UniqueConstraint("run_id", "user_id"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("compare_runs.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    winner_model_config_id: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class CompareVoteOutcome(Base):
    """What a vote means for each model of the run, so the leaderboard is one GROUP BY."""

    __tablename__ = "compare_vote_outcomes"

    vote_id: Mapped[str] = mapped_column(
        ForeignKey("compare_votes.id", ondelete="CASCADE"), primary_key=True
    )
    model_config_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    outcome: Mapped[str] = mapped_column(String(8))  # win | loss | tie
