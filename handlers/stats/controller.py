"""The statistics dashboard route (GET /api/admin/stats), for holders of usage.read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import Permission, requires
from handlers.stats import service
from handlers.stats.buckets import resolve_window
from handlers.stats.calls import TopBy
from handlers.stats.schemas import Dashboard, StatsFilters
from runtime.db.models import utcnow

Top = Annotated[int, Parameter(ge=1, le=100)]


class StatsController(Controller):
    path = "/api/admin/stats"
    tags = ["admin"]
    guards = [requires(Permission.USAGE_READ)]

    @get("/", operation_id="adminStats")
    async def stats(
        self,
        db_session: AsyncSession,
        since: datetime | None = None,
        until: datetime | None = None,
        bucket: Literal["hour", "day"] | None = None,
        model: str | None = None,
        user_id: str | None = None,
        top: Top = 10,
        top_by: TopBy = "calls",
    ) -> Dashboard:
        """Totals, per model (with latency percentiles), top users, a time series with
        every bucket present, and user, training and knowledge counts over ``[since, until)``
        (default: the last 7 days; ``bucket`` defaults to hours up to 2 days, else days)."""
        window = resolve_window(since=since, until=until, bucket=bucket, now=utcnow())
        filters = StatsFilters(model=model or None, user_id=user_id or None)
        return await service.dashboard(db_session, window, filters, top=top, top_by=top_by)
