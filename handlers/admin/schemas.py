"""Request and response bodies of the admin routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from handlers.auth.schemas import UserRead


class UserPage(msgspec.Struct, kw_only=True):
    items: list[UserRead]
    total: int
    limit: int
    offset: int


class UserUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields an admin may change; absent fields stay as they are."""

    role: Annotated[str, Meta(pattern="^(admin|user)$")] | None = None
    is_active: bool | None = None
    display_name: Annotated[str, Meta(max_length=200)] | None = None


class AuditEntry(msgspec.Struct, kw_only=True):
    id: str
    type: str
    subject: str
    actor: str
    source: str
    time: datetime
    data: dict[str, Any]


class AuditPage(msgspec.Struct, kw_only=True):
    items: list[AuditEntry]
    total: int
    limit: int
    offset: int
