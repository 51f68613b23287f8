"""Request and response bodies of the model config routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

# What /v1 clients send as "model": no spaces, URL- and log-safe.
Alias = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:/-]+$")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
UpstreamId = Annotated[str, Meta(min_length=1, max_length=300)]
Price = Annotated[float, Meta(ge=0)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]


class Capabilities(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reasoning: bool = False
    vision: bool = False
    tools: bool = False
    context_window: Annotated[int, Meta(ge=1)] | None = None


class ModelParameters(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Presets applied under every request's own parameters (a request value wins)."""

    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    stop: Annotated[list[str], Meta(max_length=16)] | None = None
    seed: int | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    reasoning_budget_tokens: Annotated[int, Meta(ge=0)] | None = None
    extra: dict[str, Any] | None = None


class ModelConfigCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    provider_id: str
    model_id: UpstreamId
    alias: Alias
    name: Name | None = None  # default: the alias
    enabled: bool = True
    capabilities: Capabilities = msgspec.field(default_factory=Capabilities)
    parameters: ModelParameters = msgspec.field(default_factory=ModelParameters)
    input_price_per_mtok: Price | None = None
    output_price_per_mtok: Price | None = None


class ModelConfigUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Absent fields stay; a price set to null is cleared."""

    provider_id: str | None = None
    model_id: UpstreamId | None = None
    alias: Alias | None = None
    name: Name | None = None
    enabled: bool | None = None
    capabilities: Capabilities | None = None
    parameters: ModelParameters | None = None
    input_price_per_mtok: Price | UnsetType | None = UNSET
    output_price_per_mtok: Price | UnsetType | None = UNSET


class ModelConfigRead(msgspec.Struct, kw_only=True):
    id: str
    provider_id: str | None
    model_id: str
    alias: str
    name: str
    kind: str
    enabled: bool
    capabilities: Capabilities
    parameters: ModelParameters
    input_price_per_mtok: float | None
    output_price_per_mtok: float | None
    created_at: datetime
    updated_at: datetime


class ModelConfigPage(msgspec.Struct, kw_only=True):
    items: list[ModelConfigRead]
    total: int
    limit: int
    offset: int
