"""Provider domain logic: CRUD, with keys encrypted before they reach a row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.providers import (
    ProviderCreated,
    ProviderData,
    ProviderDeleted,
    ProviderDeletedData,
    ProviderUpdated,
    ProviderUpdatedData,
)
from handlers.providers.schemas import ProviderCreate, ProviderUpdate
from runtime.db.models import Provider, utcnow
from runtime.db.paging import page_of
from runtime.errors import BadRequest, Conflict, NotFound
from runtime.llm.gateway import Gateway
from runtime.llm.presets import preset
from runtime.outbox import emit
from runtime.security.crypto import mask_secret


def _data(p: Provider) -> dict[str, Any]:
    return {
        "provider_id": p.id,
        "name": p.name,
        "type": p.type,
        "base_url": p.base_url,
        "enabled": p.enabled,
        "preset": p.preset,
        "has_api_key": p.api_key_encrypted is not None,
    }


async def list_providers(
    session: AsyncSession, *, limit: int, offset: int
) -> tuple[Sequence[Provider], int]:
    query = select(Provider).order_by(Provider.name)
    return await page_of(session, query, limit=limit, offset=offset)


async def get_provider(session: AsyncSession, provider_id: str) -> Provider:
    provider = await session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("provider_not_found", detail=f"No provider {provider_id}.")
    return provider


async def _ensure_name_free(session: AsyncSession, name: str, own_id: str | None = None) -> None:
    other = await session.scalar(select(Provider.id).where(Provider.name == name))
    if other is not None and other != own_id:
        raise Conflict("provider_name_taken", detail=f"A provider named {name!r} exists.")


def _set_key(provider: Provider, api_key: str | None, gateway: Gateway) -> None:
    keyring = gateway.resolver.keyring
    provider.api_key_encrypted = keyring.encrypt(api_key) if api_key else None
    provider.api_key_hint = mask_secret(api_key)


async def create_provider(
    session: AsyncSession, data: ProviderCreate, gateway: Gateway, *, actor: str
) -> Provider:
    known = preset(data.preset) if data.preset else None
    if data.preset and known is None:
        raise BadRequest("unknown_preset", detail=f"No preset {data.preset!r}.")
    kind = data.type or (known.type if known else None)
    if kind is None:
        raise BadRequest("type_required", detail="Give a type or a preset.")
    base_url = data.base_url or (known.base_url if known else None)
    if base_url is None:
        raise BadRequest("base_url_required", detail="Give a base_url or a preset.")
    await _ensure_name_free(session, data.name)
    provider = Provider(
        name=data.name,
        type=kind,
        base_url=base_url.rstrip("/"),
        preset=data.preset,
        enabled=data.enabled,
        settings=data.settings,
        available_models=[],
    )
    _set_key(provider, data.api_key, gateway)
    session.add(provider)
    await session.flush()
    emit(
        session,
        ProviderCreated(subject=provider.id, actor=actor, data=ProviderData(**_data(provider))),
    )
    gateway.resolver.invalidate()
    return provider


async def update_provider(
    session: AsyncSession,
    provider_id: str,
    change: ProviderUpdate,
    gateway: Gateway,
    *,
    actor: str,
) -> Provider:
    provider = await get_provider(session, provider_id)
    changed: list[str] = []
    if change.name is not None and change.name != provider.name:
        await _ensure_name_free(session, change.name, provider.id)
    for field in ("name", "type", "enabled", "settings"):
        value = getattr(change, field)
        if value is not None and value != getattr(provider, field):
            setattr(provider, field, value)
            changed.append(field)
    if change.base_url is not None and change.base_url.rstrip("/") != provider.base_url:
        provider.base_url = change.base_url.rstrip("/")
        changed.append("base_url")
    if not isinstance(change.api_key, msgspec.UnsetType):
        _set_key(provider, change.api_key, gateway)
        changed.append("api_key")
    if changed:
        provider.updated_at = utcnow()
        data = ProviderUpdatedData(**_data(provider), changed=changed)
        emit(session, ProviderUpdated(subject=provider.id, actor=actor, data=data))
        gateway.resolver.invalidate()
    return provider


async def delete_provider(
    session: AsyncSession, provider_id: str, gateway: Gateway, *, actor: str
) -> None:
    from handlers.models.service import delete_configs_of

    provider = await get_provider(session, provider_id)
    await delete_configs_of(session, provider.id, actor=actor)
    await session.delete(provider)
    data = ProviderDeletedData(provider_id=provider.id, name=provider.name)
    emit(session, ProviderDeleted(subject=provider.id, actor=actor, data=data))
    gateway.resolver.invalidate()
