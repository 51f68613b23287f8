"""The admin dashboard in one call: gateway figures, users, training and knowledge."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.stats import calls, inventory
from handlers.stats.buckets import Window
from handlers.stats.calls import CallScope, TopBy
from handlers.stats.percentiles import DIGITS, latency_stats, percentile
from handlers.stats.schemas import (
    CallTotals,
    Dashboard,
    ModelStats,
    StatsFilters,
    TimeBucket,
    UserStats,
)


def _p(values: list[float], q: float) -> float | None:
    found = percentile(sorted(values), q)
    return None if found is None else round(found, DIGITS)


async def dashboard(
    session: AsyncSession,
    window: Window,
    filters: StatsFilters,
    *,
    top: int = 10,
    top_by: TopBy = "calls",
) -> Dashboard:
    """Every figure over ``[window.since, window.until)``; one read transaction."""
    scope = CallScope(
        since=window.since, until=window.until, model=filters.model, user_id=filters.user_id
    )
    samples = await calls.latencies(session, scope, window)
    by_model = [
        ModelStats(
            model_alias=alias,
            **totals,
            latency_ms=latency_stats(samples.latency_by_model.get(alias, []), average=latency),
            ttft_ms=latency_stats(samples.ttft_by_model.get(alias, []), average=ttft),
        )
        for alias, totals, latency, ttft in await calls.by_model(session, scope)
    ]
    by_user = [
        UserStats(user_id=user_id, email=email, **totals)
        for user_id, email, totals in await calls.by_user(session, scope, top=top, top_by=top_by)
    ]
    filled = await calls.over_time(session, scope, window.bucket)
    over_time = []
    # Every bucket of the range is present, with zeros, so a chart's x axis has no gaps.
    for start in window.starts():
        n, errors, tin, tout, cost = filled.get(start, (0, 0, 0, 0, 0.0))
        latencies = samples.latency_by_bucket.get(start, [])
        over_time.append(
            TimeBucket(
                start=start,
                calls=n,
                errors=errors,
                input_tokens=tin,
                output_tokens=tout,
                cost=cost,
                p50_latency_ms=_p(latencies, 50),
                p95_latency_ms=_p(latencies, 95),
            )
        )
    return Dashboard(
        since=window.since,
        until=window.until,
        bucket=window.bucket,
        filters=filters,
        totals=CallTotals(**await calls.totals(session, scope)),
        by_model=by_model,
        by_user=by_user,
        over_time=over_time,
        users=await inventory.user_counts(session, window.since, window.until),
        training=await inventory.training_stats(session, window.since, window.until),
        knowledge=await inventory.knowledge_stats(session),
    )
