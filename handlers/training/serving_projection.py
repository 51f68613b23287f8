"""Served models in the database: the server row, and a provider while it runs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from events import Event
from events.providers import (
    ProviderCreated,
    ProviderData,
    ProviderDeleted,
    ProviderDeletedData,
)
from events.training import ServerStarted, ServerStopped
from runtime.db.models import ModelConfig, Provider, utcnow
from runtime.db.models import ModelServer as ServerRow
from runtime.outbox import emit


async def _started(session: AsyncSession, row: ServerRow, event: ServerStarted) -> None:
    if row.status in ("stopped", "failed"):
        return
    row.status = "running"
    row.base_url, row.host, row.pid = event.data.base_url, event.data.host, event.data.pid
    config = await session.get(ModelConfig, row.model_config_id)
    if config is None or row.provider_id:
        return
    # An openai-compatible provider for the server: the gateway, chat, compare and /v1
    # reach the model under its alias like any other.
    provider = Provider(
        name=f"served-{config.alias}-{row.id[:8]}",
        type="openai-compatible",
        base_url=event.data.base_url,
        enabled=True,
        settings={"managed_by": "llmforge-serving", "server_id": row.id},
        available_models=[config.alias],
    )
    session.add(provider)
    await session.flush()
    row.provider_id = provider.id
    config.provider_id = provider.id
    config.model_id = config.alias
    data = ProviderData(
        provider_id=provider.id,
        name=provider.name,
        type=provider.type,
        base_url=provider.base_url,
        enabled=True,
    )
    emit(session, ProviderCreated(subject=provider.id, data=data))


async def _stopped(session: AsyncSession, row: ServerRow, event: ServerStopped) -> None:
    if row.status in ("stopped", "failed"):
        return
    row.status = "failed" if event.data.reason == "failed" else "stopped"
    row.error = event.data.error
    row.stopped_at = utcnow()
    config = await session.get(ModelConfig, row.model_config_id)
    if config is not None and config.provider_id == row.provider_id:
        config.provider_id = None  # detach first: deleting a provider cascades to configs
    if row.provider_id:
        provider = await session.get(Provider, row.provider_id)
        if provider is not None:
            await session.flush()
            await session.delete(provider)
            data = ProviderDeletedData(provider_id=provider.id, name=provider.name)
            emit(session, ProviderDeleted(subject=provider.id, data=data))


async def apply_server_event(session: AsyncSession, event: Event) -> None:
    if not isinstance(event, ServerStarted | ServerStopped):
        return
    row = await session.get(ServerRow, event.data.server_id)
    if row is None:
        return
    if isinstance(event, ServerStarted):
        await _started(session, row, event)
    else:
        await _stopped(session, row, event)
