"""Prompt-template use cases: visibility, validation, versions, search and rendering."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import msgspec
from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.prompts import (
    TemplateChangedData,
    TemplateCreated,
    TemplateData,
    TemplateDeleted,
    TemplateUpdated,
)
from handlers.auth import CurrentUser
from handlers.prompts import search
from handlers.prompts.schemas import TemplateCreate, TemplateUpdate
from handlers.prompts.variables import Rendered, Variable, declaration_errors, render
from runtime.db import dialect_of
from runtime.db.models import PromptTemplate, PromptTemplateVersion
from runtime.db.paging import page_of
from runtime.errors import BadRequest, Forbidden, NotFound
from runtime.outbox import emit

# Fields whose change makes a new version.
VERSIONED = ("name", "description", "category", "tags", "body", "variables", "shared")


def visible_to(user: CurrentUser) -> ColumnElement[bool]:
    """Shared templates and the caller's own; private templates stay private, even to admins."""
    return or_(PromptTemplate.shared.is_(True), PromptTemplate.owner_id == user.id)


def _check(body: str, variables: Sequence[Variable]) -> None:
    errors = declaration_errors(body, variables)
    if errors:
        raise BadRequest(
            "invalid_template_variables",
            "Template variables do not match the body",
            "Declare every {{variable}} the body uses, and only those.",
            errors=errors,
        )


def _may_publish(user: CurrentUser, shared: bool) -> None:
    if shared and not user.is_admin:
        raise Forbidden("admin_required", detail="Only administrators publish shared templates.")


def _data(row: PromptTemplate) -> TemplateData:
    return TemplateData(
        template_id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        version=row.version,
        shared=row.shared,
    )


def _snapshot(row: PromptTemplate, editor: str, note: str | None) -> PromptTemplateVersion:
    return PromptTemplateVersion(
        template_id=row.id,
        version=row.version,
        name=row.name,
        description=row.description,
        category=row.category,
        tags=list(row.tags),
        body=row.body,
        variables=list(row.variables),
        shared=row.shared,
        edited_by=editor,
        note=note,
    )


def _variables(raw: Sequence[object]) -> list[Variable]:
    return msgspec.convert(list(raw), list[Variable])


async def create(session: AsyncSession, user: CurrentUser, data: TemplateCreate) -> PromptTemplate:
    _may_publish(user, data.shared)
    _check(data.body, data.variables)
    row = PromptTemplate(
        owner_id=user.id,
        name=data.name,
        description=data.description,
        category=data.category,
        tags=list(dict.fromkeys(data.tags)),
        body=data.body,
        variables=msgspec.to_builtins(data.variables),
        shared=data.shared,
        version=1,
    )
    session.add(row)
    await session.flush()
    session.add(_snapshot(row, user.id, "created"))
    emit(session, TemplateCreated(subject=row.id, actor=user.id, data=_data(row)))
    return row


async def get(session: AsyncSession, user: CurrentUser, template_id: str) -> PromptTemplate:
    row = await session.scalar(
        select(PromptTemplate).where(PromptTemplate.id == template_id, visible_to(user))
    )
    if row is None:
        raise NotFound("template_not_found", detail=f"No template {template_id}.")
    return row


async def editable(session: AsyncSession, user: CurrentUser, template_id: str) -> PromptTemplate:
    row = await get(session, user, template_id)
    if row.owner_id != user.id and not user.is_admin:
        raise Forbidden("not_template_owner", detail="Only its owner or an admin edits this.")
    return row


