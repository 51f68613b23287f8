"""Quota rows and monthly spend: admin changes (with their events) and the reads the guard needs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events.quotas import QuotaData, QuotaDeleted, QuotaSubjectData, QuotaUpdated
from handlers.quotas.rules import (
    SUBJECT_TYPES,
    Limits,
    Month,
    Spend,
    Subject,
    effective_limits,
)
from handlers.quotas.schemas import MonthSpend, QuotaRead, QuotaSet, SubjectQuota
from runtime.db.models import ApiKey, Quota, User
from runtime.db.models.providers import LlmCall
from runtime.db.paging import page_of
from runtime.errors import Conflict, NotFound, Unprocessable
from runtime.outbox import emit

# Bounds that keep every value inside its column on both databases.
MAX_REQUESTS_PER_MINUTE = 1_000_000_000
MAX_TOKENS = 10**15
MAX_COST = 10**11


def subject_of(subject_type: str, subject_id: str) -> Subject:
    if subject_type == "user":
        return Subject("user", subject_id)
    if subject_type == "api_key":
        return Subject("api_key", subject_id)
    kinds = ", ".join(SUBJECT_TYPES)
    raise NotFound("unknown_subject_type", detail=f"Quotas apply to: {kinds}.")


def quota_read(row: Quota) -> QuotaRead:
    subject = subject_of(row.subject_type, row.subject_id)
    return QuotaRead(
        subject_type=subject.type,
        subject_id=row.subject_id,
        user_id=row.user_id,
        requests_per_minute=row.requests_per_minute,
        monthly_token_budget=row.monthly_token_budget,
        monthly_cost_budget=row.monthly_cost_budget,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def validate(change: QuotaSet) -> None:
    """422 with one entry per bad field; nothing is written."""
    errors: list[dict[str, Any]] = []

    def check(name: str, value: float | None, most: float) -> None:
        if value is None:
            return
        if not math.isfinite(value) or value < 0:
            errors.append({"key": name, "message": "must be a number >= 0 (or null: no limit)"})
        elif value > most:
            errors.append({"key": name, "message": f"must be at most {most:g}"})

    check("requests_per_minute", change.requests_per_minute, MAX_REQUESTS_PER_MINUTE)
    check("monthly_token_budget", change.monthly_token_budget, MAX_TOKENS)
    check("monthly_cost_budget", change.monthly_cost_budget, MAX_COST)
    if errors:
        raise Unprocessable(
            "invalid_quota", "Invalid quota", "Limits cannot be negative.", errors=errors
        )


async def owner_of(session: AsyncSession, subject: Subject) -> str:
    """The id of the user the subject belongs to; 404 when it does not exist."""
    if subject.type == "user":
        if await session.get(User, subject.id) is None:
            raise NotFound("user_not_found", detail=f"No user {subject.id}.")
        return subject.id
    key = await session.get(ApiKey, subject.id)
    if key is None:
        raise NotFound("api_key_not_found", detail=f"No API key {subject.id}.")
    return key.user_id


async def find(session: AsyncSession, subject: Subject) -> Quota | None:
    return await session.scalar(
        select(Quota).where(Quota.subject_type == subject.type, Quota.subject_id == subject.id)
    )


async def list_quotas(
    session: AsyncSession,
    *,
    subject_type: str | None,
    user_id: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Quota], int]:
    query = select(Quota).order_by(Quota.created_at, Quota.id)
    if subject_type is not None:
        query = query.where(Quota.subject_type == subject_type)
    if user_id is not None:
        query = query.where(Quota.user_id == user_id)
    return await page_of(session, query, limit=limit, offset=offset)


async def set_quota(
    session: AsyncSession, subject: Subject, change: QuotaSet, *, actor: str
) -> Quota:
    """Create or replace the subject's quota and stage ``quota.updated``."""
    validate(change)
    user_id = await owner_of(session, subject)
    row = await find(session, subject)
    if row is None:
        row = Quota(subject_type=subject.type, subject_id=subject.id, user_id=user_id)
        session.add(row)
    row.requests_per_minute = change.requests_per_minute
    row.monthly_token_budget = change.monthly_token_budget
    row.monthly_cost_budget = change.monthly_cost_budget
    try:
        await session.flush()
    except IntegrityError as exc:
        # Another admin created the same subject's quota a moment ago.
        raise Conflict("quota_conflict", detail="The quota changed meanwhile; retry.") from exc
    await session.refresh(row)
    data = QuotaData(
        subject_type=subject.type,
        subject_id=subject.id,
        user_id=user_id,
        requests_per_minute=row.requests_per_minute,
        monthly_token_budget=row.monthly_token_budget,
        monthly_cost_budget=row.monthly_cost_budget,
    )
    emit(session, QuotaUpdated(subject=subject.id, actor=actor, data=data))
    return row


