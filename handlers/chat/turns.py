"""Plan a turn before anything streams: who asks, which question, which history, which ids.

Send, regenerate and edit differ only in where the question hangs in the session's tree
and whether it is new; everything after the plan (streaming, events, persistence) is one
code path. Every check that can fail with a 4xx happens here, before the SSE response.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from events.chat import TurnKind
from handlers.auth import CurrentUser
from handlers.chat import history, sessions
from handlers.chat.messages import locate
from handlers.chat.schemas import ChatParameters
from handlers.chat.tree import Tree
from handlers.chat.view import load_tree
from runtime.db.models import ModelConfig, Provider, utcnow
from runtime.errors import BadRequest, Conflict
from runtime.llm.types import Message, Params
from runtime.services import Services


@dataclass(frozen=True, slots=True)
class Question:
    """The question a turn answers: new (send, edit) or already in the session (regenerate)."""

    message_id: str
    parent_id: str | None
    content: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TurnPlan:
    turn_id: str
    kind: TurnKind
    session_id: str
    user_id: str
    api_key_id: str | None
    model_config_id: str
    messages: list[Message]
    params: Params
    question: Question
    assistant_id: str
    assistant_created_at: datetime
    # perf_counter() when the request arrived: time to first token counts from here.
    started: float
    dropped_turns: int = 0
    # The session's knowledge bases: the producer retrieves from them before streaming.
    knowledge_base_ids: tuple[str, ...] = ()
    knowledge_top_k: int | None = None


@dataclass(frozen=True, slots=True)
class _Context:
    session_id: str
    model_config_id: str
    system_prompt: str | None
    prompt_budget: int | None
    tree: Tree
    knowledge_base_ids: tuple[str, ...] = ()
    knowledge_top_k: int | None = None


def _new_id() -> str:
    return uuid.uuid4().hex


def merged_params(session_params: dict[str, Any], request: ChatParameters | None) -> Params:
    """The session's parameters, overridden field by field by the message's own."""
    values = dict(session_params)
    if request is not None:
        values.update(msgspec.to_builtins(request))
    return msgspec.convert(values, Params)


async def context_window(session: AsyncSession, model: ModelConfig) -> int | None:
    """The model config's window, else what the provider's model list said about it."""
    if model.context_window:
        return model.context_window
    provider = await session.get(Provider, model.provider_id) if model.provider_id else None
    for entry in (provider.available_models if provider else None) or []:
        if isinstance(entry, dict) and entry.get("id") == model.model_id:
            window = entry.get("context_window")
            return int(window) if window else None
    return None


async def _context(
    services: Services, user: CurrentUser, session_id: str, request: ChatParameters | None
) -> tuple[_Context, Params]:
    async with services.session_factory() as session:
        chat = await sessions.owned(session, user, session_id)
        if chat.model_config_id is None:
            raise Conflict("session_model_missing", detail="Pick a model for this session first.")
        model = await sessions.servable_model(session, chat.model_config_id)
        window = await context_window(session, model)
    params = merged_params(chat.parameters, request)
    max_tokens = params.max_tokens or (model.parameters or {}).get("max_tokens")
    tree = await load_tree(
        services.session_factory, services.bus.js, session_id, session_created=chat.created_at
    )
    ctx = _Context(
        session_id=session_id,
        model_config_id=model.id,
        system_prompt=chat.system_prompt,
        prompt_budget=history.budget(window, max_tokens),
        tree=tree,
        knowledge_base_ids=tuple(chat.knowledge_base_ids or ()),
        knowledge_top_k=chat.knowledge_top_k,
    )
    return ctx, params


def _plan(
    ctx: _Context,
    user: CurrentUser,
    params: Params,
    *,
    kind: TurnKind,
    question: Question,
    started: float,
) -> TurnPlan:
    earlier = ctx.tree.path_to(question.parent_id) if question.parent_id else []
    messages, dropped = history.build_messages(
        ctx.system_prompt, earlier, question.content, prompt_budget=ctx.prompt_budget
    )
    return TurnPlan(
        turn_id=_new_id(),
        kind=kind,
        session_id=ctx.session_id,
        user_id=user.id,
        api_key_id=user.api_key_id,
        model_config_id=ctx.model_config_id,
        messages=messages,
        params=params,
        question=question,
        assistant_id=_new_id(),
        assistant_created_at=utcnow(),
        started=started,
        dropped_turns=dropped,
        knowledge_base_ids=ctx.knowledge_base_ids,
        knowledge_top_k=ctx.knowledge_top_k,
    )


async def plan_send(
    services: Services,
    user: CurrentUser,
    session_id: str,
    content: str,
    parameters: ChatParameters | None,
) -> TurnPlan:
    started = time.perf_counter()
    ctx, params = await _context(services, user, session_id, parameters)
    leaf = ctx.tree.leaf()
    question = Question(
        message_id=_new_id(),
        parent_id=leaf.id if leaf else None,
        content=content,
        created_at=utcnow(),
    )
    return _plan(ctx, user, params, kind="send", question=question, started=started)


async def _on_branch(
    services: Services, user: CurrentUser, message_id: str, parameters: ChatParameters | None
) -> tuple[_Context, Params]:
    session_id, _ = await locate(services.session_factory, user, message_id)
    ctx, params = await _context(services, user, session_id, parameters)
    if not ctx.tree.on_branch(message_id):
        raise Conflict(
            "not_on_current_branch",
            detail="Only messages of the session's current branch can be regenerated or edited.",
        )
    return ctx, params


async def plan_regenerate(
    services: Services, user: CurrentUser, message_id: str, parameters: ChatParameters | None
) -> TurnPlan:
    """A new answer to the question of ``message_id`` (an answer, or the question itself)."""
    started = time.perf_counter()
    ctx, params = await _on_branch(services, user, message_id, parameters)
    node = ctx.tree.nodes[message_id]
    asked = ctx.tree.nodes[node.parent_id] if node.role == "assistant" and node.parent_id else node
    if asked.role != "user":
        raise BadRequest("not_regenerable", detail="This message answers no question.")
    question = Question(
        message_id=asked.id,
        parent_id=asked.parent_id,
        content=asked.content,
        created_at=asked.created_at,
    )
    return _plan(ctx, user, params, kind="regenerate", question=question, started=started)


async def plan_edit(
    services: Services,
    user: CurrentUser,
    message_id: str,
    content: str,
    parameters: ChatParameters | None,
) -> TurnPlan:
    """A new version of a question: a sibling of the old one, so later turns leave the branch."""
    started = time.perf_counter()
    ctx, params = await _on_branch(services, user, message_id, parameters)
    old = ctx.tree.nodes[message_id]
    if old.role != "user":
        raise BadRequest("not_editable", detail="Only your own messages can be edited.")
    question = Question(
        message_id=_new_id(), parent_id=old.parent_id, content=content, created_at=utcnow()
    )
    return _plan(ctx, user, params, kind="edit", question=question, started=started)
