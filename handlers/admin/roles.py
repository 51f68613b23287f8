"""Custom roles: create, change and delete them; the built-in roles are read-only."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events.auth import RoleCreated, RoleData, RoleDeleted, RoleUpdated
from handlers.admin.schemas import RoleCreate, RoleRead, RoleUpdate
from handlers.auth.permissions import (
    BUILTIN_DESCRIPTIONS,
    BUILTIN_ROLES,
    is_builtin,
    parse_permissions,
    sorted_names,
)
from handlers.auth.principal import forget_roles
from handlers.auth.roles import load_role
from runtime.db.models import Role, User, new_id
from runtime.errors import Conflict, NotFound, ProblemError, Unprocessable
from runtime.outbox import emit


def builtin_read(name: str) -> RoleRead:
    return RoleRead(
        name=name,
        description=BUILTIN_DESCRIPTIONS[name],
        permissions=sorted_names(BUILTIN_ROLES[name]),
        builtin=True,
    )


def role_read(row: Role) -> RoleRead:
    return RoleRead(
        name=row.name,
        description=row.description,
        permissions=list(row.permissions),
        builtin=False,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_roles(session: AsyncSession) -> list[RoleRead]:
    """Built-in roles first, then custom roles by name."""
    rows: Sequence[Role] = (await session.scalars(select(Role).order_by(Role.name))).all()
    return [*(builtin_read(name) for name in BUILTIN_ROLES), *(role_read(r) for r in rows)]


async def get_role(session: AsyncSession, name: str) -> RoleRead:
    if is_builtin(name):
        return builtin_read(name)
    return role_read(await _custom(session, name))


async def create_role(session: AsyncSession, data: RoleCreate, *, actor: str) -> Role:
    name = data.name
    if is_builtin(name) or await load_role(session, name) is not None:
        raise _exists(name)
    row = Role(
        id=new_id(),
        name=name,
        description=data.description,
        permissions=_checked(data.permissions),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create won the race
        raise _exists(name) from exc
    _changed(session, RoleCreated, row, actor)
    return row


async def update_role(session: AsyncSession, name: str, data: RoleUpdate, *, actor: str) -> Role:
    row = await _custom(session, name, lock=True)
    changed = False
    if data.description is not None and data.description != row.description:
        row.description = data.description
        changed = True
    if data.permissions is not None:
        permissions = _checked(data.permissions)
        if permissions != list(row.permissions):
            row.permissions = permissions
            changed = True
    if changed:
        await session.flush()
        _changed(session, RoleUpdated, row, actor)
    return row


async def delete_role(session: AsyncSession, name: str, *, actor: str) -> None:
    # Locked first, so a concurrent assignment of this role waits and then finds no role.
    row = await _custom(session, name, lock=True)
    holders = await session.scalar(select(func.count()).select_from(User).where(User.role == name))
    if holders:
        raise Conflict(
            "role_in_use",
            "Role still assigned",
            f"{holders} user(s) still have the role {name!r}; give them another role first.",
        )
    await session.delete(row)
    await session.flush()
    _changed(session, RoleDeleted, row, actor)


async def _custom(session: AsyncSession, name: str, *, lock: bool = False) -> Role:
    if is_builtin(name):
        raise Conflict(
            "builtin_role", "Built-in role", f"The built-in role {name!r} cannot be changed."
        )
    row = await load_role(session, name, lock=lock)
    if row is None:
        raise NotFound("role_not_found", "Role not found", f"No role named {name!r}.")
    return row


def _checked(values: list[str]) -> list[str]:
    known, unknown = parse_permissions(values)
    if unknown:
        raise Unprocessable(
            "unknown_permission",
            "Unknown permission",
            f"Unknown: {', '.join(unknown)}; see GET /api/admin/permissions.",
            errors=[{"field": "permissions", "message": f"unknown: {u}"} for u in unknown],
        )
    return sorted_names(known)


def _changed(
    session: AsyncSession,
    kind: type[RoleCreated] | type[RoleUpdated] | type[RoleDeleted],
    row: Role,
    actor: str,
) -> None:
    emit(
        session,
        kind(
            subject=row.id,
            actor=actor,
            data=RoleData(role_id=row.id, name=row.name, permissions=list(row.permissions)),
        ),
    )
    # Here at once; the event makes every other HTTP process do the same after the commit.
    forget_roles()


def _exists(name: str) -> ProblemError:
    return Conflict("role_exists", "Role exists", f"A role named {name!r} already exists.")
