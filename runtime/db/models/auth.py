"""Users, custom roles, refresh-token families and personal API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32), default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None]
    # Bumped when the account is disabled or its password changes, so access tokens
    # issued before that stop working at once even though they are stateless JWTs.
    token_version: Mapped[int] = mapped_column(default=0)
    # Opt-in: an admin building a training set across users may read this user's rated
    # chats and compare votes. Off unless the user turns it on (PATCH /api/auth/me).
    share_conversations_for_training: Mapped[bool] = mapped_column(Boolean, default=False)


class Role(IdMixin, TimestampMixin, Base):
    """A custom role; the built-in ``admin`` and ``user`` live in code, not here.

    ``users.role`` holds the name (no foreign key: built-in names have no row), so a role
    cannot be renamed, and deleting one still assigned is refused by the service.
    """

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    # Permission values (``chat.use``…), kept in the enum's order.
    permissions: Mapped[list[Any]] = mapped_column(JSON, default=list)


class RefreshToken(IdMixin, TimestampMixin, Base):
    """One issued refresh token; all rotations of one login share a ``family_id``."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    # Set when rotated: presenting a used token again means it was stolen.
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(500))
    client_ip: Mapped[str | None] = mapped_column(String(64))


class ApiKey(IdMixin, TimestampMixin, Base):
    __tablename__ = "api_keys"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
