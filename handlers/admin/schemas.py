"""Request and response bodies of the admin routes: users, roles, permissions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from handlers.auth.permissions import ROLE_NAME_PATTERN, ROLE_USER
from handlers.auth.schemas import Email, NewPassword, UserRead

RoleName = Annotated[
    str, Meta(pattern=ROLE_NAME_PATTERN, description="lower-case, 2 to 32 characters")
]
DisplayName = Annotated[str, Meta(max_length=200)]
# Checked against the Permission enum by the service (422 ``unknown_permission``).
PermissionNames = Annotated[
    list[Annotated[str, Meta(max_length=64)]], Meta(max_length=64, examples=[["chat.use"]])
]
Description = Annotated[str, Meta(max_length=500)]


class UserPage(msgspec.Struct, kw_only=True):
    items: list[UserRead]
    total: int
    limit: int
    offset: int


class UserCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: NewPassword
    role: RoleName = ROLE_USER
    display_name: DisplayName | None = None


class UserUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields an admin may change; absent fields stay as they are."""

    # A built-in role or an existing custom role (400 ``invalid_role`` otherwise).
    role: RoleName | None = None
    is_active: bool | None = None
    display_name: DisplayName | None = None


class PasswordResetRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    # Absent: the server generates a temporary password and answers it once.
    new_password: NewPassword | None = None


class PasswordResetResult(msgspec.Struct, kw_only=True):
    """``temporary_password`` is set only when generated; it is never shown again."""

    user_id: str
    temporary_password: str | None = None


class RoleRead(msgspec.Struct, kw_only=True):
    name: str
    description: str
    permissions: list[str]
    # Built-in roles (admin, user) are defined in code and cannot be changed or deleted.
    builtin: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RoleList(msgspec.Struct, kw_only=True):
    items: list[RoleRead]


class RoleCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: RoleName
    permissions: PermissionNames
    description: Description = ""


class RoleUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Absent fields stay; ``permissions`` replaces the whole set. Names cannot change."""

    description: Description | None = None
    permissions: PermissionNames | None = None


class PermissionRead(msgspec.Struct, kw_only=True):
    name: str
    description: str


class PermissionList(msgspec.Struct, kw_only=True):
    items: list[PermissionRead]
