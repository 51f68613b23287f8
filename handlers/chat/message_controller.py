"""Chat message routes: regenerate and edit (SSE), delete, rate, raw Markdown."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, post
from litestar.response import ServerSentEvent
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.chat import messages
from handlers.chat.controller import turn_response
from handlers.chat.schemas import Message, RatingIn, Regenerate, SendMessage
from handlers.chat.turns import plan_edit, plan_regenerate
from handlers.providers.deps import GATEWAY_DEPENDENCIES
from handlers.quotas import within_quota
from runtime.db.models import ChatMessage
from runtime.llm.gateway import Gateway
from runtime.services import Services


class ChatMessageController(Controller):
    path = "/api/chat/messages"
    tags = ["chat"]
    guards = [requires(Permission.CHAT_USE)]
    dependencies = GATEWAY_DEPENDENCIES

    @post(
        "/{message_id:str}/regenerate",
        operation_id="chatRegenerate",
        status_code=200,
        guards=[within_quota],
    )
    async def regenerate(
        self,
        message_id: str,
        services: Services,
        gateway: Gateway,
        current_user: CurrentUser,
        data: Regenerate | None = None,
    ) -> ServerSentEvent:
        """A new answer beside the earlier ones (siblings; the newest is current). SSE as send."""
        parameters = data.parameters if data else None
        plan = await plan_regenerate(services, current_user, message_id, parameters)
        return turn_response(plan, services, gateway)

    @post(
        "/{message_id:str}/edit",
        operation_id="chatEditMessage",
        status_code=200,
        guards=[within_quota],
    )
    async def edit(
        self,
        message_id: str,
        data: SendMessage,
        services: Services,
        gateway: Gateway,
        current_user: CurrentUser,
    ) -> ServerSentEvent:
        """Resend a question with new content; the later turns leave the current branch."""
        plan = await plan_edit(services, current_user, message_id, data.content, data.parameters)
        return turn_response(plan, services, gateway)

    @delete("/{message_id:str}", operation_id="chatDeleteMessage", status_code=204)
    async def remove(
        self,
        message_id: str,
        db_session: AsyncSession,
        services: Services,
        current_user: CurrentUser,
    ) -> None:
        """Delete the message and the rest of its branches."""
        session_id, _ = await messages.locate(services.session_factory, current_user, message_id)
        await messages.delete(db_session, current_user, session_id, message_id)

    @post("/{message_id:str}/rating", operation_id="chatRateMessage", status_code=200)
    async def rate(
        self,
        message_id: str,
        data: RatingIn,
        db_session: AsyncSession,
        services: Services,
        current_user: CurrentUser,
    ) -> Message:
        session_id, _ = await messages.locate(services.session_factory, current_user, message_id)
        await messages.rate(db_session, current_user, session_id, message_id, data)
        tree = await messages.db_tree(db_session, session_id)
        return messages.listing_one(session_id, tree, message_id)

    @get("/{message_id:str}/raw", operation_id="chatRawMessage", media_type="text/markdown")
    async def raw(
        self,
        message_id: str,
        db_session: AsyncSession,
        services: Services,
        current_user: CurrentUser,
    ) -> Response[str]:
        """The message's text exactly as written (Markdown), without reasoning."""
        await messages.locate(services.session_factory, current_user, message_id)
        row = await db_session.get(ChatMessage, message_id)
        assert row is not None
        # Litestar adds "; charset=utf-8" to every text/* type itself.
        return Response(row.content, media_type="text/markdown")
