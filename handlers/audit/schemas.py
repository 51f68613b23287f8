"""Response bodies of the audit log routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class AuditEntry(msgspec.Struct, kw_only=True):
    id: str  # the event id
    type: str
    subject: str
    actor: str
    source: str
    time: datetime
    data: dict[str, Any]


class AuditPage(msgspec.Struct, kw_only=True):
    items: list[AuditEntry]  # newest first
    total: int
    limit: int
    offset: int
