"""Model config domain logic: the models the platform offers, and who may see them."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.providers import (
    ModelConfigCreated,
    ModelConfigData,
    ModelConfigDeleted,
    ModelConfigDeletedData,
    ModelConfigUpdated,
    ModelConfigUpdatedData,
)
from handlers.models.schemas import ModelConfigCreate, ModelConfigUpdate
from runtime.db.models import ModelAlias, ModelConfig, Provider, utcnow
from runtime.db.paging import page_of
from runtime.errors import BadRequest, Conflict, NotFound
from runtime.outbox import emit

_PLAIN_FIELDS = ("provider_id", "model_id", "alias", "name", "enabled")
_PRICES = ("input_price_per_mtok", "output_price_per_mtok")


def servable() -> Select[ModelConfig]:
    """Enabled configs of enabled providers: what non-admins and /v1 clients see."""
    return (
        select(ModelConfig)
        .join(Provider, Provider.id == ModelConfig.provider_id)
        .where(ModelConfig.enabled.is_(True), Provider.enabled.is_(True))
    )


def visible() -> Select[ModelConfig]:
    """What non-admins list: the servable configs plus enabled local base models and trained
    adapters, which users pick to fine-tune (they answer chats only once served)."""
    return (
        select(ModelConfig)
        .outerjoin(Provider, Provider.id == ModelConfig.provider_id)
        .where(
            ModelConfig.enabled.is_(True),
            or_(Provider.enabled.is_(True), ModelConfig.provider_id.is_(None)),
        )
    )


def _data(m: ModelConfig) -> ModelConfigData:
    return ModelConfigData(
        model_config_id=m.id,
        provider_id=m.provider_id,
        model_id=m.model_id,
        alias=m.alias,
        name=m.name,
        enabled=m.enabled,
    )


async def list_configs(
    session: AsyncSession,
    *,
    everything: bool,
    provider_id: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[ModelConfig], int]:
    query = select(ModelConfig) if everything else visible()
    if provider_id:
        query = query.where(ModelConfig.provider_id == provider_id)
    query = query.order_by(ModelConfig.alias)
    return await page_of(session, query, limit=limit, offset=offset)


async def servable_configs(session: AsyncSession) -> Sequence[ModelConfig]:
    return (await session.scalars(servable().order_by(ModelConfig.alias))).all()


async def get_config(session: AsyncSession, config_id: str, *, everything: bool) -> ModelConfig:
    query = (select(ModelConfig) if everything else visible()).where(ModelConfig.id == config_id)
    config = await session.scalar(query)
    if config is None:
        raise NotFound("model_config_not_found", detail=f"No model config {config_id}.")
    return config


async def _check_refs(
    session: AsyncSession, *, provider_id: str | None, alias: str | None, own_id: str | None
) -> None:
    if provider_id is not None and await session.get(Provider, provider_id) is None:
        raise BadRequest("unknown_provider", detail=f"No provider {provider_id}.")
    if alias is not None:
        other = await session.scalar(select(ModelConfig.id).where(ModelConfig.alias == alias))
        if other is not None and other != own_id:
            raise Conflict("alias_taken", detail=f"The alias {alias!r} is in use.")
        # A stable alias is resolved first: a config under the same name would be hidden.
        if other is None and await session.get(ModelAlias, alias) is not None:
            raise Conflict("alias_taken", detail=f"{alias!r} is a stable (promoted) alias.")


def _capabilities(data: ModelConfigCreate | ModelConfigUpdate, config: ModelConfig) -> None:
    if data.capabilities is not None:
        caps = msgspec.to_builtins(data.capabilities)
        config.context_window = caps.pop("context_window", None)
        config.capabilities = caps


async def create_config(
    session: AsyncSession, data: ModelConfigCreate, *, actor: str
) -> ModelConfig:
    await _check_refs(session, provider_id=data.provider_id, alias=data.alias, own_id=None)
    config = ModelConfig(
        provider_id=data.provider_id,
        model_id=data.model_id,
        alias=data.alias,
        name=data.name or data.alias,
        kind="remote",
        enabled=data.enabled,
        parameters=msgspec.to_builtins(data.parameters),
        input_price_per_mtok=data.input_price_per_mtok,
        output_price_per_mtok=data.output_price_per_mtok,
    )
    _capabilities(data, config)
    session.add(config)
    await session.flush()
    emit(session, ModelConfigCreated(subject=config.id, actor=actor, data=_data(config)))
    return config


async def update_config(
    session: AsyncSession, config_id: str, change: ModelConfigUpdate, *, actor: str
) -> ModelConfig:
    config = await get_config(session, config_id, everything=True)
    await _check_refs(session, provider_id=change.provider_id, alias=change.alias, own_id=config.id)
    changed = [
        f
        for f in _PLAIN_FIELDS
        if (v := getattr(change, f)) is not None and v != getattr(config, f)
    ]
    for f in changed:
        setattr(config, f, getattr(change, f))
    for f in _PRICES:
        value = getattr(change, f)
        if not isinstance(value, msgspec.UnsetType) and value != getattr(config, f):
            setattr(config, f, value)
            changed.append(f)
    if change.parameters is not None:
        config.parameters = msgspec.to_builtins(change.parameters)
        changed.append("parameters")
    if change.capabilities is not None:
        _capabilities(change, config)
        changed.append("capabilities")
    if changed:
        config.updated_at = utcnow()
        data = ModelConfigUpdatedData(**msgspec.structs.asdict(_data(config)), changed=changed)
        emit(session, ModelConfigUpdated(subject=config.id, actor=actor, data=data))
    return config


async def delete_config(session: AsyncSession, config_id: str, *, actor: str) -> None:
    config = await get_config(session, config_id, everything=True)
    await _delete(session, config, actor)


async def delete_configs_of(session: AsyncSession, provider_id: str, *, actor: str) -> None:
    """Each config of a provider being deleted goes with its own event."""
    for config in await session.scalars(
        select(ModelConfig).where(ModelConfig.provider_id == provider_id)
    ):
        await _delete(session, config, actor)


async def _delete(session: AsyncSession, config: ModelConfig, actor: str) -> None:
    await session.delete(config)
    data = ModelConfigDeletedData(model_config_id=config.id, alias=config.alias)
    emit(session, ModelConfigDeleted(subject=config.id, actor=actor, data=data))
