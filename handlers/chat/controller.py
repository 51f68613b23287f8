"""Chat session routes: CRUD, search, export, the message list, send (SSE) and stop."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Response, delete, get, patch, post
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.chat import export, messages, sessions
from handlers.chat.framing import SSE_HEADERS
from handlers.chat.schemas import (
    Export,
    MessageList,
    SendMessage,
    Session,
    SessionCreate,
    SessionPage,
    SessionUpdate,
    StopResult,
)
from handlers.chat.stop import request_stop
from handlers.chat.stream import TurnStream
from handlers.chat.turns import TurnPlan, plan_send
from handlers.chat.view import load_tree
from handlers.deps import MAX_OFFSET
from handlers.providers.deps import GATEWAY_DEPENDENCIES
from handlers.quotas import within_quota
from runtime.db.models import ChatSession, ModelConfig, utcnow
from runtime.llm.gateway import Gateway
from runtime.services import Services

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]


def session_out(row: ChatSession) -> Session:
    return Session(
        id=row.id,
        title=row.title,
        title_source=row.title_source,
        model_config_id=row.model_config_id,
        system_prompt=row.system_prompt,
        template_id=row.template_id,
        variables=dict(row.variables or {}),
        parameters=dict(row.parameters or {}),
        knowledge_base_ids=list(row.knowledge_base_ids or []),
        knowledge_top_k=row.knowledge_top_k,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def turn_response(plan: TurnPlan, services: Services, gateway: Gateway) -> ServerSentEvent:
    """The SSE response of send, regenerate and edit."""
    keepalive = services.settings.event_feed.heartbeat_seconds
    stream = TurnStream(plan, services, gateway, keepalive=keepalive)
    return ServerSentEvent(stream.events(), headers=SSE_HEADERS)


class ChatSessionController(Controller):
    path = "/api/chat/sessions"
    tags = ["chat"]
    guards = [requires(Permission.CHAT_USE)]
    dependencies = GATEWAY_DEPENDENCIES

    @get("/", operation_id="chatListSessions")
    async def list_sessions(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        q: Annotated[str | None, Parameter(description="words in the title")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> SessionPage:
        rows, total = await sessions.list_sessions(
            db_session, current_user, q=q, limit=limit, offset=offset
        )
        items = [session_out(r) for r in rows]
        return SessionPage(items=items, total=total, limit=limit, offset=offset)

    @post("/", operation_id="chatCreateSession", status_code=201)
    async def create(
        self, data: SessionCreate, db_session: AsyncSession, current_user: CurrentUser
    ) -> Session:
        return session_out(await sessions.create(db_session, current_user, data))

    @get("/{session_id:str}", operation_id="chatGetSession")
    async def get_one(
        self, session_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> Session:
        return session_out(await sessions.owned(db_session, current_user, session_id))

    @patch("/{session_id:str}", operation_id="chatUpdateSession")
    async def update(
        self,
        session_id: str,
        data: SessionUpdate,
        db_session: AsyncSession,
        current_user: CurrentUser,
    ) -> Session:
        return session_out(await sessions.update(db_session, current_user, session_id, data))

    @delete("/{session_id:str}", operation_id="chatDeleteSession", status_code=204)
    async def remove(
        self, session_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> None:
        await sessions.delete(db_session, current_user, session_id)

    @get("/{session_id:str}/messages", operation_id="chatListMessages")
    async def list_messages(
        self,
        session_id: str,
        db_session: AsyncSession,
        services: Services,
        current_user: CurrentUser,
        all_: Annotated[
            bool, Parameter(query="all", description="include superseded siblings")
        ] = False,
    ) -> MessageList:
        """The current branch in order (with ``all=true`` every live message, depth first)."""
        row = await sessions.owned(db_session, current_user, session_id)
        tree = await load_tree(
            services.session_factory, services.bus.js, session_id, session_created=row.created_at
        )
        return MessageList(items=messages.listing(session_id, tree, everything=all_))

    @post(
        "/{session_id:str}/messages",
        operation_id="chatSendMessage",
        status_code=200,
        guards=[within_quota],
    )
    async def send(
        self,
        session_id: str,
        data: SendMessage,
        services: Services,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> ServerSentEvent:
        """SSE: ``start``, ``reasoning``…, ``content``…, ``usage``, then ``done`` or ``error``."""
        plan = await plan_send(services, current_user, session_id, data.content, data.parameters)
        return turn_response(plan, services, gateway)

    @post("/{session_id:str}/stop", operation_id="chatStopGeneration", status_code=200)
    async def stop(
        self,
        session_id: str,
        db_session: AsyncSession,
        services: Services,
        current_user: CurrentUser,
    ) -> StopResult:
        """Stop the session's running answer, on whichever replica streams it."""
        await sessions.owned(db_session, current_user, session_id)
        turn_id = await request_stop(services.bus.nc, session_id)
        return StopResult(stopped=turn_id is not None, turn_id=turn_id)

    @get(
        "/{session_id:str}/export",
        operation_id="chatExportSession",
        opt={"media_types": ("text/markdown", "application/json")},
    )
    async def export_session(
        self,
        session_id: str,
        db_session: AsyncSession,
        services: Services,
        current_user: CurrentUser,
        format_: Annotated[Literal["markdown", "json"], Parameter(query="format")] = "markdown",
    ) -> Response[Any]:
        row = await sessions.owned(db_session, current_user, session_id)
        tree = await load_tree(
            services.session_factory, services.bus.js, session_id, session_created=row.created_at
        )
        body, items = session_out(row), messages.listing(session_id, tree, everything=False)
        if format_ == "json":
            name = export.filename(body, "json")
            content: Export | str = export.as_json(body, items, utcnow())
            media_type = "application/json"
        else:
            model = await db_session.get(ModelConfig, row.model_config_id or "")
            name = export.filename(body, "md")
            content = export.markdown(body, items, model.alias if model else None)
            media_type = "text/markdown"  # Litestar appends the charset to text/* types
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(content, media_type=media_type, headers=headers)
