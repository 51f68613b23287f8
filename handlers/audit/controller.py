"""Audit log routes (/api/admin/audit): filtered pages and a CSV export, for audit.read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import Provide
from litestar.params import Parameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.audit import service
from handlers.audit.schemas import AuditPage
from handlers.auth import Permission, requires
from handlers.deps import MAX_OFFSET
from runtime.db.models import utcnow
from runtime.errors import BadRequest
from runtime.services import Services

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


def audit_filter(
    type: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    resource: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> service.AuditFilter:
    """The query parameters both routes share; ``resource`` is another name for ``subject``."""
    if subject and resource and subject != resource:
        raise BadRequest("conflicting_filters", detail="subject and resource name the same filter.")
    if since and until and since >= until:
        raise BadRequest("invalid_range", detail="since must be before until.")
    return service.AuditFilter(
        type_prefix=type or None,
        actor=actor or None,
        subject=subject or resource or None,
        since=since,
        until=until,
        q=q or None,
    )


class AuditController(Controller):
    path = "/api/admin/audit"
    tags = ["admin"]
    guards = [requires(Permission.AUDIT_READ)]
    # Both routes take the same filters: one provider reads and checks them.
    dependencies = {"where": Provide(audit_filter, sync_to_thread=False)}

    @get("/", operation_id="adminListAudit")
    async def list_audit(
        self,
        db_session: AsyncSession,
        where: service.AuditFilter,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> AuditPage:
        """Events newest first; ``type`` is a prefix (``llmforge.auth.``), ``q`` searches data."""
        rows, total = await service.list_audit(db_session, where, limit=limit, offset=offset)
        items = [service.entry(row) for row in rows]
        return AuditPage(items=items, total=total, limit=limit, offset=offset)

    @get("/export", operation_id="adminExportAudit", media_type="text/csv")
    async def export(
        self,
        db_session: AsyncSession,
        services: Services,
        where: service.AuditFilter,
    ) -> Stream:
        """CSV of the same filters, newest first, streamed; at most 100,000 rows
        (``X-Export-Truncated: true`` when more matched)."""
        total = await service.count_audit(db_session, where)
        stamp = utcnow().astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return Stream(
            service.export_csv(services.session_factory, where),
            media_type="text/csv",  # Litestar appends "; charset=utf-8"
            headers={
                "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
                "X-Total-Count": str(total),
                "X-Export-Limit": str(service.EXPORT_MAX_ROWS),
                "X-Export-Truncated": "true" if total > service.EXPORT_MAX_ROWS else "false",
            },
        )
