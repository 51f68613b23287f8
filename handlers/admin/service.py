"""Admin domain logic: create, find, change, disable users and reset their passwords."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from events.auth import PasswordReset, PasswordResetData, UserUpdated, UserUpdatedData
from handlers.admin.schemas import UserCreate, UserUpdate
from handlers.auth.accounts import check_password_policy, check_role, create_user
from handlers.auth.principal import forget_api_keys
from runtime.db.models import RefreshToken, User, utcnow
from runtime.db.paging import page_of
from runtime.errors import Conflict, NotFound
from runtime.outbox import emit
from runtime.security import Passwords

# 18 random bytes: 24 URL-safe characters, 144 bits; well inside the password policy.
TEMPORARY_PASSWORD_BYTES = 18


async def list_users(
    session: AsyncSession, *, q: str | None, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    query = select(User).order_by(User.created_at, User.id)
    if q:
        needle = q.lower()
        query = query.where(
            or_(
                func.lower(User.email).contains(needle, autoescape=True),
                func.lower(User.display_name).contains(needle, autoescape=True),
            )
        )
    return await page_of(session, query, limit=limit, offset=offset)


async def add_user(
    session: AsyncSession, data: UserCreate, *, passwords: Passwords, actor: str
) -> User:
    """An admin creates an account: the same path as registration, with the admin as actor."""
    return await create_user(
        session,
        data.email,
        data.password,
        data.role,
        passwords=passwords,
        display_name=data.display_name,
        actor=actor,
    )


async def update_user(
    session: AsyncSession, user_id: str, change: UserUpdate, *, actor: str
) -> User:
    user = await _user(session, user_id)
    changed: list[str] = []
    if change.role is not None and change.role != user.role:
        await check_role(session, change.role)
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
            await _end_sessions(session, user.id)
    if changed:
        # Cached API-key resolutions hold the role, state and name: drop them now (other
        # processes drop theirs when the event arrives).
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


async def reset_password(
    session: AsyncSession,
    user_id: str,
    new_password: str | None,
    *,
    passwords: Passwords,
    actor: str,
) -> str | None:
    """Set the password (or a generated one, returned) and cut every session and key cache.

    Returns the generated temporary password, or None when the admin chose one.
    """
    user = await _user(session, user_id)
    if user.id == actor:
        raise Conflict(
            "cannot_reset_own_password",
            detail="Change your own password with POST /api/auth/password.",
        )
    generated = new_password is None
    password = new_password or secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)
    check_password_policy(password)
    user.password_hash = await passwords.hash(password)
    # As a password change: older access tokens and every refresh family die at once.
    user.token_version += 1
    await _end_sessions(session, user.id)
    forget_api_keys(user_id=user.id)
    emit(
        session,
        PasswordReset(
            subject=user.id,
            actor=actor,
            data=PasswordResetData(user_id=user.id, generated=generated),
        ),
    )
    return password if generated else None


async def _user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found", detail=f"No user {user_id}.")
    return user


async def _end_sessions(session: AsyncSession, user_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
