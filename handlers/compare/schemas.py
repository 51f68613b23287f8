"""Request and response bodies of the compare routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from events.compare import CompareMetrics, ModelSummary

MAX_MODELS = 8
MAX_BATCH_PROMPTS = 200

Prompt = Annotated[str, Meta(min_length=1, max_length=100_000)]
SystemPrompt = Annotated[str, Meta(max_length=100_000)]
ModelIds = Annotated[
    list[Annotated[str, Meta(min_length=1, max_length=64)]],
    Meta(
        min_length=2,
        max_length=MAX_MODELS,
        description="2 to 8 distinct model config ids",
    ),
]
Penalty = Annotated[float, Meta(ge=-2, le=2)]


class CompareParameters(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Sampling parameters for every model of the run; unset ones keep each model's preset."""

    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_tokens: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    stop: Annotated[list[str], Meta(max_length=16)] | None = None
    seed: int | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None


class CompareRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: Prompt
    model_config_ids: ModelIds
    system_prompt: SystemPrompt | None = None
    parameters: CompareParameters | None = None


class BatchCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompts: Annotated[list[Prompt], Meta(min_length=1, max_length=MAX_BATCH_PROMPTS)]
    model_config_ids: ModelIds
    name: Annotated[str, Meta(max_length=200)] | None = None
    system_prompt: SystemPrompt | None = None
    parameters: CompareParameters | None = None


class VoteCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Required but nullable: a tie has to be said, not implied by a missing field.
    winner_model_config_id: Annotated[str, Meta(min_length=1, max_length=64)] | None
    note: Annotated[str, Meta(max_length=2000)] | None = None


class ModelRef(msgspec.Struct, kw_only=True, frozen=True):
    model_config_id: str
    alias: str
    name: str


class ResultRead(msgspec.Struct, kw_only=True):
    model_config_id: str
    alias: str
    name: str
    status: str  # ok | error | cancelled
    finish_reason: str | None
    error: str | None
    error_message: str | None
    metrics: CompareMetrics
    # Absent in lists: only a run's own page carries the texts.
    answer: str | None = None
    reasoning: str | None = None
    truncated: bool = False


class VoteRead(msgspec.Struct, kw_only=True):
    run_id: str
    winner_model_config_id: str | None
    note: str | None
    updated_at: datetime


class RunRead(msgspec.Struct, kw_only=True):
    id: str
    prompt: str
    system_prompt: str | None
    parameters: dict[str, Any]
    batch_id: str | None
    prompt_index: int | None
    created_at: datetime
    results: list[ResultRead]
    my_vote: VoteRead | None = None


class RunPage(msgspec.Struct, kw_only=True):
    items: list[RunRead]
    total: int
    limit: int
    offset: int


class BatchModelSummary(ModelSummary, frozen=True, kw_only=True):
    """A model over a batch, plus its record in the votes on the batch's runs."""

    wins: int = 0
    losses: int = 0
    ties: int = 0
    win_rate: float | None = None


class BatchRead(msgspec.Struct, kw_only=True):
    id: str
    name: str | None
    status: str  # queued | running | completed
    total: int
    done: int
    errors: int
    progress: float
    prompt_count: int
    models: list[ModelRef]
    system_prompt: str | None
    parameters: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    # Only on a batch's own page.
    summary: list[BatchModelSummary] | None = None


class BatchPage(msgspec.Struct, kw_only=True):
    items: list[BatchRead]
    total: int
    limit: int
    offset: int


class LeaderboardEntry(msgspec.Struct, kw_only=True):
    rank: int
    model_config_id: str
    alias: str | None  # None once the model config is deleted
    name: str | None
    wins: int
    losses: int
    ties: int
    games: int
    win_rate: float | None
    ci_low: float
    ci_high: float


class Leaderboard(msgspec.Struct, kw_only=True):
    """Every user's votes; ties count as games not won. ``ci_*``: Wilson 95 % interval."""

    items: list[LeaderboardEntry]
    total: int
    limit: int
    offset: int
    votes: int
