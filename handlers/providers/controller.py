"""Provider routes (/api/providers): admin only, since they expose upstream config."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.deps import MAX_OFFSET
from handlers.providers import service, upstream
from handlers.providers.deps import GATEWAY_DEPENDENCIES
from handlers.providers.schemas import (
    ModelList,
    ProviderCreate,
    ProviderPage,
    ProviderRead,
    ProviderUpdate,
)
from runtime.db.models import Provider
from runtime.llm.gateway import Gateway
from runtime.llm.presets import PRESETS, Preset
from runtime.llm.types import ConnectionCheck, UpstreamModel
from runtime.security.crypto import mask_secret

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


def public_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """Settings as shown: extra header values (often credentials) are masked like keys."""
    shown = dict(settings or {})
    headers = shown.get("headers")
    if isinstance(headers, dict):
        shown["headers"] = {k: mask_secret(str(v)) for k, v in headers.items()}
    return shown


def provider_read(p: Provider) -> ProviderRead:
    return ProviderRead(
        id=p.id,
        name=p.name,
        type=p.type,
        base_url=p.base_url,
        preset=p.preset,
        api_key_hint=p.api_key_hint,
        has_api_key=p.api_key_encrypted is not None,
        enabled=p.enabled,
        settings=public_settings(p.settings),
        available_models=msgspec.convert(p.available_models or [], list[UpstreamModel]),
        models_synced_at=p.models_synced_at,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


class PresetController(Controller):
    # Its own controller: guards add up across layers, and presets are for every user.
    path = "/api/providers/presets"
    tags = ["providers"]
    guards = [requires(Permission.CHAT_USE)]

    @get("/", operation_id="listProviderPresets")
    async def presets(self) -> list[Preset]:
        return list(PRESETS)


class ProviderController(Controller):
    path = "/api/providers"
    tags = ["providers"]
    guards = [requires(Permission.PROVIDERS_MANAGE)]
    dependencies = GATEWAY_DEPENDENCIES

    @get("/", operation_id="listProviders")
    async def list_providers(
        self, db_session: AsyncSession, limit: Limit = 50, offset: Offset = 0
    ) -> ProviderPage:
        rows, total = await service.list_providers(db_session, limit=limit, offset=offset)
        items = [provider_read(p) for p in rows]
        return ProviderPage(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="createProvider")
    async def create_provider(
        self,
        data: ProviderCreate,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> ProviderRead:
        row = await service.create_provider(db_session, data, gateway, actor=current_user.id)
        return provider_read(row)

    @get("/{provider_id:str}", operation_id="getProvider")
    async def get_provider(self, provider_id: str, db_session: AsyncSession) -> ProviderRead:
        return provider_read(await service.get_provider(db_session, provider_id))

    @patch("/{provider_id:str}", operation_id="updateProvider")
    async def update_provider(
        self,
        provider_id: str,
        data: ProviderUpdate,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> ProviderRead:
        row = await service.update_provider(
            db_session, provider_id, data, gateway, actor=current_user.id
        )
        return provider_read(row)

    @delete("/{provider_id:str}", operation_id="deleteProvider")
    async def delete_provider(
        self,
        provider_id: str,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> None:
        await service.delete_provider(db_session, provider_id, gateway, actor=current_user.id)

    @post("/{provider_id:str}/test", operation_id="testProvider", status_code=200)
    async def test_provider(
        self, provider_id: str, db_session: AsyncSession, gateway: Gateway
    ) -> ConnectionCheck:
        return await upstream.check_connection(db_session, provider_id, gateway)

    @post(
        "/{provider_id:str}/refresh-models", operation_id="refreshProviderModels", status_code=200
    )
    async def refresh_models(
        self,
        provider_id: str,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> ModelList:
        row, models = await upstream.refresh_models(
            db_session, provider_id, gateway, actor=current_user.id
        )
        assert row.models_synced_at is not None
        return ModelList(provider_id=row.id, models=models, synced_at=row.models_synced_at)
