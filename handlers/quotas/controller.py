"""Quota routes: admins manage them (/api/admin/quotas), everyone reads their own."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, put
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires, requires_login
from handlers.deps import MAX_OFFSET
from handlers.quotas import service
from handlers.quotas.guard import enforcer_of
from handlers.quotas.rules import month_at, subjects_of
from handlers.quotas.schemas import MyQuotas, QuotaPage, QuotaRead, QuotaSet
from runtime.errors import ProblemError

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


async def _forget_changed(request: Request[Any, Any, Any]) -> None:
    # Runs after the response, so after the commit: a check that read the old row
    # between the handler's own forget and the commit cannot keep it cached.
    params = request.path_params
    with contextlib.suppress(ProblemError):  # an unknown subject type cached nothing
        subject = service.subject_of(params["subject_type"], params["subject_id"])
        enforcer_of(request.app.state).forget(subject)


class QuotaAdminController(Controller):
    path = "/api/admin/quotas"
    tags = ["quotas"]
    guards = [requires(Permission.QUOTAS_MANAGE)]

    @get("/", operation_id="quotasList")
    async def list_quotas(
        self,
        db_session: AsyncSession,
        subject_type: Literal["user", "api_key"] | None = None,
        user_id: str | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> QuotaPage:
        rows, total = await service.list_quotas(
            db_session, subject_type=subject_type, user_id=user_id, limit=limit, offset=offset
        )
        items = [service.quota_read(r) for r in rows]
        return QuotaPage(items=items, total=total, limit=limit, offset=offset)

    @put(
        "/{subject_type:str}/{subject_id:str}",
        operation_id="quotasSet",
        after_response=_forget_changed,
    )
    async def set_quota(
        self,
        subject_type: str,
        subject_id: str,
        data: QuotaSet,
        db_session: AsyncSession,
        current_user: CurrentUser,
        state: State,
    ) -> QuotaRead:
        """Create or replace the quota of a user or an API key; null fields: no limit."""
        subject = service.subject_of(subject_type, subject_id)
        row = await service.set_quota(db_session, subject, data, actor=current_user.id)
        enforcer_of(state).forget(subject)
        return service.quota_read(row)

    @delete(
        "/{subject_type:str}/{subject_id:str}",
        operation_id="quotasDelete",
        status_code=204,
        after_response=_forget_changed,
    )
    async def delete_quota(
        self,
        subject_type: str,
        subject_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        state: State,
    ) -> None:
        subject = service.subject_of(subject_type, subject_id)
        await service.delete_quota(db_session, subject, actor=current_user.id)
        enforcer_of(state).forget(subject)


class QuotaController(Controller):
    path = "/api/quotas"
    tags = ["quotas"]
    guards = [requires_login]

    @get("/me", operation_id="quotasMe")
    async def me(
        self, db_session: AsyncSession, current_user: CurrentUser, state: State
    ) -> MyQuotas:
        """The limits that apply to you (and to the API key you called with) and this
        month's spend (UTC), as the usage projection has it."""
        enforcer = enforcer_of(state)
        month = month_at(enforcer.clock())
        subjects = subjects_of(current_user.id, current_user.api_key_id)
        quotas = await service.my_quotas(db_session, subjects, enforcer.defaults, month)
        return MyQuotas(
            period_start=month.start,
            period_end=month.end,
            user=quotas[0],
            api_key=quotas[1] if len(quotas) > 1 else None,
        )
