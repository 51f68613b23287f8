"""Usage reports over the llm_calls projection."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.usage.schemas import ModelUsage, UsageSummary, UsageTotals
from runtime.db.models.providers import LlmCall


async def summary(
    session: AsyncSession, *, since: datetime, until: datetime, user_id: str | None = None
) -> UsageSummary:
    """Totals by model alias over ``[since, until)``, busiest model first."""
    calls = func.count()
    query = (
        select(
            LlmCall.model_alias,
            calls,
            func.sum(case((LlmCall.status == "error", 1), else_=0)),
            func.sum(case((LlmCall.status == "cancelled", 1), else_=0)),
            func.sum(LlmCall.input_tokens),
            func.sum(LlmCall.output_tokens),
            func.sum(LlmCall.reasoning_tokens),
            func.sum(LlmCall.cost),
            func.avg(LlmCall.latency_ms),
            func.avg(LlmCall.ttft_ms),
        )
        .where(LlmCall.time >= since, LlmCall.time < until)
        .group_by(LlmCall.model_alias)
        .order_by(calls.desc(), LlmCall.model_alias)
    )
    if user_id:
        query = query.where(LlmCall.user_id == user_id)
    by_model = [
        ModelUsage(
            model_alias=alias,
            calls=int(n),
            errors=int(errors or 0),
            cancelled=int(cancelled or 0),
            input_tokens=int(tin or 0),
            output_tokens=int(tout or 0),
            reasoning_tokens=int(tr or 0),
            cost=float(cost or 0),
            avg_latency_ms=None if lat is None else round(float(lat), 3),
            avg_ttft_ms=None if ttft is None else round(float(ttft), 3),
        )
        for alias, n, errors, cancelled, tin, tout, tr, cost, lat, ttft in (
            await session.execute(query)
        )
    ]
    totals = UsageTotals(
        calls=sum(m.calls for m in by_model),
        errors=sum(m.errors for m in by_model),
        cancelled=sum(m.cancelled for m in by_model),
        input_tokens=sum(m.input_tokens for m in by_model),
        output_tokens=sum(m.output_tokens for m in by_model),
        reasoning_tokens=sum(m.reasoning_tokens for m in by_model),
        cost=round(sum(m.cost for m in by_model), 10),
    )
    return UsageSummary(since=since, until=until, totals=totals, by_model=by_model)
