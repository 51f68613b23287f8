"""Stable alias routes (/api/models/aliases): list, promote, roll back, history."""

from __future__ import annotations

from litestar import Controller, Response, get, post, put
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.models import aliases
from handlers.models.alias_schemas import (
    AliasHistory,
    AliasList,
    AliasPromote,
    AliasRead,
)
from handlers.providers.deps import GATEWAY_DEPENDENCIES
from runtime.db.models import ModelAlias
from runtime.llm.gateway import Gateway

_USE = requires(Permission.CHAT_USE)
_MANAGE = requires(Permission.PROVIDERS_MANAGE)


class ModelAliasController(Controller):
    path = "/api/models/aliases"
    tags = ["models"]
    dependencies = GATEWAY_DEPENDENCIES

    @get("/", operation_id="listModelAliases", guards=[_USE])
    async def list_aliases(self, db_session: AsyncSession) -> AliasList:
        rows = await aliases.list_aliases(db_session)
        return AliasList(items=[await aliases.alias_read(db_session, r) for r in rows])

    @put("/{alias:str}", operation_id="promoteModelAlias", guards=[_MANAGE])
    async def promote(
        self,
        alias: str,
        data: AliasPromote,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> Response[AliasRead]:
        """Point the alias at a model config (201 when the alias is new); emits
        ``model.promoted``. /v1 requests naming the alias answer from it at once."""
        existed = await db_session.get(ModelAlias, alias) is not None
        row, _ = await aliases.promote(
            db_session, alias, data.model_config_id, actor=current_user.id
        )
        body = await aliases.alias_read(db_session, row)
        # Committed before the cache drop: no request can cache the old target after it.
        await db_session.commit()
        gateway.resolver.forget(alias)
        return Response(body, status_code=200 if existed else 201)

    @post(
        "/{alias:str}/rollback",
        operation_id="rollbackModelAlias",
        guards=[_MANAGE],
        status_code=200,
    )
    async def rollback(
        self,
        alias: str,
        db_session: AsyncSession,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> AliasRead:
        """Back to the target before the latest promotion (409 when there is none)."""
        row = await aliases.rollback(db_session, alias, actor=current_user.id)
        body = await aliases.alias_read(db_session, row)
        await db_session.commit()
        gateway.resolver.forget(alias)
        return body

    @get("/{alias:str}/history", operation_id="modelAliasHistory", guards=[_MANAGE])
    async def history(self, alias: str, db_session: AsyncSession) -> AliasHistory:
        return AliasHistory(alias=alias, items=await aliases.history(db_session, alias))
