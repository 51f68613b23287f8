"""Quota arithmetic without I/O: subjects, effective limits, calendar months, budget checks."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import NamedTuple

from events.quotas import LimitName, SubjectType
from runtime.settings import QuotaSettings

SUBJECT_TYPES: tuple[SubjectType, ...] = ("user", "api_key")


class Subject(NamedTuple):
    """Who a quota limits: a user (all their requests) or one of their API keys.

    A tuple, so hashing it for the caches on every request is cheap.
    """

    type: SubjectType
    id: str

    @property
    def key(self) -> str:
        """The subject in KV keys and notice names (ids are hex, so the key is valid)."""
        return f"{self.type}.{self.id}"

    @property
    def label(self) -> str:
        return "this API key" if self.type == "api_key" else "your account"

    @property
    def title(self) -> str:
        return "This API key" if self.type == "api_key" else "Your account"


def subjects_of(user_id: str, api_key_id: str | None) -> list[Subject]:
    """Every subject whose quota applies to a request: the user's, and the key's if one was used."""
    subjects = [Subject("user", user_id)]
    if api_key_id is not None:
        subjects.append(Subject("api_key", api_key_id))
    return subjects


@dataclass(frozen=True, slots=True)
class Limits:
    """Effective limits of one subject; None: no limit of that kind."""

    requests_per_minute: int | None = None
    monthly_token_budget: int | None = None
    monthly_cost_budget: float | None = None

    @property
    def any(self) -> bool:
        return self.requests_per_minute is not None or self.has_budget

    @property
    def has_budget(self) -> bool:
        return self.monthly_token_budget is not None or self.monthly_cost_budget is not None


UNLIMITED = Limits()


def defaults_of(settings: QuotaSettings) -> Limits:
    return Limits(
        requests_per_minute=settings.default_requests_per_minute,
        monthly_token_budget=settings.default_monthly_tokens,
        monthly_cost_budget=settings.default_monthly_cost,
    )


def effective_limits(subject: Subject, row: Limits | None, defaults: Limits) -> Limits:
    """A user's quota overrides the defaults field by field; an API key has no defaults."""
    if subject.type == "api_key":
        return row or UNLIMITED
    if row is None:
        return defaults
    merged = {
        f.name: own if (own := getattr(row, f.name)) is not None else getattr(defaults, f.name)
        for f in fields(Limits)
    }
    return Limits(**merged)


@dataclass(frozen=True, slots=True)
class Spend:
    """What a subject used in one month: input plus output tokens, and their cost."""

    tokens: int = 0
    cost: float = 0.0


@dataclass(frozen=True, slots=True)
class Breach:
    limit: LimitName
    limit_value: float
    observed: float


def budget_breach(limits: Limits, spend: Spend) -> Breach | None:
    """The first budget the spend has reached, if any: a budget of N allows spending below N."""
    tokens = limits.monthly_token_budget
    if tokens is not None and spend.tokens >= tokens:
        return Breach("monthly_token_budget", float(tokens), float(spend.tokens))
    cost = limits.monthly_cost_budget
    if cost is not None and spend.cost >= cost:
        return Breach("monthly_cost_budget", cost, spend.cost)
    return None


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month in UTC, ``[start, end)``."""

    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return f"{self.start.year:04d}{self.start.month:02d}"


def month_of(moment: datetime) -> Month:
    at = moment.astimezone(UTC)
    start = datetime(at.year, at.month, 1, tzinfo=UTC)
    end = datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)
    return Month(start=start, end=end)


def month_at(timestamp: float) -> Month:
    return month_of(datetime.fromtimestamp(timestamp, UTC))


def describe_breach(subject: Subject, breach: Breach, month: Month) -> str:
    period = f"{month.start:%Y-%m} (UTC)"
    if breach.limit == "monthly_token_budget":
        return (
            f"The monthly token budget of {subject.label} is used up: limit "
            f"{int(breach.limit_value)} tokens, spent {int(breach.observed)} in {period}."
        )
    return (
        f"The monthly cost budget of {subject.label} is used up: limit "
        f"{breach.limit_value:g} USD, spent {breach.observed:.6g} USD in {period}."
    )
