"""Rows to response bodies."""

from __future__ import annotations

import msgspec

from events.compare import CompareMetrics
from handlers.compare.schemas import (
    BatchModelSummary,
    BatchRead,
    ModelRef,
    ResultRead,
    RunRead,
    VoteRead,
)
from runtime.db.models import CompareBatch, CompareResult, CompareRun, CompareVote


def metrics_of(r: CompareResult) -> CompareMetrics:
    return CompareMetrics(
        ttft_ms=r.ttft_ms,
        latency_ms=r.latency_ms,
        generation_ms=r.generation_ms,
        tokens_per_s=r.tokens_per_s,
        input_tokens=r.input_tokens,
        output_tokens=r.output_tokens,
        reasoning_tokens=r.reasoning_tokens,
        cost=r.cost,
    )


def result_read(r: CompareResult, *, texts: bool) -> ResultRead:
    return ResultRead(
        model_config_id=r.model_config_id,
        alias=r.alias,
        name=r.name,
        status=r.status,
        finish_reason=r.finish_reason,
        error=r.error,
        error_message=r.error_message,
        metrics=metrics_of(r),
        answer=r.answer if texts else None,
        reasoning=r.reasoning if texts else None,
        truncated=r.truncated,
    )


def vote_read(v: CompareVote) -> VoteRead:
    return VoteRead(
        run_id=v.run_id,
        winner_model_config_id=v.winner_model_config_id,
        note=v.note,
        updated_at=v.updated_at,
    )


def run_read(
    run: CompareRun,
    results: list[CompareResult],
    *,
    texts: bool,
    vote: CompareVote | None = None,
) -> RunRead:
    return RunRead(
        id=run.id,
        prompt=run.prompt,
        system_prompt=run.system_prompt,
        parameters=run.parameters,
        batch_id=run.batch_id,
        prompt_index=run.prompt_index,
        created_at=run.created_at,
        results=[result_read(r, texts=texts) for r in results],
        my_vote=None if vote is None else vote_read(vote),
    )


def batch_read(b: CompareBatch, summary: list[BatchModelSummary] | None = None) -> BatchRead:
    return BatchRead(
        id=b.id,
        name=b.name,
        status=b.status,
        total=b.total,
        done=b.done,
        errors=b.errors,
        progress=round(b.done / b.total, 4) if b.total else 1.0,
        prompt_count=len(b.prompts),
        models=[msgspec.convert(m, ModelRef) for m in b.models],
        system_prompt=b.system_prompt,
        parameters=b.parameters,
        created_at=b.created_at,
        started_at=b.started_at,
        completed_at=b.completed_at,
        summary=summary,
    )
