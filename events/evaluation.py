"""Events of a fine-tuned model's evaluation: base model vs fine-tuned model on held-out prompts.

They ride the training domain (``llmforge.training.evaluation.<job id>.<verb>``) with the
job's ``owner_id``, so the job's owner sees them on the feed and in their webhooks. The
evaluation is keyed by job: one per job, re-runs bump its ``run`` number.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from events.envelope import Event


class EvaluationData(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    owner_id: str
    evaluation_id: str
    # 1 for the automatic run after training, then one more per re-run.
    run: int = 1


class EvaluationCompletedData(EvaluationData, frozen=True, kw_only=True):
    base_model_id: str
    tuned_model_id: str
    judge_model_id: str | None = None
    examples: int = 0
    # Examples the judge decided in both orders (the win rate's n).
    judged: int = 0
    wins: int = 0
    losses: int = 0
    ties: int = 0
    # The fine-tuned model's win rate, ties counted half, with its 95 % Wilson interval;
    # None without a judge or without a judged example.
    win_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class EvaluationFailedData(EvaluationData, frozen=True, kw_only=True):
    error: str


class EvaluationRequested(
    Event, frozen=True, kw_only=True, tag="llmforge.training.evaluation.requested.v1"
):
    """Run (again) the evaluation of a finished job: the work message of the evaluator."""

    SUBJECT: ClassVar[str] = "llmforge.training.evaluation.{subject}.requested"
    data: EvaluationData


class EvaluationCompleted(
    Event, frozen=True, kw_only=True, tag="llmforge.training.evaluation.completed.v1"
):
    """Both models answered every prompt (and the judge compared them, when configured)."""

    SUBJECT: ClassVar[str] = "llmforge.training.evaluation.{subject}.completed"
    data: EvaluationCompletedData


class EvaluationFailed(
    Event, frozen=True, kw_only=True, tag="llmforge.training.evaluation.failed.v1"
):
    SUBJECT: ClassVar[str] = "llmforge.training.evaluation.{subject}.failed"
    data: EvaluationFailedData


EVALUATION_EVENTS = (EvaluationRequested, EvaluationCompleted, EvaluationFailed)
