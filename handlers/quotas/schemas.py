"""Request and response bodies of the quota routes."""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.quotas import SubjectType


class QuotaSet(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole quota of a subject (PUT replaces it); an absent or null field: no limit."""

    requests_per_minute: int | None = None
    monthly_token_budget: int | None = None
    # USD, as the model configs' prices.
    monthly_cost_budget: float | None = None


class QuotaRead(msgspec.Struct, kw_only=True):
    subject_type: SubjectType
    subject_id: str
    # The user, or the API key's owner.
    user_id: str
    requests_per_minute: int | None
    monthly_token_budget: int | None
    monthly_cost_budget: float | None
    created_at: datetime
    updated_at: datetime


class QuotaPage(msgspec.Struct, kw_only=True):
    items: list[QuotaRead]
    total: int
    limit: int
    offset: int


class MonthSpend(msgspec.Struct, kw_only=True):
    tokens: int
    cost: float


class SubjectQuota(msgspec.Struct, kw_only=True):
    """The limits that apply to one subject (defaults included) and its spend this month."""

    subject_type: SubjectType
    subject_id: str
    requests_per_minute: int | None
    monthly_token_budget: int | None
    monthly_cost_budget: float | None
    spend: MonthSpend
    # None where there is no budget of that kind.
    remaining_tokens: int | None
    remaining_cost: float | None


class MyQuotas(msgspec.Struct, kw_only=True):
    # The calendar month (UTC) the spend counts in: ``[period_start, period_end)``.
    period_start: datetime
    period_end: datetime
    user: SubjectQuota
    # Present when the request was made with a personal API key.
    api_key: SubjectQuota | None = None
