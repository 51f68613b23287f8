"""Request and response bodies of the provider routes; keys go in, only hints come out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from runtime.llm.presets import ProviderType
from runtime.llm.types import UpstreamModel

Name = Annotated[str, Meta(min_length=1, max_length=200)]
BaseUrl = Annotated[str, Meta(max_length=1000, pattern=r"^https?://[^\s/?#]+[^\s]*$")]
ApiKey = Annotated[str, Meta(min_length=1, max_length=4000)]


class ProviderCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``preset`` fills ``type`` and ``base_url``; either may still be given to override."""

    name: Name
    type: ProviderType | None = None
    base_url: BaseUrl | None = None
    api_key: ApiKey | None = None
    preset: Annotated[str, Meta(max_length=64)] | None = None
    enabled: bool = True
    # Adapter options (timeouts, retries, extra "headers"); header values are masked
    # in responses, everything else is shown as is.
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class ProviderUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Absent fields stay; ``api_key: null`` removes the stored key."""

    name: Name | None = None
    type: ProviderType | None = None
    base_url: BaseUrl | None = None
    api_key: ApiKey | UnsetType | None = UNSET
    enabled: bool | None = None
    settings: dict[str, Any] | None = None


class ProviderRead(msgspec.Struct, kw_only=True):
    id: str
    name: str
    type: str
    base_url: str
    preset: str | None
    # Masked (``sk-…wxyz``): enough to tell keys apart, useless to anyone else.
    api_key_hint: str | None
    has_api_key: bool
    enabled: bool
    settings: dict[str, Any]
    available_models: list[UpstreamModel]
    models_synced_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProviderPage(msgspec.Struct, kw_only=True):
    items: list[ProviderRead]
    total: int
    limit: int
    offset: int


class ModelList(msgspec.Struct, kw_only=True):
    provider_id: str
    models: list[UpstreamModel]
    synced_at: datetime
