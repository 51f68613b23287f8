"""Request and response bodies of the auth routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

# Deliberately loose: one "@", a dot in the domain, no spaces. Deliverability is proven
# by use, not by a regular expression; 320 is the RFC 5321 maximum.
Email = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        examples=["ada@example.com"],
    ),
]
NewPassword = Annotated[str, Meta(min_length=8, max_length=256, description="8 to 256 characters")]
# Login takes any length up to the cap: a too-short password must get the same 401 as a
# wrong one, not a 400 that reveals the policy check ran first.
AnyPassword = Annotated[str, Meta(min_length=1, max_length=256)]
LoginEmail = Annotated[str, Meta(min_length=1, max_length=320)]
KeyName = Annotated[str, Meta(min_length=1, max_length=200)]


class RegisterRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: NewPassword


class LoginRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: LoginEmail
    password: AnyPassword


class UserRead(msgspec.Struct, kw_only=True):
    id: str
    email: str
    display_name: str | None
    role: str
    is_active: bool
    created_at: datetime


class MeRead(UserRead, kw_only=True):
    """The caller, with what their role lets them do (the web UI shows pages by it)."""

    permissions: list[str]
    auth_method: str
    # Whether admins may use this user's rated conversations to build training sets.
    share_conversations_for_training: bool = False


class MeUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The caller's own settings; absent fields stay."""

    share_conversations_for_training: bool | None = None


class TokenResponse(msgspec.Struct, kw_only=True):
    """Login and refresh answer.

    The refresh token is set as the ``llmforge_refresh`` HttpOnly cookie for browsers and
    is also in ``refresh_token`` for non-browser clients, which send it back as
    ``{"refresh_token": …}`` to ``/api/auth/refresh``. Browser code should ignore it.
    """

    access_token: str
    expires_in: int
    user: UserRead
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret


class RefreshRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Absent: the refresh cookie is used.
    refresh_token: Annotated[str, Meta(min_length=1, max_length=512)] | None = None


class PasswordChangeRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    current_password: AnyPassword
    new_password: NewPassword


class ApiKeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: KeyName
    # Absent: the key never expires (it can still be revoked).
    expires_in_days: Annotated[int, Meta(ge=1, le=3650)] | None = None


class ApiKeyRead(msgspec.Struct, kw_only=True):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(msgspec.Struct, kw_only=True):
    """The only answer that ever carries the key; store it now."""

    id: str
    key: str
    prefix: str
    name: str
    created_at: datetime
    expires_at: datetime | None


class ApiKeyPage(msgspec.Struct, kw_only=True):
    items: list[ApiKeyRead]
    total: int
    limit: int
    offset: int
