"""Stable aliases: promote a model config under a name /v1 clients keep, roll it back.

An alias row holds its current target and, as a stack, the targets it had before: a
promotion pushes the current one, a rollback pops it. Each step is one history row and
one event in the same transaction (``model.promoted`` / ``model.rolled_back``), so the
audit log and webhooks see every step.

A stable alias is looked up before model config aliases (``ModelResolver``), so it must
not take a config's own alias: it would hide that config. The only exception is a config
promoted under its own alias, which changes nothing for clients.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from events.providers import ModelAliasData, ModelPromoted, ModelRolledBack
from handlers.models.alias_schemas import ALIAS_PATTERN, AliasChangeRead, AliasRead, AliasTarget
from runtime.db.models import ModelAlias, ModelAliasChange, ModelConfig, Provider, utcnow
from runtime.errors import BadRequest, Conflict, NotFound, Unprocessable
from runtime.outbox import emit


async def _servable(session: AsyncSession, config: ModelConfig) -> bool:
    if not config.enabled or config.provider_id is None:
        return False
    provider = await session.get(Provider, config.provider_id)
    return provider is not None and provider.enabled


async def _target(session: AsyncSession, config_id: str) -> ModelConfig:
    config = await session.get(ModelConfig, config_id)
    if config is None:
        raise Unprocessable("unknown_model_config", detail=f"No model config {config_id}.")
    if not await _servable(session, config):
        # Promoting a model nobody can call would break every client of the alias.
        raise Conflict(
            "model_not_servable",
            detail=f"Model config {config.alias!r} is disabled or has no enabled provider; "
            "a local model or adapter must be served first (POST /api/models/{id}/serve).",
        )
    return config


async def _check_name(session: AsyncSession, alias: str, config: ModelConfig) -> None:
    owner = await session.scalar(select(ModelConfig.id).where(ModelConfig.alias == alias))
    if owner is not None and owner != config.id:
        raise Conflict(
            "alias_taken",
            detail=f"{alias!r} is the alias of model config {owner}; a stable alias of that "
            "name would hide it.",
        )


async def alias_read(session: AsyncSession, row: ModelAlias) -> AliasRead:
    target = None
    if row.model_config_id is not None:
        config = await session.get(ModelConfig, row.model_config_id)
        target = AliasTarget(
            model_config_id=row.model_config_id,
            alias=config.alias if config else None,
            name=config.name if config else None,
            servable=config is not None and await _servable(session, config),
        )
    return AliasRead(
        alias=row.alias,
        target=target,
        previous=list(reversed(row.previous or [])),
        updated_by=row.updated_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_aliases(session: AsyncSession) -> Sequence[ModelAlias]:
    return (await session.scalars(select(ModelAlias).order_by(ModelAlias.alias))).all()


async def servable_aliases(session: AsyncSession) -> Sequence[ModelAlias]:
    """Aliases whose target answers: what ``GET /v1/models`` lists beside the configs."""
    query = (
        select(ModelAlias)
        .join(ModelConfig, ModelConfig.id == ModelAlias.model_config_id)
        .join(Provider, Provider.id == ModelConfig.provider_id)
        .where(ModelConfig.enabled.is_(True), Provider.enabled.is_(True))
        .order_by(ModelAlias.alias)
    )
    return (await session.scalars(query)).all()


async def get_alias(session: AsyncSession, alias: str, *, lock: bool = False) -> ModelAlias:
    row = await session.get(ModelAlias, alias, with_for_update=lock)
    if row is None:
        raise NotFound("alias_not_found", detail=f"No stable alias {alias!r}.")
    return row


def _record(
    session: AsyncSession,
    row: ModelAlias,
    action: str,
    previous: str | None,
    actor: str,
) -> None:
    assert row.model_config_id is not None
    data = ModelAliasData(
        alias=row.alias,
        model_config_id=row.model_config_id,
        previous_model_config_id=previous,
    )
    event: ModelPromoted | ModelRolledBack
    if action == "promoted":
        event = ModelPromoted(subject=row.alias, actor=actor, data=data)
    else:
        event = ModelRolledBack(subject=row.alias, actor=actor, data=data)
    session.add(
        ModelAliasChange(
            alias=row.alias,
            action=action,
            model_config_id=row.model_config_id,
            previous_model_config_id=previous,
            actor_id=actor,
            event_id=event.id,
        )
    )
    emit(session, event)
    row.updated_by, row.updated_at = actor, utcnow()


async def promote(
    session: AsyncSession, alias: str, model_config_id: str, *, actor: str
) -> tuple[ModelAlias, bool]:
    """Point ``alias`` at the config (creating the alias); (row, whether anything changed).

    Promoting the current target again changes nothing and emits nothing.
    """
    if not re.fullmatch(ALIAS_PATTERN, alias):
        raise BadRequest(
            "invalid_alias", detail="An alias is 1-200 of A-Z a-z 0-9 . _ : - (no spaces, no /)."
        )
    config = await _target(session, model_config_id)
    await _check_name(session, alias, config)
    row = await session.get(ModelAlias, alias, with_for_update=True)
    if row is None:
        row = ModelAlias(alias=alias, model_config_id=None, previous=[])
        session.add(row)
        try:
            await session.flush()
        except IntegrityError as exc:  # created by a concurrent promotion
            raise Conflict("concurrent_change", detail="The alias changed; try again.") from exc
    if row.model_config_id == config.id:
        return row, False
    previous = row.model_config_id
    if previous is not None:
        # A stack without repeats: going back never lands twice on the same target.
        row.previous = [p for p in (row.previous or []) if p != previous] + [previous]
    row.previous = [p for p in (row.previous or []) if p != config.id]
    row.model_config_id = config.id
    _record(session, row, "promoted", previous, actor)
    await session.flush()
    return row, True


async def rollback(session: AsyncSession, alias: str, *, actor: str) -> ModelAlias:
    """Back to the target before the latest promotion; 409 when there is none."""
    row = await get_alias(session, alias, lock=True)
    stack = list(row.previous or [])
    if not stack:
        raise Conflict("nothing_to_roll_back", detail=f"{alias!r} has no previous target.")
    if await session.get(ModelConfig, stack[-1]) is None:
        raise Conflict(
            "previous_target_gone",
            detail=f"The previous target {stack[-1]} was deleted; promote a model instead.",
        )
    target = await _target(session, stack[-1])
    current = row.model_config_id
    row.previous = stack[:-1]
    row.model_config_id = target.id
    _record(session, row, "rolled_back", current, actor)
    await session.flush()
    return row


async def history(session: AsyncSession, alias: str) -> list[AliasChangeRead]:
    await get_alias(session, alias)
    rows = await session.scalars(
        select(ModelAliasChange)
        .where(ModelAliasChange.alias == alias)
        .order_by(ModelAliasChange.created_at.desc(), ModelAliasChange.id)
    )
    return [
        AliasChangeRead(
            id=r.id,
            action=r.action,
            model_config_id=r.model_config_id,
            previous_model_config_id=r.previous_model_config_id,
            actor_id=r.actor_id,
            event_id=r.event_id,
            created_at=r.created_at,
        )
        for r in rows
    ]
