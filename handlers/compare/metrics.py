"""Per-model metrics of a comparison and their summaries: pure arithmetic, no I/O."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Protocol

from events.compare import CompareMetrics, ModelSummary
from runtime.llm.types import Usage


def measure(
    *,
    started: float,
    first_token_at: float | None,
    ended: float,
    usage: Usage,
    cost: float | None,
) -> CompareMetrics:
    """Metrics from ``perf_counter`` readings: TTFT and latency from ``started``.

    Tokens per second is output tokens (reasoning included, as providers count them)
    over the generation time, first token to end: the model's speed, not its queueing.
    """
    generation = None if first_token_at is None else max(0.0, ended - first_token_at)
    rate = None
    if generation and usage.output_tokens:
        rate = round(usage.output_tokens / generation, 2)
    return CompareMetrics(
        ttft_ms=None if first_token_at is None else round((first_token_at - started) * 1000, 3),
        latency_ms=round((ended - started) * 1000, 3),
        generation_ms=None if generation is None else round(generation * 1000, 3),
        tokens_per_s=rate,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost=cost,
    )


class Measured(Protocol):
    """What a summary reads from one answer (a result row or an event's answer)."""

    @property
    def status(self) -> str: ...

    @property
    def ttft_ms(self) -> float | None: ...

    @property
    def tokens_per_s(self) -> float | None: ...

    @property
    def latency_ms(self) -> float: ...

    @property
    def cost(self) -> float | None: ...


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def summarize(model_config_id: str, alias: str, answers: Iterable[Measured]) -> ModelSummary:
    """Means and medians over the successful answers; errors counted; cost over all."""
    rows = list(answers)
    ok = [r for r in rows if r.status == "ok"]
    ttft = [r.ttft_ms for r in ok if r.ttft_ms is not None]
    rate = [r.tokens_per_s for r in ok if r.tokens_per_s is not None]
    costs = [r.cost for r in rows if r.cost is not None]
    return ModelSummary(
        model_config_id=model_config_id,
        alias=alias,
        answers=len(rows),
        errors=sum(r.status == "error" for r in rows),
        mean_ttft_ms=_mean(ttft),
        p50_ttft_ms=_median(ttft),
        mean_tokens_per_s=_mean(rate),
        p50_tokens_per_s=_median(rate),
        mean_latency_ms=_mean([r.latency_ms for r in ok]),
        # A failed call can still have cost input tokens, so every row counts.
        total_cost=round(sum(costs), 10) if costs else None,
    )


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` UTF-8 bytes on a character boundary; was it cut?"""
    raw = text.encode()
    if len(raw) <= limit:
        return text, False
    return raw[: max(0, limit)].decode("utf-8", "ignore"), True
