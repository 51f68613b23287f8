"""Admin domain logic: user management and reading the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.auth import UserUpdated, UserUpdatedData
from handlers.admin.schemas import UserUpdate
from handlers.auth.principal import forget_api_keys
from runtime.db.models import AuditLog, RefreshToken, User, utcnow
from runtime.errors import Conflict, NotFound
from runtime.outbox import emit

T = TypeVar("T")


async def _page(
    session: AsyncSession, query: Select[T], limit: int, offset: int
) -> tuple[Sequence[T], int]:
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.scalars(query.limit(limit).offset(offset))).all()
    return rows, int(total or 0)


async def list_users(
    session: AsyncSession, *, q: str | None, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    query = select(User).order_by(User.created_at, User.id)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(User.email).like(pattern), func.lower(User.display_name).like(pattern))
        )
    return await _page(session, query, limit, offset)


async def update_user(
    session: AsyncSession, user_id: str, change: UserUpdate, *, actor: str
) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found", detail=f"No user {user_id}.")
    changed: list[str] = []
    if change.role is not None and change.role != user.role:
        if user.id == actor:
            raise Conflict("cannot_change_own_role", detail="Ask another admin to do that.")
        user.role = change.role
        changed.append("role")
    if change.is_active is not None and change.is_active != user.is_active:
        if user.id == actor and not change.is_active:
            raise Conflict("cannot_disable_self", detail="Ask another admin to do that.")
        user.is_active = change.is_active
        changed.append("is_active")
    if change.display_name is not None and change.display_name != user.display_name:
        user.display_name = change.display_name
        changed.append("display_name")
    if {"role", "is_active"} & set(changed):
        # Access tokens carry the role and are stateless: bump the version so the
        # old ones stop working now, and end every refresh family of a disabled user.
        user.token_version += 1
        if not user.is_active:
            now = utcnow()
            for token in await session.scalars(
                select(RefreshToken).where(
                    RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)
                )
            ):
                token.revoked_at = now
    if changed:
        # Cached API-key resolutions hold the role, state and name: drop them now.
        forget_api_keys(user_id=user.id)
        emit(
            session,
            UserUpdated(
                subject=user.id,
                actor=actor,
                data=UserUpdatedData(
                    user_id=user.id, changed=changed, role=user.role, is_active=user.is_active
                ),
            ),
        )
    return user


async def list_audit(
    session: AsyncSession,
    *,
    type_prefix: str | None,
    actor: str | None,
    subject: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[AuditLog], int]:
    query = select(AuditLog).order_by(AuditLog.time.desc(), AuditLog.id)
    if type_prefix:
        query = query.where(AuditLog.type.startswith(type_prefix, autoescape=True))
    if actor:
        query = query.where(AuditLog.actor == actor)
    if subject:
        query = query.where(AuditLog.subject == subject)
    if since:
        query = query.where(AuditLog.time >= since)
    if until:
        query = query.where(AuditLog.time < until)
    return await _page(session, query, limit, offset)
