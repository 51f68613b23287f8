"""Quota arithmetic: fixed windows, calendar months, effective limits and budget checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from handlers.quotas.rules import (
    UNLIMITED,
    Limits,
    Spend,
    Subject,
    budget_breach,
    defaults_of,
    describe_breach,
    effective_limits,
    month_at,
    month_of,
    subjects_of,
)
from runtime.security.rate_limit import Window
from runtime.settings import QuotaSettings

USER = Subject("user", "u1")
KEY = Subject("api_key", "k1")


@pytest.mark.parametrize(
    ("now", "index", "retry_after"),
    [
        (60.0 * 1000, 1000, 60),  # the first instant of a window waits it whole
        (60.0 * 1000 + 20, 1000, 40),
        (60.0 * 1000 + 59.2, 1000, 1),  # rounded up, never 0
        (60.0 * 1000 + 59.999, 1000, 1),
        (60.0 * 1001 - 0.5, 1000, 1),
    ],
)
def test_window_index_and_retry_after(now: float, index: int, retry_after: int) -> None:
    window = Window.at(now, 60)
    assert window.index == index
    assert window.start == 60.0 * index
    assert window.end == 60.0 * (index + 1)
    assert window.retry_after == retry_after


def test_windows_of_other_lengths_do_not_share_boundaries() -> None:
    assert Window.at(119.0, 60).index == 1
    assert Window.at(119.0, 120).index == 0
    assert Window.at(119.0, 120).retry_after == 1


@pytest.mark.parametrize(
    ("moment", "start", "end", "key"),
    [
        (
            datetime(2025, 3, 15, 12, tzinfo=UTC),
            datetime(2025, 3, 1),
            datetime(2025, 4, 1),
            "202503",
        ),
        (
            datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
            datetime(2025, 12, 1),
            datetime(2026, 1, 1),
            "202512",
        ),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1), datetime(2026, 2, 1), "202601"),
        (
            datetime(2024, 2, 29, 8, tzinfo=UTC),
            datetime(2024, 2, 1),
            datetime(2024, 3, 1),
            "202402",
        ),
        (
            datetime(2025, 11, 30, tzinfo=UTC),
            datetime(2025, 11, 1),
            datetime(2025, 12, 1),
            "202511",
        ),
    ],
)
def test_calendar_month_in_utc(moment: datetime, start: datetime, end: datetime, key: str) -> None:
    month = month_of(moment)
    assert month.start == start.replace(tzinfo=UTC)
    assert month.end == end.replace(tzinfo=UTC)
    assert month.key == key


def test_month_is_taken_in_utc_not_local_time() -> None:
    # 1 April 01:00 in UTC+2 is still 31 March in UTC.
    local = datetime(2025, 4, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert month_of(local).key == "202503"
    last_second = datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    assert month_at(last_second).key == "202503"
    assert month_at(last_second + 1).key == "202504"


def test_subjects_are_the_user_and_the_key_when_one_was_used() -> None:
    assert subjects_of("u1", None) == [USER]
    assert subjects_of("u1", "k1") == [USER, KEY]
    assert KEY.key == "api_key.k1"


def test_user_quota_overrides_the_defaults_field_by_field() -> None:
    defaults = defaults_of(
        QuotaSettings(default_requests_per_minute=60, default_monthly_tokens=1000)
    )
    assert effective_limits(USER, None, defaults) == defaults
    row = Limits(requests_per_minute=5, monthly_cost_budget=2.5)
    assert effective_limits(USER, row, defaults) == Limits(
        requests_per_minute=5, monthly_token_budget=1000, monthly_cost_budget=2.5
    )


def test_api_keys_have_no_defaults() -> None:
    defaults = Limits(requests_per_minute=60)
    assert effective_limits(KEY, None, defaults) == UNLIMITED
    assert not UNLIMITED.any
    row = Limits(monthly_token_budget=10)
    assert effective_limits(KEY, row, defaults) == row
    assert row.any
    assert row.has_budget


def test_budget_of_n_allows_spending_below_n() -> None:
    limits = Limits(monthly_token_budget=100, monthly_cost_budget=1.0)
    assert budget_breach(limits, Spend(tokens=99, cost=0.99)) is None
    tokens = budget_breach(limits, Spend(tokens=100, cost=0.0))
    assert tokens is not None
    assert (tokens.limit, tokens.limit_value, tokens.observed) == ("monthly_token_budget", 100, 100)
    cost = budget_breach(limits, Spend(tokens=5, cost=1.25))
    assert cost is not None
    assert (cost.limit, cost.limit_value, cost.observed) == ("monthly_cost_budget", 1.0, 1.25)
    # A zero budget refuses everything; no budget refuses nothing.
    assert budget_breach(Limits(monthly_cost_budget=0.0), Spend()) is not None
    assert budget_breach(Limits(requests_per_minute=1), Spend(tokens=10**9, cost=1e9)) is None


def test_breach_detail_names_the_budget_the_limit_and_the_spend() -> None:
    month = month_of(datetime(2025, 6, 3, tzinfo=UTC))
    tokens = budget_breach(Limits(monthly_token_budget=500), Spend(tokens=512))
    assert tokens is not None
    text = describe_breach(KEY, tokens, month)
    assert "token budget of this API key" in text
    assert "limit 500 tokens, spent 512 in 2025-06 (UTC)" in text
    cost = budget_breach(Limits(monthly_cost_budget=5), Spend(cost=5.0123))
    assert cost is not None
    assert "limit 5 USD, spent 5.0123 USD" in describe_breach(USER, cost, month)
