"""The dashboard window: defaults, UTC-aligned buckets, and bounded bucket counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from handlers.stats.buckets import MAX_BUCKETS, bucket_count, floor, resolve_window
from runtime.errors import BadRequest

NOW = datetime(2025, 3, 10, 12, 34, 56, tzinfo=UTC)


def test_the_default_window_is_the_last_seven_days_in_days() -> None:
    window = resolve_window(since=None, until=None, bucket=None, now=NOW)
    assert (window.since, window.until, window.bucket) == (NOW - timedelta(days=7), NOW, "day")
    starts = window.starts()
    # The partial first and last days are buckets too: 8 calendar days are touched.
    assert starts[0] == datetime(2025, 3, 3, tzinfo=UTC)
    assert starts[-1] == datetime(2025, 3, 10, tzinfo=UTC)
    assert len(starts) == 8


def test_short_ranges_get_hours_aligned_to_the_utc_hour() -> None:
    window = resolve_window(
        since=datetime(2025, 3, 10, 9, 30, tzinfo=UTC),
        until=datetime(2025, 3, 10, 12, 0, tzinfo=UTC),
        bucket=None,
        now=NOW,
    )
    assert window.bucket == "hour"
    assert window.starts() == [datetime(2025, 3, 10, h, tzinfo=UTC) for h in (9, 10, 11)]


def test_offsets_and_naive_times_are_read_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert floor(datetime(2025, 3, 10, 1, 15, tzinfo=plus_two), "day") == datetime(
        2025, 3, 9, tzinfo=UTC
    )
    window = resolve_window(
        since=datetime(2025, 3, 1), until=datetime(2025, 3, 2), bucket="hour", now=NOW
    )
    assert window.since.tzinfo is UTC
    assert len(window.starts()) == 24


def test_bad_windows_are_refused() -> None:
    with pytest.raises(BadRequest) as reversed_range:
        resolve_window(since=NOW, until=NOW - timedelta(hours=1), bucket=None, now=NOW)
    assert reversed_range.value.code == "invalid_range"
    with pytest.raises(BadRequest) as too_many:
        resolve_window(since=NOW - timedelta(days=90), until=NOW, bucket="hour", now=NOW)
    assert too_many.value.code == "too_many_buckets"
    edge = datetime(2025, 1, 1, tzinfo=UTC)
    assert bucket_count(edge, edge + timedelta(hours=MAX_BUCKETS), "hour") == MAX_BUCKETS
    resolve_window(since=edge, until=edge + timedelta(hours=MAX_BUCKETS), bucket="hour", now=NOW)
