"""Prompt-template routes: CRUD, search, versions, diff, restore and render."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.deps import MAX_OFFSET
from handlers.prompts import service
from handlers.prompts.schemas import (
    RenderRequest,
    RenderResult,
    Template,
    TemplateCreate,
    TemplatePage,
    TemplateUpdate,
    TemplateVersion,
    VersionDiff,
    VersionList,
)
from handlers.prompts.variables import Variable
from runtime.db.models import PromptTemplate, PromptTemplateVersion

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]
# Versions are 32-bit integers in the database: a larger number is a 400, not a driver error.
Version = Annotated[int, Parameter(ge=1, le=2**31 - 1)]


def template_out(row: PromptTemplate) -> Template:
    return Template(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        description=row.description,
        category=row.category,
        tags=list(row.tags),
        body=row.body,
        variables=msgspec.convert(row.variables, list[Variable]),
        shared=row.shared,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def version_out(row: PromptTemplateVersion) -> TemplateVersion:
    return TemplateVersion(
        version=row.version,
        name=row.name,
        description=row.description,
        category=row.category,
        tags=list(row.tags),
        body=row.body,
        variables=msgspec.convert(row.variables, list[Variable]),
        shared=row.shared,
        edited_by=row.edited_by,
        note=row.note,
        created_at=row.created_at,
    )


# Reading and rendering is part of chatting; changing templates is its own permission.
_USE = requires(Permission.CHAT_USE)
_MANAGE = requires(Permission.PROMPTS_MANAGE)


class PromptController(Controller):
    path = "/api/prompts"
    tags = ["prompts"]

    @get("/", operation_id="promptsList", guards=[_USE])
    async def list_templates(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        q: str | None = None,
        category: str | None = None,
        tag: str | None = None,
        shared: bool | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> TemplatePage:
        rows, total = await service.list_templates(
            db_session,
            current_user,
            q=q,
            category=category,
            tag=tag,
            shared=shared,
            limit=limit,
            offset=offset,
        )
        items = [template_out(r) for r in rows]
        return TemplatePage(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="promptsCreate", status_code=201, guards=[_MANAGE])
    async def create(
        self, data: TemplateCreate, db_session: AsyncSession, current_user: CurrentUser
    ) -> Template:
        return template_out(await service.create(db_session, current_user, data))

    @get("/{template_id:str}", operation_id="promptsGet", guards=[_USE])
    async def get_one(
        self, template_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Template:
        return template_out(await service.get(db_session, current_user, template_id))

    @patch("/{template_id:str}", operation_id="promptsUpdate", guards=[_MANAGE])
    async def update(
        self,
        template_id: str,
        data: TemplateUpdate,
        db_session: AsyncSession,
        current_user: CurrentUser,
    ) -> Template:
        row = await service.update(db_session, current_user, template_id, data)
        return template_out(row)

    @delete("/{template_id:str}", operation_id="promptsDelete", status_code=204, guards=[_MANAGE])
    async def remove(
        self, template_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> None:
        await service.delete(db_session, current_user, template_id)

    @get("/{template_id:str}/versions", operation_id="promptsListVersions", guards=[_USE])
    async def list_versions(
        self, template_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> VersionList:
        rows = await service.versions(db_session, current_user, template_id)
        return VersionList(items=[version_out(r) for r in rows])

    @get(
        "/{template_id:str}/versions/{number:int}",
        operation_id="promptsGetVersion",
        guards=[_USE],
    )
    async def get_version(
        self, template_id: str, number: int, db_session: AsyncSession, current_user: CurrentUser
    ) -> TemplateVersion:
        return version_out(await service.version(db_session, current_user, template_id, number))

    @get("/{template_id:str}/diff", operation_id="promptsDiffVersions", guards=[_USE])
    async def diff(
        self,
        template_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        from_version: Annotated[int, Parameter(query="from", ge=1, le=2**31 - 1)],
        to_version: Annotated[int, Parameter(query="to", ge=1, le=2**31 - 1)],
    ) -> VersionDiff:
        old = await service.version(db_session, current_user, template_id, from_version)
        new = await service.version(db_session, current_user, template_id, to_version)
        changed, body_diff = service.diff(old, new)
        return VersionDiff(
            from_version=from_version, to_version=to_version, changed=changed, body_diff=body_diff
        )

    @post(
        "/{template_id:str}/versions/{number:int}/restore",
        operation_id="promptsRestoreVersion",
        status_code=200,
        guards=[_MANAGE],
    )
    async def restore(
        self, template_id: str, number: int, db_session: AsyncSession, current_user: CurrentUser
    ) -> Template:
        row = await service.restore(db_session, current_user, template_id, number)
        return template_out(row)

    @post("/{template_id:str}/render", operation_id="promptsRender", status_code=200, guards=[_USE])
    async def render(
        self,
        template_id: str,
        data: RenderRequest,
        db_session: AsyncSession,
        current_user: CurrentUser,
    ) -> RenderResult:
        result = await service.render_template(
            db_session, current_user, template_id, data.variables
        )
        return RenderResult(
            text=result.text,
            complete=not result.missing,
            missing=result.missing,
            unknown=result.unknown,
        )
