"""Request and response bodies of the stable alias routes (/api/models/aliases)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

# Like a model config's alias, without "/": the alias is one segment of the route's path.
ALIAS_PATTERN = r"^[A-Za-z0-9._:-]{1,200}$"


class AliasPromote(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model_config_id: Annotated[str, Meta(min_length=1, max_length=32)]


class AliasTarget(msgspec.Struct, kw_only=True):
    """The model config an alias points at, as far as it still exists."""

    model_config_id: str
    alias: str | None
    name: str | None
    # Enabled, on an enabled provider: /v1 requests for the stable alias answer.
    servable: bool


class AliasRead(msgspec.Struct, kw_only=True):
    alias: str
    target: AliasTarget | None
    # What rollbacks go back to, most recent first.
    previous: list[str]
    updated_by: str | None
    created_at: datetime
    updated_at: datetime


class AliasList(msgspec.Struct, kw_only=True):
    items: list[AliasRead]


class AliasChangeRead(msgspec.Struct, kw_only=True):
    id: str
    action: str  # promoted | rolled_back
    model_config_id: str
    previous_model_config_id: str | None
    actor_id: str | None
    event_id: str
    created_at: datetime


class AliasHistory(msgspec.Struct, kw_only=True):
    alias: str
    items: list[AliasChangeRead]
