"""Usage routes (/api/usage): totals of gateway calls, for the admin dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta

from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import Permission, requires
from handlers.usage import service
from handlers.usage.schemas import UsageSummary
from runtime.db.models import utcnow
from runtime.errors import BadRequest

DEFAULT_RANGE = timedelta(days=30)


class UsageController(Controller):
    path = "/api/usage"
    tags = ["usage"]
    guards = [requires(Permission.USAGE_READ)]

    @get("/summary", operation_id="usageSummary")
    async def usage_summary(
        self,
        db_session: AsyncSession,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: str | None = None,
    ) -> UsageSummary:
        end = until or utcnow()
        start = since or end - DEFAULT_RANGE
        if start >= end:
            raise BadRequest("invalid_range", detail="since must be before until.")
        return await service.summary(db_session, since=start, until=end, user_id=user_id)
