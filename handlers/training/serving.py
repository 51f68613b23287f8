"""Serving routes (/api/models/{id}/serve): start, status with health, logs, stop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import httpx
import msgspec
from litestar import Controller, delete, get, post
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.training import ServerData, ServerRequested, ServerRequestedData, ServerStopRequested
from handlers.auth import CurrentUser, Permission, requires
from runtime.db.models import ModelConfig, TrainingJob, new_id
from runtime.db.models import ModelServer as ServerRow
from runtime.errors import Conflict, Forbidden, NotFound, Unprocessable
from runtime.outbox import emit
from runtime.settings import Settings
from trainer import sidecar
from trainer.serving import log_tail

ACTIVE = ("starting", "running")


class Server(msgspec.Struct, kw_only=True):
    id: str
    model_config_id: str
    status: str
    base_url: str | None
    provider_id: str | None
    error: str | None
    healthy: bool | None = None


class ServerLogs(msgspec.Struct, kw_only=True):
    server_id: str
    lines: list[str]


def server_out(row: ServerRow, healthy: bool | None = None) -> Server:
    return Server(
        id=row.id,
        model_config_id=row.model_config_id,
        status=row.status,
        base_url=row.base_url,
        provider_id=row.provider_id,
        error=row.error,
        healthy=healthy,
    )


async def servable_config(session: AsyncSession, user: CurrentUser, config_id: str) -> ModelConfig:
    config = await session.get(ModelConfig, config_id)
    if config is None:
        raise NotFound("model_config_not_found", detail=f"No model config {config_id}.")
    if config.kind not in ("local", "adapter") or not config.local_path:
        raise Unprocessable("not_a_local_model", detail="Only local models and adapters serve.")
    if not user.is_admin:
        job = await session.scalar(
            select(TrainingJob).where(TrainingJob.result_model_id == config.id)
        )
        if job is None or job.owner_id != user.id:
            raise Forbidden("not_model_owner", detail="Admins, or the job's owner, serve this.")
    return config


async def _latest(session: AsyncSession, config_id: str) -> ServerRow | None:
    query = select(ServerRow).where(ServerRow.model_config_id == config_id)
    return await session.scalar(query.order_by(ServerRow.created_at.desc()).limit(1))


def model_paths(config: ModelConfig) -> tuple[str, str | None, str, str]:
    """(base model, adapter, template, finetuning type) from the folder's sidecar."""
    assert config.local_path is not None
    meta = sidecar.read(config.local_path)
    if config.kind == "local":
        return config.local_path, None, str(meta.get("template", "")), "lora"
    base = meta.get("base_model_path")
    if not base:
        raise Unprocessable("adapter_without_base", detail="The adapter names no base model.")
    return (
        str(base),
        config.local_path,
        str(meta.get("template", "")),
        str(meta.get("finetuning_type", "lora")),
    )


class ServingController(Controller):
    path = "/api/models/{config_id:str}/serve"
    tags = ["models"]
    guards = [requires(Permission.TRAINING_RUN)]

    @post("/", operation_id="modelsServe", status_code=202)
    async def start(
        self,
        config_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
    ) -> Server:
        """Start ``llamafactory-cli api`` (loopback, free port) for the model or adapter;
        once it answers, it is registered as an openai-compatible provider."""
        config = await servable_config(db_session, current_user, config_id)
        latest = await _latest(db_session, config.id)
        if latest is not None and latest.status in ACTIVE:
            raise Conflict("already_serving", detail=f"Server {latest.id} is {latest.status}.")
        base, adapter, template, kind = model_paths(config)
        if not template:
            raise Unprocessable("template_unknown", detail="The model folder records no template.")
        server_id = new_id()
        log_path = (settings.data_dir / "servers" / server_id / "server.log").resolve()
        row = ServerRow(
            id=server_id,
            model_config_id=config.id,
            owner_id=current_user.id,
            status="starting",
            log_path=str(log_path),
        )
        db_session.add(row)
        await db_session.flush()
        data = ServerRequestedData(
            server_id=server_id,
            model_config_id=config.id,
            owner_id=current_user.id,
            base_model_path=base,
            adapter_path=adapter,
            template=template,
            finetuning_type=kind,
            model_name=config.alias,
            log_path=str(log_path),
        )
        emit(db_session, ServerRequested(subject=server_id, actor=current_user.id, data=data))
        return server_out(row)

    @get("/", operation_id="modelsServeStatus")
    async def status(
        self, config_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Server:
        """The latest server of the model, with a live health check when it runs."""
        await servable_config(db_session, current_user, config_id)
        row = await _latest(db_session, config_id)
        if row is None:
            raise NotFound("not_served", detail="This model has never been served.")
        healthy = None
        if row.status == "running" and row.base_url:
            try:
                async with httpx.AsyncClient(timeout=2.0) as http:
                    healthy = (await http.get(f"{row.base_url}/models")).status_code == 200
            except httpx.HTTPError:
                healthy = False
        return server_out(row, healthy)

    @get("/logs", operation_id="modelsServeLogs")
    async def logs(
        self,
        config_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        lines: Annotated[int, Parameter(ge=1, le=2000)] = 200,
    ) -> ServerLogs:
        await servable_config(db_session, current_user, config_id)
        row = await _latest(db_session, config_id)
        if row is None or not row.log_path:
            raise NotFound("not_served", detail="This model has never been served.")
        return ServerLogs(server_id=row.id, lines=log_tail(Path(row.log_path), lines))

    @delete("/", operation_id="modelsServeStop", status_code=202)
    async def stop(
        self, config_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Server:
        """Publishes ``training.server.stop_requested``; the worker running it stops it."""
        await servable_config(db_session, current_user, config_id)
        row = await _latest(db_session, config_id)
        if row is None or row.status not in ACTIVE:
            raise Conflict("not_serving", detail="The model is not being served.")
        data = ServerData(server_id=row.id, model_config_id=config_id, owner_id=current_user.id)
        emit(db_session, ServerStopRequested(subject=row.id, actor=current_user.id, data=data))
        return server_out(row)
