"""The dashboard's time window: defaults, validation and UTC-aligned hour or day buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from runtime.errors import BadRequest

Bucket = Literal["hour", "day"]

DEFAULT_RANGE = timedelta(days=7)
# Ranges up to this long get hourly buckets unless asked otherwise, longer ones daily.
HOURLY_UP_TO = timedelta(days=2)
# A chart cannot show more points usefully, and each one is a row in the response.
MAX_BUCKETS = 2000
STEP: dict[Bucket, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    bucket: Bucket

    def starts(self) -> list[datetime]:
        """Every bucket start: from the one holding ``since`` up to, not including, ``until``."""
        step = STEP[self.bucket]
        start = floor(self.since, self.bucket)
        out: list[datetime] = []
        while start < self.until:
            out.append(start)
            start += step
        return out


def as_utc(moment: datetime) -> datetime:
    # A query string without an offset means UTC, like every time the API returns.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor(moment: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC hour or day holding ``moment``."""
    moment = as_utc(moment)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_count(since: datetime, until: datetime, bucket: Bucket) -> int:
    step = STEP[bucket]
    first = floor(since, bucket)
    return max(0, -((first - as_utc(until)) // step))  # ceiling division


def resolve_window(
    *,
    since: datetime | None,
    until: datetime | None,
    bucket: Bucket | None,
    now: datetime,
) -> Window:
    """Defaults (the last 7 days, a bucket fit for the span), or a 400 for a bad window."""
    end = as_utc(until) if until is not None else as_utc(now)
    start = as_utc(since) if since is not None else end - DEFAULT_RANGE
    if start >= end:
        raise BadRequest("invalid_range", detail="since must be before until.")
    chosen: Bucket = bucket or ("hour" if end - start <= HOURLY_UP_TO else "day")
    count = bucket_count(start, end, chosen)
    if count > MAX_BUCKETS:
        raise BadRequest(
            "too_many_buckets",
            detail=f"{count} {chosen} buckets; at most {MAX_BUCKETS}: "
            "narrow the range or use a larger bucket.",
        )
    return Window(since=start, until=end, bucket=chosen)
