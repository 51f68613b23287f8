"""Creating accounts: the one path for registration, the CLI and admins."""

from __future__ import annotations

import re

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events import SYSTEM_ACTOR
from events.auth import UserData, UserRegistered
from handlers.auth.permissions import ROLE_USER
from handlers.auth.roles import role_exists
from runtime.db.models import User, new_id
from runtime.errors import BadRequest, Conflict, ProblemError
from runtime.outbox import emit
from runtime.security import Argon2Params, Passwords, get_passwords

log = structlog.get_logger(__name__)

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
EMAIL_MAX = 320
PASSWORD_MIN, PASSWORD_MAX = 8, 256


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_password_policy(password: str) -> None:
    # Repeated here, not only in the request schema: the CLI does not pass through HTTP.
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise BadRequest(
            "invalid_password",
            "Invalid password",
            f"Use {PASSWORD_MIN} to {PASSWORD_MAX} characters.",
        )


async def check_role(session: AsyncSession, role: str) -> None:
    """400 unless ``role`` is a built-in role or an existing custom role."""
    if not await role_exists(session, role):
        raise BadRequest(
            "invalid_role",
            "Invalid role",
            f"No role named {role!r}; see GET /api/admin/roles.",
            errors=[{"field": "role", "message": "unknown role"}],
        )


async def create_user(
    session: AsyncSession,
    email: str,
    password: str,
    role: str = ROLE_USER,
    *,
    passwords: Passwords | None = None,
    display_name: str | None = None,
    actor: str | None = SYSTEM_ACTOR,
) -> User:
    """Create an active account and stage ``UserRegistered``; the caller commits.

    ``actor=None`` means the new user acted (self-registration). Raises a 409 problem
    when the e-mail is taken and 400 problems for a bad e-mail, password or role (a
    built-in or existing custom role).
    """
    email = normalize_email(email)
    if len(email) > EMAIL_MAX or not EMAIL_PATTERN.match(email):
        raise BadRequest("invalid_email", "Invalid e-mail address")
    check_password_policy(password)
    await check_role(session, role)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise _email_taken()
    hasher = passwords or get_passwords(Argon2Params())
    user = User(
        id=new_id(),
        email=email,
        password_hash=await hasher.hash(password),
        role=role,
        display_name=display_name,
        is_active=True,
        token_version=0,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise _email_taken() from exc
    emit(
        session,
        UserRegistered(
            subject=user.id,
            actor=actor or user.id,
            data=UserData(user_id=user.id, email=user.email, role=user.role),
        ),
    )
    log.info("user_created", user_id=user.id, role=role)
    return user


def _email_taken() -> ProblemError:
    return Conflict("email_taken", "E-mail already registered")
