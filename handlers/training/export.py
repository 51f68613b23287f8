"""Export route (/api/models/{id}/export): merge an adapter into a standalone local model."""

from __future__ import annotations

import msgspec
from litestar import Controller, post
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events import Event
from events.providers import ModelConfigCreated, ModelConfigData
from events.training import ExportCompleted, ExportRequested, ExportRequestedData
from handlers.auth import CurrentUser, Permission, requires
from handlers.training.serving import model_paths, servable_config
from runtime.db.models import ModelConfig, new_id
from runtime.errors import Conflict, Unprocessable
from runtime.outbox import emit
from runtime.settings import Settings


class Export(msgspec.Struct, kw_only=True):
    id: str
    model_config_id: str
    # The alias the merged model will have once the export completes.
    alias: str
    export_dir: str


class ExportController(Controller):
    path = "/api/models/{config_id:str}/export"
    tags = ["models"]
    guards = [requires(Permission.TRAINING_RUN)]

    @post("/", operation_id="modelsExport", status_code=202)
    async def export(
        self,
        config_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
    ) -> Export:
        """Emits ``training.export.requested``; a trainer worker runs ``llamafactory-cli
        export`` and the merged folder is registered as a local model (``<alias>-merged``)."""
        config = await servable_config(db_session, current_user, config_id)
        if config.kind != "adapter":
            raise Unprocessable("not_an_adapter", detail="Only adapters are merged.")
        base, adapter, template, _kind = model_paths(config)
        alias = f"{config.alias}-merged"
        taken = await db_session.scalar(select(ModelConfig.id).where(ModelConfig.alias == alias))
        if taken:
            raise Conflict("already_exported", detail=f"Model {alias} exists.")
        export_id = new_id()
        target = (settings.data_dir / "models" / alias).resolve()
        data = ExportRequestedData(
            export_id=export_id,
            model_config_id=config.id,
            owner_id=current_user.id,
            base_model_path=base,
            adapter_path=adapter or "",
            template=template,
            export_dir=str(target),
            alias=alias,
        )
        emit(db_session, ExportRequested(subject=export_id, actor=current_user.id, data=data))
        return Export(id=export_id, model_config_id=config.id, alias=alias, export_dir=str(target))


async def apply_export_event(session: AsyncSession, event: Event) -> None:
    """A completed export becomes a local model config (once, by alias)."""
    if not isinstance(event, ExportCompleted):
        return
    d = event.data
    if await session.scalar(select(ModelConfig.id).where(ModelConfig.alias == d.alias)):
        return
    config = ModelConfig(
        provider_id=None,
        model_id=d.alias,
        alias=d.alias,
        name=d.alias,
        kind="local",
        local_path=d.export_dir,
        enabled=True,
        capabilities={},
        parameters={},
    )
    session.add(config)
    await session.flush()
    created = ModelConfigData(
        model_config_id=config.id,
        provider_id=None,
        model_id=d.alias,
        alias=d.alias,
        name=d.alias,
        enabled=True,
    )
    emit(session, ModelConfigCreated(subject=config.id, data=created))