async def update(
    session: AsyncSession,
    user: CurrentUser,
    template_id: str,
    change: TemplateUpdate,
    *,
    restored_from: int | None = None,
) -> PromptTemplate:
    row = await editable(session, user, template_id)
    proposed = {
        name: getattr(change, name)
        for name in VERSIONED
        if getattr(change, name) is not msgspec.UNSET
    }
    if "variables" in proposed:
        proposed["variables"] = msgspec.to_builtins(proposed["variables"])
    if "tags" in proposed:
        proposed["tags"] = list(dict.fromkeys(proposed["tags"]))
    changed = [name for name, value in proposed.items() if getattr(row, name) != value]
    if not changed:
        return row
    if "shared" in changed:
        _may_publish(user, True)
    _check(proposed.get("body", row.body), _variables(proposed.get("variables", row.variables)))
    for name in changed:
        setattr(row, name, proposed[name])
    row.version += 1
    session.add(_snapshot(row, user.id, change.note))
    data = TemplateChangedData(
        **msgspec.structs.asdict(_data(row)), changed=changed, restored_from=restored_from
    )
    emit(session, TemplateUpdated(subject=row.id, actor=user.id, data=data))
    return row


async def delete(session: AsyncSession, user: CurrentUser, template_id: str) -> None:
    row = await editable(session, user, template_id)
    emit(session, TemplateDeleted(subject=row.id, actor=user.id, data=_data(row)))
    await session.delete(row)


async def list_templates(
    session: AsyncSession,
    user: CurrentUser,
    *,
    q: str | None,
    category: str | None,
    tag: str | None,
    shared: bool | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[PromptTemplate], int]:
    conditions = [visible_to(user)]
    if category:
        conditions.append(PromptTemplate.category == category)
    if tag:
        conditions.append(search.has_tag(dialect_of(session), tag))
    if shared is not None:
        conditions.append(PromptTemplate.shared.is_(shared))
    ranked = await search.matching_ids(session, q, visible_to(user)) if q else None
    if ranked is not None:
        conditions.append(PromptTemplate.id.in_(ranked) if ranked else false())
    query = select(PromptTemplate).where(*conditions)
    if ranked:
        rows = (await session.scalars(query)).all()
        order = {tid: i for i, tid in enumerate(ranked)}
        ordered = sorted(rows, key=lambda r: order[r.id])
        return ordered[offset : offset + limit], len(ordered)
    query = query.order_by(PromptTemplate.updated_at.desc(), PromptTemplate.id)
    return await page_of(session, query, limit=limit, offset=offset)


async def versions(
    session: AsyncSession, user: CurrentUser, template_id: str
) -> Sequence[PromptTemplateVersion]:
    await get(session, user, template_id)
    return (
        await session.scalars(
            select(PromptTemplateVersion)
            .where(PromptTemplateVersion.template_id == template_id)
            .order_by(PromptTemplateVersion.version.desc())
        )
    ).all()


async def version(
    session: AsyncSession, user: CurrentUser, template_id: str, number: int
) -> PromptTemplateVersion:
    await get(session, user, template_id)
    row = await session.scalar(
        select(PromptTemplateVersion).where(
            PromptTemplateVersion.template_id == template_id,
            PromptTemplateVersion.version == number,
        )
    )
    if row is None:
        raise NotFound("version_not_found", detail=f"Template has no version {number}.")
    return row


def diff(old: PromptTemplateVersion, new: PromptTemplateVersion) -> tuple[list[str], str]:
    changed = [name for name in VERSIONED if getattr(old, name) != getattr(new, name)]
    body = difflib.unified_diff(
        old.body.splitlines(keepends=True),
        new.body.splitlines(keepends=True),
        fromfile=f"v{old.version}",
        tofile=f"v{new.version}",
    )
    return changed, "".join(body)


async def restore(
    session: AsyncSession, user: CurrentUser, template_id: str, number: int
) -> PromptTemplate:
    old = await version(session, user, template_id, number)
    change = TemplateUpdate(
        name=old.name,
        body=old.body,
        description=old.description,
        category=old.category,
        tags=list(old.tags),
        variables=_variables(old.variables),
        shared=old.shared,
        note=f"restored version {number}",
    )
    return await update(session, user, template_id, change, restored_from=number)


async def render_template(
    session: AsyncSession, user: CurrentUser, template_id: str, values: dict[str, str]
) -> Rendered:
    row = await get(session, user, template_id)
    return render(row.body, _variables(row.variables), values)
