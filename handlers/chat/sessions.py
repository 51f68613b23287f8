"""Chat session use cases: ownership, create from a template, edit, search, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.chat import SessionChangedData, SessionCreated, SessionData, SessionDeleted
from events.chat import SessionUpdated as SessionUpdatedEvent
from handlers.auth import CurrentUser
from handlers.chat.knowledge import checked_ids
from handlers.chat.schemas import ChatParameters, SessionCreate, SessionUpdate
from handlers.models.service import servable
from handlers.prompts import service as prompts
from runtime.db.models import ChatSession, ModelConfig
from runtime.db.paging import page_of
from runtime.errors import BadRequest, NotFound
from runtime.outbox import emit


async def owned(session: AsyncSession, user: CurrentUser, session_id: str) -> ChatSession:
    """The caller's session; anyone else's is reported as missing, admins included."""
    row = await session.scalar(
        select(ChatSession).where(ChatSession.id == session_id, ChatSession.user_id == user.id)
    )
    if row is None:
        raise NotFound("chat_session_not_found", detail=f"No chat session {session_id}.")
    return row


async def servable_model(session: AsyncSession, model_config_id: str) -> ModelConfig:
    row = await session.scalar(servable().where(ModelConfig.id == model_config_id))
    if row is None:
        raise BadRequest("model_unavailable", detail=f"No enabled model config {model_config_id}.")
    return row


async def render_prompt(
    session: AsyncSession, user: CurrentUser, template_id: str, values: dict[str, str]
) -> str:
    """The template's text with the values filled in; 400 when a required one is missing."""
    rendered = await prompts.render_template(session, user, template_id, values)
    errors = [
        {"field": "variables", "name": name, "message": "required by the template"}
        for name in rendered.missing
    ] + [
        {"field": "variables", "name": name, "message": "not a variable of the template"}
        for name in rendered.unknown
    ]
    if errors:
        raise BadRequest(
            "invalid_template_variables",
            "Template variables do not match",
            "Give a value for every required variable of the template, and only those.",
            errors=errors,
        )
    return rendered.text


def _params(parameters: ChatParameters) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(parameters)
    return out


def _data(row: ChatSession) -> SessionData:
    return SessionData(
        session_id=row.id,
        user_id=row.user_id,
        title=row.title,
        model_config_id=row.model_config_id,
        template_id=row.template_id,
    )


async def create(session: AsyncSession, user: CurrentUser, data: SessionCreate) -> ChatSession:
    await servable_model(session, data.model_config_id)
    system_prompt = data.system_prompt
    if data.template_id is not None:
        if system_prompt is not None:
            raise BadRequest(
                "conflicting_system_prompt",
                detail="Give a system_prompt or a template_id, not both.",
            )
        system_prompt = await render_prompt(session, user, data.template_id, data.variables)
    kb_ids = await checked_ids(session, user, data.knowledge_base_ids)
    row = ChatSession(
        user_id=user.id,
        model_config_id=data.model_config_id,
        title=data.title or "New chat",
        title_source="user" if data.title else "default",
        system_prompt=system_prompt,
        template_id=data.template_id,
        variables=dict(data.variables) if data.template_id else {},
        parameters=_params(data.parameters),
        knowledge_base_ids=kb_ids,
        knowledge_top_k=data.knowledge_top_k,
    )
    session.add(row)
    await session.flush()
    emit(session, SessionCreated(subject=row.id, actor=user.id, data=_data(row)))
    return row


async def _apply_prompt(
    session: AsyncSession, user: CurrentUser, row: ChatSession, change: SessionUpdate
) -> list[str]:
    """System prompt, template and variables change together; returns what changed."""
    if change.system_prompt is not msgspec.UNSET:
        if change.template_id not in (msgspec.UNSET, None):
            raise BadRequest(
                "conflicting_system_prompt",
                detail="Give a system_prompt or a template_id, not both.",
            )
        changed = ["system_prompt"] if row.system_prompt != change.system_prompt else []
        if row.template_id is not None:
            changed.append("template_id")
        row.system_prompt, row.template_id, row.variables = change.system_prompt, None, {}
        return changed
    if change.template_id is msgspec.UNSET and change.variables is msgspec.UNSET:
        return []
    template_id = row.template_id if change.template_id is msgspec.UNSET else change.template_id
    if template_id is None:
        if change.variables is not msgspec.UNSET:
            raise BadRequest("no_template", detail="The session has no template to fill.")
        row.template_id = None  # detached: the rendered prompt stays as the session's own
        return ["template_id"]
    values = dict(row.variables) if change.variables is msgspec.UNSET else dict(change.variables)
    text = await render_prompt(session, user, template_id, values)
    changed = [
        name
        for name, old, new in (
            ("system_prompt", row.system_prompt, text),
            ("template_id", row.template_id, template_id),
            ("variables", row.variables, values),
        )
        if old != new
    ]
    row.system_prompt, row.template_id, row.variables = text, template_id, values
    return changed


async def update(
    session: AsyncSession, user: CurrentUser, session_id: str, change: SessionUpdate
) -> ChatSession:
    row = await owned(session, user, session_id)
    changed: list[str] = []
    if change.title is not msgspec.UNSET and change.title != row.title:
        row.title, row.title_source = change.title, "user"
        changed.append("title")
    if (
        change.model_config_id is not msgspec.UNSET
        and change.model_config_id != row.model_config_id
    ):
        await servable_model(session, change.model_config_id)
        row.model_config_id = change.model_config_id
        changed.append("model_config_id")
    if change.parameters is not msgspec.UNSET:
        parameters = _params(change.parameters)
        if parameters != row.parameters:
            row.parameters = parameters
            changed.append("parameters")
    if change.knowledge_base_ids is not msgspec.UNSET:
        kb_ids = await checked_ids(session, user, change.knowledge_base_ids)
        if kb_ids != list(row.knowledge_base_ids or []):
            row.knowledge_base_ids = kb_ids
            changed.append("knowledge_base_ids")
    top_k = change.knowledge_top_k
    if top_k is not msgspec.UNSET and top_k != row.knowledge_top_k:
        row.knowledge_top_k = top_k
        changed.append("knowledge_top_k")
    changed += await _apply_prompt(session, user, row, change)
    if changed:
        await session.flush()
        data = SessionChangedData(**msgspec.structs.asdict(_data(row)), changed=changed)
        emit(session, SessionUpdatedEvent(subject=row.id, actor=user.id, data=data))
    return row


async def delete(session: AsyncSession, user: CurrentUser, session_id: str) -> None:
    row = await owned(session, user, session_id)
    emit(session, SessionDeleted(subject=row.id, actor=user.id, data=_data(row)))
    await session.delete(row)


async def list_sessions(
    session: AsyncSession, user: CurrentUser, *, q: str | None, limit: int, offset: int
) -> tuple[Sequence[ChatSession], int]:
    query = select(ChatSession).where(ChatSession.user_id == user.id)
    if q:
        # Case-insensitive substring on both databases; % and _ in q are literal.
        query = query.where(func.lower(ChatSession.title).contains(q.lower(), autoescape=True))
    query = query.order_by(ChatSession.updated_at.desc(), ChatSession.id)
    return await page_of(session, query, limit=limit, offset=offset)
