"""Admin routes: users and the audit log (admin role only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, patch
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.admin import service
from handlers.admin.schemas import AuditEntry, AuditPage, UserPage, UserUpdate
from handlers.auth import CurrentUser, requires_admin
from handlers.auth.controller import user_read
from handlers.auth.schemas import UserRead

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0)]


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]
    guards = [requires_admin]

    @get("/users", operation_id="adminListUsers")
    async def list_users(
        self, db_session: AsyncSession, q: str | None = None, limit: Limit = 50, offset: Offset = 0
    ) -> UserPage:
        rows, total = await service.list_users(db_session, q=q, limit=limit, offset=offset)
        return UserPage(items=[user_read(u) for u in rows], total=total, limit=limit, offset=offset)

    @patch("/users/{user_id:str}", operation_id="adminUpdateUser")
    async def update_user(
        self, user_id: str, data: UserUpdate, db_session: AsyncSession, current_user: CurrentUser
    ) -> UserRead:
        user = await service.update_user(db_session, user_id, data, actor=current_user.id)
        return user_read(user)

    @get("/audit", operation_id="adminListAudit")
    async def list_audit(
        self,
        db_session: AsyncSession,
        type: str | None = None,
        actor: str | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> AuditPage:
        rows, total = await service.list_audit(
            db_session,
            type_prefix=type,
            actor=actor,
            subject=subject,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        items = [
            AuditEntry(
                id=r.id,
                type=r.type,
                subject=r.subject,
                actor=r.actor,
                source=r.source,
                time=r.time,
                data=r.data,
            )
            for r in rows
        ]
        return AuditPage(items=items, total=total, limit=limit, offset=offset)
