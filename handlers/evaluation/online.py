"""Make the evaluated models callable: serve local models and adapters that are not, stop
afterwards only what the evaluation started.

A server is started the way ``POST /api/models/{id}/serve`` does it (a ``model_servers``
row and ``training.server.requested``); the model-server worker runs it and the training
projection attaches its provider to the model config, which is what is waited for here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.training import ServerData, ServerRequested, ServerRequestedData, ServerStopRequested
from handlers.compare.schemas import ModelRef
from handlers.training.serving import ACTIVE, model_paths
from runtime.bus.connection import EventBus
from runtime.db.models import ModelConfig, Provider, TrainingEvaluation, new_id
from runtime.db.models import ModelServer as ServerRow
from runtime.errors import ProblemError
from runtime.outbox import emit, publish_committed


class EvaluationError(Exception):
    """The evaluation cannot go on (a model gone, a server that would not start…)."""


async def _servable(session: AsyncSession, config: ModelConfig) -> bool:
    if not config.enabled or config.provider_id is None:
        return False
    provider = await session.get(Provider, config.provider_id)
    return provider is not None and provider.enabled


async def _latest(session: AsyncSession, config_id: str) -> ServerRow | None:
    query = select(ServerRow).where(ServerRow.model_config_id == config_id)
    return await session.scalar(query.order_by(ServerRow.created_at.desc()).limit(1))


def _start(session: AsyncSession, config: ModelConfig, owner_id: str, data_dir: Path) -> ServerRow:
    try:
        base, adapter, template, kind = model_paths(config)
    except ProblemError as exc:
        raise EvaluationError(f"{config.alias}: {exc.detail}") from exc
    if not template:
        raise EvaluationError(f"{config.alias}: the model folder records no template")
    server_id = new_id()
    log_path = (data_dir / "servers" / server_id / "server.log").resolve()
    row = ServerRow(
        id=server_id,
        model_config_id=config.id,
        owner_id=owner_id,
        status="starting",
        log_path=str(log_path),
    )
    session.add(row)
    data = ServerRequestedData(
        server_id=server_id,
        model_config_id=config.id,
        owner_id=owner_id,
        base_model_path=base,
        adapter_path=adapter,
        template=template,
        finetuning_type=kind,
        model_name=config.alias,
        log_path=str(log_path),
    )
    emit(session, ServerRequested(subject=server_id, actor=owner_id, data=data))
    return row


async def request_serving(
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    evaluation_id: str,
    config_ids: Sequence[str],
    *,
    owner_id: str,
    data_dir: Path,
) -> None:
    """Start a server for each local model or adapter that has none starting or running."""
    async with sessions() as session:
        async with session.begin():
            evaluation = await session.get(TrainingEvaluation, evaluation_id, with_for_update=True)
            if evaluation is None:
                raise EvaluationError("the evaluation is gone")
            started = list(evaluation.server_ids or [])
            for config_id in dict.fromkeys(config_ids):
                config = await session.get(ModelConfig, config_id)
                if config is None:
                    raise EvaluationError(f"model config {config_id} is gone")
                if await _servable(session, config):
                    continue
                if config.kind not in ("local", "adapter") or not config.local_path:
                    raise EvaluationError(f"{config.alias} is disabled or has no provider")
                latest = await _latest(session, config.id)
                if latest is not None and latest.status in ACTIVE:
                    continue  # on its way up (perhaps ours, from an earlier delivery)
                started.append(_start(session, config, owner_id, data_dir).id)
            evaluation.server_ids = started
        await publish_committed(session, bus)


async def wait_servable(
    sessions: async_sessionmaker[AsyncSession],
    config_ids: Sequence[str],
    *,
    within: float,
    poll: float = 0.5,
) -> dict[str, ModelRef]:
    """Each model as the gateway will call it, once all answer; bounded by ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        refs: dict[str, ModelRef] = {}
        async with sessions() as session:
            for config_id in dict.fromkeys(config_ids):
                config = await session.get(ModelConfig, config_id)
                if config is None:
                    raise EvaluationError(f"model config {config_id} is gone")
                if await _servable(session, config):
                    refs[config_id] = ModelRef(
                        model_config_id=config.id, alias=config.alias, name=config.name
                    )
                    continue
                latest = await _latest(session, config_id)
                if latest is None or latest.status not in ACTIVE:
                    reason = latest.error if latest is not None and latest.error else "stopped"
                    raise EvaluationError(f"serving {config.alias} failed: {reason}")
        if len(refs) == len(set(config_ids)):
            return refs
        if time.monotonic() > deadline:
            raise EvaluationError(f"the models were not served within {within:.0f} s")
        await asyncio.sleep(poll)


async def stop_started(session: AsyncSession, evaluation: TrainingEvaluation) -> None:
    """Stage stop requests for the servers this evaluation started that still run."""
    for server_id in evaluation.server_ids or []:
        row = await session.get(ServerRow, server_id)
        if row is None or row.status not in ACTIVE:
            continue
        data = ServerData(
            server_id=row.id, model_config_id=row.model_config_id, owner_id=evaluation.owner_id
        )
        emit(session, ServerStopRequested(subject=row.id, actor=evaluation.owner_id, data=data))
    evaluation.server_ids = []
