"""Events of the quotas domain: quota changes and the rejections they cause."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from events.envelope import Event

SubjectType = Literal["user", "api_key"]
LimitName = Literal["requests_per_minute", "monthly_token_budget", "monthly_cost_budget"]


class QuotaSubjectData(msgspec.Struct, frozen=True, kw_only=True):
    subject_type: SubjectType = "user"
    # The user's id, or the API key's id.
    subject_id: str
    # The user the quota belongs to (a key's owner): who may see the event.
    user_id: str


class QuotaData(QuotaSubjectData, frozen=True, kw_only=True):
    # None: no limit of this kind on the subject (a user falls back to the defaults).
    requests_per_minute: int | None = None
    monthly_token_budget: int | None = None
    monthly_cost_budget: float | None = None


class QuotaUpdated(Event, frozen=True, kw_only=True, tag="llmforge.quotas.quota.updated.v1"):
    """A quota was set (created or replaced) by an admin. Subject: the subject id."""

    SUBJECT: ClassVar[str] = "llmforge.quotas.quota.updated"
    data: QuotaData


class QuotaDeleted(Event, frozen=True, kw_only=True, tag="llmforge.quotas.quota.deleted.v1"):
    SUBJECT: ClassVar[str] = "llmforge.quotas.quota.deleted"
    data: QuotaSubjectData


class LimitExceededData(QuotaSubjectData, frozen=True, kw_only=True):
    limit: LimitName = "requests_per_minute"
    # The configured limit and what the subject had reached when it was refused.
    limit_value: float
    observed: float
    # The window the limit counts in, ``[start, end)``: a minute, or the calendar month (UTC).
    window_start: datetime | None = None
    window_end: datetime | None = None


class LimitExceeded(Event, frozen=True, kw_only=True, tag="llmforge.quotas.limit.exceeded.v1"):
    """Requests of a subject started being refused: once per subject, limit and window."""

    SUBJECT: ClassVar[str] = "llmforge.quotas.limit.exceeded"
    data: LimitExceededData


QUOTA_EVENTS = (QuotaUpdated, QuotaDeleted, LimitExceeded)
