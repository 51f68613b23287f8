"""Events of the compare domain: comparison runs, their votes, and batch comparison jobs."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import msgspec

from events.envelope import Event

AnswerStatus = Literal["ok", "error", "cancelled"]


class CompareMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """One model's measurements; times in milliseconds, cost in the model's price unit."""

    ttft_ms: float | None = None
    latency_ms: float = 0.0
    # From the first token to the end of the stream: what tokens_per_s divides by.
    generation_ms: float | None = None
    tokens_per_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float | None = None


class ModelAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What one model answered, how fast, and how it failed if it did."""

    model_config_id: str
    alias: str = ""
    name: str = ""
    status: AnswerStatus = "ok"
    answer: str = ""
    reasoning: str = ""
    # The answer or reasoning was cut to keep the event within the broker's payload limit.
    truncated: bool = False
    finish_reason: str | None = None
    error: str | None = None  # the gateway's error kind, or model_not_found
    error_message: str | None = None
    metrics: CompareMetrics = msgspec.field(default_factory=CompareMetrics)


class CompareRunData(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    user_id: str
    prompt: str
    system_prompt: str | None = None
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    # In the order the models were requested.
    models: list[ModelAnswer] = msgspec.field(default_factory=list)


class CompareRunCompleted(
    Event, frozen=True, kw_only=True, tag="llmforge.compare.run.completed.v1"
):
    """A comparison ended (every model answered, failed, or the client left). Subject: run id."""

    SUBJECT: ClassVar[str] = "llmforge.compare.run.completed"
    data: CompareRunData


class CompareVoteData(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    user_id: str
    winner_model_config_id: str | None = None  # None: a tie
    model_config_ids: list[str] = msgspec.field(default_factory=list)


class CompareRunVoted(Event, frozen=True, kw_only=True, tag="llmforge.compare.run.voted.v1"):
    """A user picked the best answer of a run (or called it a tie), or changed that vote."""

    SUBJECT: ClassVar[str] = "llmforge.compare.run.voted"
    data: CompareVoteData


class CompareRunRef(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    user_id: str


class CompareRunDeleted(Event, frozen=True, kw_only=True, tag="llmforge.compare.run.deleted.v1"):
    """A comparison run was deleted with its answers and votes."""

    SUBJECT: ClassVar[str] = "llmforge.compare.run.deleted"
    data: CompareRunRef


class CompareBatchRequestedData(msgspec.Struct, frozen=True, kw_only=True):
    batch_id: str
    user_id: str
    name: str | None = None
    model_config_ids: list[str] = msgspec.field(default_factory=list)
    prompt_count: int = 0
    total: int = 0  # prompts times models


class CompareBatchRequested(
    Event, frozen=True, kw_only=True, tag="llmforge.compare.batch.requested.v1"
):
    """A batch comparison was queued; the batch worker's work item. Prompts stay in the DB."""

    SUBJECT: ClassVar[str] = "llmforge.compare.batch.{subject}.requested"
    data: CompareBatchRequestedData


class CompareBatchProgressData(msgspec.Struct, frozen=True, kw_only=True):
    batch_id: str
    user_id: str
    done: int = 0
    total: int = 0
    errors: int = 0
    # The answer that just finished.
    prompt_index: int | None = None
    model_config_id: str | None = None
    status: AnswerStatus | None = None


class CompareBatchProgress(
    Event, frozen=True, kw_only=True, tag="llmforge.compare.batch.progress.v1"
):
    """One more answer (one prompt, one model) of a batch is stored."""

    SUBJECT: ClassVar[str] = "llmforge.compare.batch.{subject}.progress"
    data: CompareBatchProgressData


class ModelSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One model over a batch; means and medians are over its successful answers."""

    model_config_id: str
    alias: str = ""
    answers: int = 0
    errors: int = 0
    mean_ttft_ms: float | None = None
    p50_ttft_ms: float | None = None
    mean_tokens_per_s: float | None = None
    p50_tokens_per_s: float | None = None
    mean_latency_ms: float | None = None
    total_cost: float | None = None


class CompareBatchCompletedData(msgspec.Struct, frozen=True, kw_only=True):
    batch_id: str
    user_id: str
    total: int = 0
    errors: int = 0
    models: list[ModelSummary] = msgspec.field(default_factory=list)


class CompareBatchCompleted(
    Event, frozen=True, kw_only=True, tag="llmforge.compare.batch.completed.v1"
):
    """Every answer of a batch is stored; a per-model summary is attached."""

    SUBJECT: ClassVar[str] = "llmforge.compare.batch.{subject}.completed"
    data: CompareBatchCompletedData


COMPARE_EVENTS = (
    CompareRunCompleted,
    CompareRunVoted,
    CompareRunDeleted,
    CompareBatchRequested,
    CompareBatchProgress,
    CompareBatchCompleted,
)
