"""Events of the providers domain: LLM providers, their model lists and model configs."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from events.envelope import Event


class ProviderData(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    name: str
    type: str
    base_url: str
    enabled: bool
    preset: str | None = None
    # Whether a key is stored; the key itself, even masked, never rides an event.
    has_api_key: bool = False


class ProviderCreated(
    Event, frozen=True, kw_only=True, tag="llmforge.providers.provider.created.v1"
):
    SUBJECT: ClassVar[str] = "llmforge.providers.provider.created"
    data: ProviderData


class ProviderUpdatedData(ProviderData, frozen=True, kw_only=True):
    # Names of the fields that changed ("api_key" when the key was replaced or cleared).
    changed: list[str] = msgspec.field(default_factory=list)


class ProviderUpdated(
    Event, frozen=True, kw_only=True, tag="llmforge.providers.provider.updated.v1"
):
    SUBJECT: ClassVar[str] = "llmforge.providers.provider.updated"
    data: ProviderUpdatedData


class ProviderDeletedData(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    name: str


class ProviderDeleted(
    Event, frozen=True, kw_only=True, tag="llmforge.providers.provider.deleted.v1"
):
    """A provider was removed, and with it its model configs (each has its own event)."""

    SUBJECT: ClassVar[str] = "llmforge.providers.provider.deleted"
    data: ProviderDeletedData


class ModelsRefreshedData(msgspec.Struct, frozen=True, kw_only=True):
    provider_id: str
    model_ids: list[str]


class ModelsRefreshed(
    Event, frozen=True, kw_only=True, tag="llmforge.providers.models.refreshed.v1"
):
    """The provider's upstream model list was fetched and stored."""

    SUBJECT: ClassVar[str] = "llmforge.providers.models.refreshed"
    data: ModelsRefreshedData


class ModelConfigData(msgspec.Struct, frozen=True, kw_only=True):
    model_config_id: str
    provider_id: str | None
    model_id: str
    alias: str
    name: str
    enabled: bool


class ModelConfigCreated(
    Event, frozen=True, kw_only=True, tag="llmforge.providers.model_config.created.v1"
):
    SUBJECT: ClassVar[str] = "llmforge.providers.model_config.created"
    data: ModelConfigData


class ModelConfigUpdatedData(ModelConfigData, frozen=True, kw_only=True):
    changed: list[str] = msgspec.field(default_factory=list)


class ModelConfigUpdated(
    Event, frozen=True, kw_only=True, tag="llmforge.providers.model_config.updated.v1"
):
    SUBJECT: ClassVar[str] = "llmforge.providers.model_config.updated"
    data: ModelConfigUpdatedData


class ModelConfigDeletedData(msgspec.Struct, frozen=True, kw_only=True):
    model_config_id: str
    alias: str


class ModelConfigDeleted(
    Event, frozen=True, kw_only=True, tag="llmforge.providers.model_config.deleted.v1"
):
    SUBJECT: ClassVar[str] = "llmforge.providers.model_config.deleted"
    data: ModelConfigDeletedData


class ModelAliasData(msgspec.Struct, frozen=True, kw_only=True):
    alias: str
    model_config_id: str
    previous_model_config_id: str | None = None


class ModelPromoted(Event, frozen=True, kw_only=True, tag="llmforge.providers.model.promoted.v1"):
    """A stable alias now points at this model config; /v1 clients sending it switch."""

    SUBJECT: ClassVar[str] = "llmforge.providers.model.promoted"
    data: ModelAliasData


class ModelRolledBack(
    Event, frozen=True, kw_only=True, tag="llmforge.providers.model.rolled_back.v1"
):
    """A stable alias went back to the target it had before its latest promotion."""

    SUBJECT: ClassVar[str] = "llmforge.providers.model.rolled_back"
    data: ModelAliasData


PROVIDER_EVENTS = (
    ProviderCreated,
    ProviderUpdated,
    ProviderDeleted,
    ModelsRefreshed,
    ModelConfigCreated,
    ModelConfigUpdated,
    ModelConfigDeleted,
    ModelPromoted,
    ModelRolledBack,
)
