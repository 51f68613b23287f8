"""Response bodies of the usage routes."""

from __future__ import annotations

from datetime import datetime

import msgspec


class UsageTotals(msgspec.Struct, kw_only=True):
    calls: int = 0
    errors: int = 0
    cancelled: int = 0  # the client went away mid-answer
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0


class ModelUsage(UsageTotals, kw_only=True):
    model_alias: str
    avg_latency_ms: float | None = None
    avg_ttft_ms: float | None = None


class UsageSummary(msgspec.Struct, kw_only=True):
    since: datetime
    until: datetime
    totals: UsageTotals
    by_model: list[ModelUsage]
