"""Events of the auth domain: users, roles, logins, sessions and personal API keys."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from events.envelope import Event


class UserData(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    email: str
    role: str


class UserRegistered(Event, frozen=True, kw_only=True, tag="llmforge.auth.user.registered.v1"):
    """A user account was created, by registration, the CLI or an admin."""

    SUBJECT: ClassVar[str] = "llmforge.auth.user.registered"
    data: UserData


class UserUpdatedData(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    # Names of the fields that changed; values stay out so no secret ever rides an event.
    changed: list[str]
    role: str
    is_active: bool


class UserUpdated(Event, frozen=True, kw_only=True, tag="llmforge.auth.user.updated.v1"):
    SUBJECT: ClassVar[str] = "llmforge.auth.user.updated"
    data: UserUpdatedData


class UserDeletedData(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str


class UserDeleted(Event, frozen=True, kw_only=True, tag="llmforge.auth.user.deleted.v1"):
    SUBJECT: ClassVar[str] = "llmforge.auth.user.deleted"
    data: UserDeletedData


class LoginSucceededData(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    client_ip: str | None = None


class LoginSucceeded(Event, frozen=True, kw_only=True, tag="llmforge.auth.login.succeeded.v1"):
    SUBJECT: ClassVar[str] = "llmforge.auth.login.succeeded"
    data: LoginSucceededData


class LoginFailedData(msgspec.Struct, frozen=True, kw_only=True):
    # The e-mail as typed: the account may not exist, so there is no user id to give.
    email: str
    reason: str  # invalid_credentials | disabled | rate_limited
    client_ip: str | None = None


class LoginFailed(Event, frozen=True, kw_only=True, tag="llmforge.auth.login.failed.v1"):
    SUBJECT: ClassVar[str] = "llmforge.auth.login.failed"
    data: LoginFailedData


class PasswordChangedData(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str


class PasswordChanged(Event, frozen=True, kw_only=True, tag="llmforge.auth.password.changed.v1"):
    SUBJECT: ClassVar[str] = "llmforge.auth.password.changed"
    data: PasswordChangedData


class PasswordResetData(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    # True when the server generated a temporary password (never carried here).
    generated: bool


class PasswordReset(Event, frozen=True, kw_only=True, tag="llmforge.auth.password.reset.v1"):
    """An admin set a user's password; the user's sessions, tokens and keys were cut."""

    SUBJECT: ClassVar[str] = "llmforge.auth.password.reset"
    data: PasswordResetData


class RoleData(msgspec.Struct, frozen=True, kw_only=True):
    role_id: str
    name: str
    permissions: list[str]


class RoleCreated(Event, frozen=True, kw_only=True, tag="llmforge.auth.role.created.v1"):
    """A custom role was created."""

    SUBJECT: ClassVar[str] = "llmforge.auth.role.created"
    data: RoleData


class RoleUpdated(Event, frozen=True, kw_only=True, tag="llmforge.auth.role.updated.v1"):
    """A custom role's description or permissions changed (``permissions``: the new set)."""

    SUBJECT: ClassVar[str] = "llmforge.auth.role.updated"
    data: RoleData


class RoleDeleted(Event, frozen=True, kw_only=True, tag="llmforge.auth.role.deleted.v1"):
    """A custom role no user held any more was deleted."""

    SUBJECT: ClassVar[str] = "llmforge.auth.role.deleted"
    data: RoleData


class TokenReuseData(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    family_id: str
    revoked_tokens: int


class RefreshTokenReused(
    Event, frozen=True, kw_only=True, tag="llmforge.auth.refresh_token.reused.v1"
):
    """A rotated refresh token came back: its whole family was revoked."""

    SUBJECT: ClassVar[str] = "llmforge.auth.refresh_token.reused"
    data: TokenReuseData


class ApiKeyData(msgspec.Struct, frozen=True, kw_only=True):
    key_id: str
    user_id: str
    name: str
    prefix: str


class ApiKeyCreated(Event, frozen=True, kw_only=True, tag="llmforge.auth.api_key.created.v1"):
    SUBJECT: ClassVar[str] = "llmforge.auth.api_key.created"
    data: ApiKeyData


class ApiKeyRevoked(Event, frozen=True, kw_only=True, tag="llmforge.auth.api_key.revoked.v1"):
    SUBJECT: ClassVar[str] = "llmforge.auth.api_key.revoked"
    data: ApiKeyData


AUTH_EVENTS = (
    UserRegistered,
    UserUpdated,
    UserDeleted,
    LoginSucceeded,
    LoginFailed,
    PasswordChanged,
    RefreshTokenReused,
    ApiKeyCreated,
    ApiKeyRevoked,
    PasswordReset,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
)
