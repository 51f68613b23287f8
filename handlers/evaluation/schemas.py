"""Request and response bodies of the evaluation routes (/api/training/jobs/{id}/evaluation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from handlers.training.schemas import Prompt


class EvaluationRerun(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Absent fields keep the previous run's settings; ``null`` clears prompts or judge."""

    prompts: Annotated[list[Prompt], Meta(min_length=1, max_length=200)] | UnsetType | None = UNSET
    judge_model_id: Annotated[str, Meta(min_length=1, max_length=32)] | UnsetType | None = UNSET
    max_examples: Annotated[int, Meta(ge=1, le=200)] | UnsetType = UNSET
    max_tokens: Annotated[int, Meta(ge=1, le=4096)] | UnsetType = UNSET


class AnswerMetrics(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: str = "ok"  # ok | error | cancelled
    error: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    # True when the server reported no usage and the streamed chunks were counted instead.
    tokens_estimated: bool = False


class Verdicts(msgspec.Struct, kw_only=True, omit_defaults=True):
    # "A", "B" or "tie" as the judge said it; None when unreadable or not asked.
    base_first: str | None = None
    tuned_first: str | None = None
    error: str | None = None


class Example(msgspec.Struct, kw_only=True):
    index: int
    prompt: str
    system: str | None
    reference: str | None
    base_output: str
    tuned_output: str
    base: AnswerMetrics
    tuned: AnswerMetrics
    verdicts: Verdicts
    # From the fine-tuned model's side: win | loss | tie; None when not judged.
    outcome: str | None


class Evaluation(msgspec.Struct, kw_only=True):
    id: str
    job_id: str
    status: str  # pending | running | completed | failed
    run: int
    settings: dict[str, Any]
    source: str | None
    base_model_id: str | None
    tuned_model_id: str | None
    judge_model_id: str | None
    total: int
    done: int
    # win_rate, ci_low, ci_high (95 % Wilson), wins/losses/ties/unjudged, base/tuned means.
    summary: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    examples: list[Example]
