"""Model config routes (/api/models): everyone reads what is served, admins manage."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.deps import MAX_OFFSET
from handlers.models import service
from handlers.models.schemas import (
    Capabilities,
    ModelConfigCreate,
    ModelConfigPage,
    ModelConfigRead,
    ModelConfigUpdate,
    ModelParameters,
)
from handlers.providers.deps import GATEWAY_DEPENDENCIES
from runtime.db.models import ModelConfig
from runtime.llm.gateway import Gateway

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


def model_config_read(m: ModelConfig) -> ModelConfigRead:
    caps = {**(m.capabilities or {}), "context_window": m.context_window}
    return ModelConfigRead(
        id=m.id,
        provider_id=m.provider_id,
        model_id=m.model_id,
        alias=m.alias,
        name=m.name,
        kind=m.kind,
        enabled=m.enabled,
        capabilities=msgspec.convert(caps, Capabilities),
        parameters=msgspec.convert(m.parameters or {}, ModelParameters),
        input_price_per_mtok=m.input_price_per_mtok,
        output_price_per_mtok=m.output_price_per_mtok,
        created_at=m.created_at,
        updated_at=m.updated_at,
    )


# Chat users pick models from the list; changing configs belongs with the providers.
_USE = requires(Permission.CHAT_USE)
_MANAGE = requires(Permission.PROVIDERS_MANAGE)


class ModelConfigController(Controller):
    path = "/api/models"
    tags = ["models"]
    dependencies = GATEWAY_DEPENDENCIES

    @get("/", operation_id="listModelConfigs", guards=[_USE])
    async def list_configs(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        provider_id: str | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ModelConfigPage:
        rows, total = await service.list_configs(
            db_session,
            everything=current_user.is_admin,
            provider_id=provider_id,
            limit=limit,
            offset=offset,
        )
        items = [model_config_read(m) for m in rows]
        return ModelConfigPage(items=items, total=total, limit=limit, offset=offset)

    @get("/{config_id:str}", operation_id="getModelConfig", guards=[_USE])
    async def get_config(
        self, config_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> ModelConfigRead:
        row = await service.get_config(db_session, config_id, everything=current_user.is_admin)
        return model_config_read(row)

    @post("/", operation_id="createModelConfig", guards=[_MANAGE])
    async def create_config(
        self,
        data: ModelConfigCreate,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> ModelConfigRead:
        row = await service.create_config(db_session, data, actor=current_user.id)
        gateway.resolver.invalidate()
        return model_config_read(row)

    @patch("/{config_id:str}", operation_id="updateModelConfig", guards=[_MANAGE])
    async def update_config(
        self,
        config_id: str,
        data: ModelConfigUpdate,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> ModelConfigRead:
        row = await service.update_config(db_session, config_id, data, actor=current_user.id)
        gateway.resolver.invalidate()
        return model_config_read(row)

    @delete("/{config_id:str}", operation_id="deleteModelConfig", guards=[_MANAGE])
    async def delete_config(
        self,
        config_id: str,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> None:
        await service.delete_config(db_session, config_id, actor=current_user.id)
        gateway.resolver.invalidate()