async def delete_quota(session: AsyncSession, subject: Subject, *, actor: str) -> None:
    row = await find(session, subject)
    if row is None:
        raise NotFound("quota_not_found", detail=f"No quota for {subject.type} {subject.id}.")
    data = QuotaSubjectData(subject_type=subject.type, subject_id=subject.id, user_id=row.user_id)
    await session.delete(row)
    emit(session, QuotaDeleted(subject=subject.id, actor=actor, data=data))


async def quota_limits(session: AsyncSession, subjects: Sequence[Subject]) -> dict[Subject, Limits]:
    """The stored quota of each subject that has one (one query for all of them)."""
    if not subjects:
        return {}
    condition = or_(
        *(and_(Quota.subject_type == s.type, Quota.subject_id == s.id) for s in subjects)
    )
    rows = await session.execute(
        select(
            Quota.subject_type,
            Quota.subject_id,
            Quota.requests_per_minute,
            Quota.monthly_token_budget,
            Quota.monthly_cost_budget,
        ).where(condition)
    )
    return {
        subject_of(kind, sid): Limits(
            requests_per_minute=rpm, monthly_token_budget=tokens, monthly_cost_budget=cost
        )
        for kind, sid, rpm, tokens, cost in rows
    }


async def month_spend(session: AsyncSession, subject: Subject, month: Month) -> Spend:
    """Tokens (input + output) and cost of the subject's calls in the month, from llm_calls.

    The projection lags the calls by the usage consumer's delay, so budgets are soft.
    """
    owner = LlmCall.user_id if subject.type == "user" else LlmCall.api_key_id
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(LlmCall.input_tokens + LlmCall.output_tokens), 0),
                func.coalesce(func.sum(LlmCall.cost), 0),
            ).where(owner == subject.id, LlmCall.time >= month.start, LlmCall.time < month.end)
        )
    ).one()
    return Spend(tokens=int(row[0] or 0), cost=float(row[1] or 0))


async def subject_quota(
    session: AsyncSession, subject: Subject, limits: Limits, month: Month
) -> SubjectQuota:
    spend = await month_spend(session, subject, month)
    tokens, cost = limits.monthly_token_budget, limits.monthly_cost_budget
    return SubjectQuota(
        subject_type=subject.type,
        subject_id=subject.id,
        requests_per_minute=limits.requests_per_minute,
        monthly_token_budget=tokens,
        monthly_cost_budget=cost,
        spend=MonthSpend(tokens=spend.tokens, cost=round(spend.cost, 10)),
        remaining_tokens=None if tokens is None else max(0, tokens - spend.tokens),
        remaining_cost=None if cost is None else round(max(0.0, cost - spend.cost), 10),
    )


async def my_quotas(
    session: AsyncSession, subjects: Sequence[Subject], defaults: Limits, month: Month
) -> list[SubjectQuota]:
    """Each subject's effective limits, read now (not from the guard's cache), and spend."""
    stored = await quota_limits(session, subjects)
    return [
        await subject_quota(session, s, effective_limits(s, stored.get(s), defaults), month)
        for s in subjects
    ]
