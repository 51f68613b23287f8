"""Response body of the statistics dashboard (GET /api/admin/stats)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from handlers.usage.schemas import UsageTotals


class CallTotals(UsageTotals, kw_only=True):
    """Gateway calls, tokens and cost; ``error_rate`` = errors / calls (0 without calls)."""

    error_rate: float = 0.0


class LatencyStats(msgspec.Struct, kw_only=True):
    """Milliseconds over the successful calls; ``None`` when there were none."""

    avg: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class ModelStats(CallTotals, kw_only=True):
    model_alias: str
    latency_ms: LatencyStats
    ttft_ms: LatencyStats


class UserStats(CallTotals, kw_only=True):
    user_id: str
    email: str | None = None  # None: the user has been deleted since


class TimeBucket(msgspec.Struct, kw_only=True):
    start: datetime  # a UTC hour or day; the bucket is [start, start + 1 bucket)
    calls: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None


class UserCounts(msgspec.Struct, kw_only=True):
    total: int  # accounts that exist now
    active: int  # made a gateway call or logged in within the range
    new: int  # registered within the range


class TrainingStats(msgspec.Struct, kw_only=True):
    jobs_by_status: dict[str, int]  # every job, by its current status
    created: int  # jobs submitted within the range
    succeeded: int  # jobs that ended within the range, by outcome
    failed: int
    cancelled: int
    training_seconds: float  # started → finished, summed over the jobs that ended in range


class KnowledgeStats(msgspec.Struct, kw_only=True):
    bases: int
    documents: int
    documents_by_status: dict[str, int]
    chunks: int  # indexed chunks across every base


class StatsFilters(msgspec.Struct, kw_only=True):
    """Narrow the call figures (totals, by model, by user, over time) only."""

    model: str | None = None  # a model alias or model config id
    user_id: str | None = None


class Dashboard(msgspec.Struct, kw_only=True):
    since: datetime
    until: datetime
    bucket: Literal["hour", "day"]
    filters: StatsFilters
    totals: CallTotals
    by_model: list[ModelStats]
    by_user: list[UserStats]
    over_time: list[TimeBucket]
    users: UserCounts
    training: TrainingStats
    knowledge: KnowledgeStats
