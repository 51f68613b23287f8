"""Gateway-call figures over llm_calls: sums and counts in SQL, percentiles in Python."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, case, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.stats.buckets import Bucket, Window, floor
from runtime.db.models import User
from runtime.db.models.providers import LlmCall

TopBy = Literal["calls", "tokens", "cost"]

# Bucket keys as text, so one parser reads both databases' answers. The format strings
# are literal SQL (not parameters): PostgreSQL only matches a GROUP BY expression to the
# selected one when both are the same text.
_KEY_FORMAT = "%Y-%m-%d %H:%M:%S"
_SQLITE_FORMAT: dict[Bucket, str] = {"hour": "'%Y-%m-%d %H:00:00'", "day": "'%Y-%m-%d 00:00:00'"}
_POSTGRES_FORMAT = "'YYYY-MM-DD HH24:MI:SS'"
_PARTITION = 5000


@dataclass(frozen=True)
class CallScope:
    """Which calls count: the window and the optional model and user filters."""

    since: datetime
    until: datetime
    model: str | None = None
    user_id: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found = [LlmCall.time >= self.since, LlmCall.time < self.until]
        if self.model:
            found.append(
                or_(LlmCall.model_alias == self.model, LlmCall.model_config_id == self.model)
            )
        if self.user_id:
            found.append(LlmCall.user_id == self.user_id)
        return found


@dataclass
class Latencies:
    """Latency and TTFT samples of the successful calls, by model and by bucket."""

    latency_by_model: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ttft_by_model: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    latency_by_bucket: dict[datetime, list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )


def _count_of(status: str) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((LlmCall.status == status, 1), else_=0)), 0)


def _ok(column: Any) -> ColumnElement[Any]:
    # Latency figures cover successful calls only: errors often fail fast and cancelled
    # calls stop early, so counting them would make a failing model look quick.
    return case((LlmCall.status == "ok", column), else_=None)


AGGREGATES = (
    func.count(),
    _count_of("error"),
    _count_of("cancelled"),
    func.coalesce(func.sum(LlmCall.input_tokens), 0),
    func.coalesce(func.sum(LlmCall.output_tokens), 0),
    func.coalesce(func.sum(LlmCall.reasoning_tokens), 0),
    func.coalesce(func.sum(LlmCall.cost), 0),
)


def totals_of(row: Sequence[Any]) -> dict[str, Any]:
    """CallTotals fields from the values of ``AGGREGATES``, in order."""
    calls, errors, cancelled, tin, tout, treason, cost = (row[i] for i in range(7))
    calls = int(calls or 0)
    errors = int(errors or 0)
    return {
        "calls": calls,
        "errors": errors,
        "cancelled": int(cancelled or 0),
        "input_tokens": int(tin or 0),
        "output_tokens": int(tout or 0),
        "reasoning_tokens": int(treason or 0),
        "cost": round(float(cost or 0), 10),
        "error_rate": round(errors / calls, 6) if calls else 0.0,
    }


async def totals(session: AsyncSession, scope: CallScope) -> dict[str, Any]:
    row = (await session.execute(select(*AGGREGATES).where(*scope.conditions()))).one()
    return totals_of(row)


async def by_model(
    session: AsyncSession, scope: CallScope
) -> list[tuple[str, dict[str, Any], float | None, float | None]]:
    """(alias, totals, average ok latency, average ok TTFT), busiest model first."""
    query = (
        select(
            LlmCall.model_alias,
            *AGGREGATES,
            func.avg(_ok(LlmCall.latency_ms)),
            func.avg(_ok(LlmCall.ttft_ms)),
        )
        .where(*scope.conditions())
        .group_by(LlmCall.model_alias)
        .order_by(func.count().desc(), LlmCall.model_alias)
    )
    return [
        (
            row[0],
            totals_of(row[1:8]),
            None if row[8] is None else float(row[8]),
            None if row[9] is None else float(row[9]),
        )
        for row in await session.execute(query)
    ]


async def by_user(
    session: AsyncSession, scope: CallScope, *, top: int, top_by: TopBy
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(user id, e-mail, totals) of the top callers; ties broken by user id."""
    orders: dict[TopBy, ColumnElement[Any]] = {
        "calls": func.count(),
        "tokens": func.coalesce(func.sum(LlmCall.input_tokens + LlmCall.output_tokens), 0),
        "cost": func.coalesce(func.sum(LlmCall.cost), 0),
    }
    order = orders[top_by]
    query = (
        select(LlmCall.user_id, User.email, *AGGREGATES)
        # No foreign key on purpose (usage outlives users): a deleted user has no e-mail.
        .outerjoin(User, User.id == LlmCall.user_id)
        .where(*scope.conditions(), LlmCall.user_id.is_not(None))
        .group_by(LlmCall.user_id, User.email)
        .order_by(order.desc(), LlmCall.user_id)
        .limit(top)
    )
    return [(row[0], row[1], totals_of(row[2:9])) for row in await session.execute(query)]


def bucket_key(dialect: str, bucket: Bucket) -> ColumnElement[Any]:
    """The UTC hour or day of a call's time, as ``YYYY-MM-DD HH:MM:SS`` text."""
    if dialect == "sqlite":
        # SQLite holds the times as UTC text, which strftime reads as is.
        return func.strftime(literal_column(_SQLITE_FORMAT[bucket]), LlmCall.time)
    if dialect == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), LlmCall.time)
        truncated = func.date_trunc(literal_column(f"'{bucket}'"), utc)
        return func.to_char(truncated, literal_column(_POSTGRES_FORMAT))
    raise NotImplementedError(f"no time buckets for {dialect!r}")


def parse_key(key: str) -> datetime:
    return datetime.strptime(key, _KEY_FORMAT).replace(tzinfo=UTC)


async def over_time(
    session: AsyncSession, scope: CallScope, bucket: Bucket
) -> dict[datetime, tuple[int, int, int, int, float]]:
    """Bucket start → (calls, errors, input tokens, output tokens, cost); empty ones absent."""
    key = bucket_key(session.get_bind().dialect.name, bucket)
    query = (
        select(
            key,
            func.count(),
            _count_of("error"),
            func.coalesce(func.sum(LlmCall.input_tokens), 0),
            func.coalesce(func.sum(LlmCall.output_tokens), 0),
            func.coalesce(func.sum(LlmCall.cost), 0),
        )
        .where(*scope.conditions())
        .group_by(key)
    )
    return {
        parse_key(k): (int(n), int(errors), int(tin), int(tout), round(float(cost or 0), 10))
        for k, n, errors, tin, tout, cost in await session.execute(query)
    }


async def latencies(session: AsyncSession, scope: CallScope, window: Window) -> Latencies:
    """The samples percentiles need: one pass over the successful calls of the range.

    Portable percentiles need the values themselves; only three numbers and the alias
    travel per call, streamed rather than loaded as ORM objects.
    """
    query = select(LlmCall.model_alias, LlmCall.time, LlmCall.latency_ms, LlmCall.ttft_ms).where(
        *scope.conditions(), LlmCall.status == "ok"
    )
    found = Latencies()
    result = await session.stream(query)
    async for partition in result.partitions(_PARTITION):
        for alias, time, latency, ttft in partition:
            found.latency_by_model[alias].append(float(latency))
            if ttft is not None:
                found.ttft_by_model[alias].append(float(ttft))
            found.latency_by_bucket[floor(time, window.bucket)].append(float(latency))
    return found
