"""Message use cases: find one (waiting briefly for the consumer), list, delete, rate."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.chat import MessageDeleted, MessageDeletedData, MessageRated, MessageRatedData
from handlers.auth import CurrentUser
from handlers.chat.schemas import Message, RatingIn
from handlers.chat.tree import Node, Tree
from runtime.db.models import ChatMessage, ChatSession, utcnow
from runtime.errors import BadRequest, NotFound
from runtime.outbox import emit

# A message id the client got in a ``start`` event may reach the database a moment after
# ``done``: the routes that take a bare message id wait this long before a 404.
FIND_WAIT_SECONDS = 2.0
_POLL_SECONDS = 0.02


def _missing(message_id: str) -> NotFound:
    return NotFound("chat_message_not_found", detail=f"No chat message {message_id}.")


async def locate(
    factory: async_sessionmaker[AsyncSession],
    user: CurrentUser,
    message_id: str,
    *,
    wait: float = FIND_WAIT_SECONDS,
) -> tuple[str, str]:
    """(session id, role) of the caller's live message; someone else's is a 404 at once."""
    query = (
        select(ChatSession.user_id, ChatMessage.session_id, ChatMessage.role)
        .join(ChatSession, ChatSession.id == ChatMessage.session_id)
        .where(ChatMessage.id == message_id, ChatMessage.deleted_at.is_(None))
    )
    deadline = time.monotonic() + wait
    while True:
        async with factory() as session:
            found = (await session.execute(query)).first()
        if found is not None:
            if found.user_id != user.id:
                raise _missing(message_id)
            return found.session_id, found.role
        if time.monotonic() >= deadline:
            raise _missing(message_id)
        await asyncio.sleep(_POLL_SECONDS)


def message_out(session_id: str, node: Node, tree: Tree, branch_ids: set[str]) -> Message:
    siblings = tree.siblings(node)
    return Message(
        id=node.id,
        session_id=session_id,
        parent_id=node.parent_id,
        role=node.role,
        content=node.content,
        reasoning=node.reasoning,
        status=node.status,
        meta=node.meta,
        rating=node.rating,
        rating_note=node.rating_note,
        created_at=node.created_at,
        current=node.id in branch_ids,
        sibling_index=next((i for i, n in enumerate(siblings) if n.id == node.id), 0),
        sibling_count=len(siblings),
        persisted=node.persisted,
    )


def listing(session_id: str, tree: Tree, *, everything: bool) -> list[Message]:
    branch = tree.branch()
    ids = {n.id for n in branch}
    nodes = tree.walk() if everything else branch
    return [message_out(session_id, n, tree, ids) for n in nodes]


def listing_one(session_id: str, tree: Tree, message_id: str) -> Message:
    branch_ids = {n.id for n in tree.branch()}
    return message_out(session_id, tree.nodes[message_id], tree, branch_ids)


async def db_tree(session: AsyncSession, session_id: str) -> Tree:
    """The session's rows only, read in the caller's transaction (for changes)."""
    rows = await session.scalars(select(ChatMessage).where(ChatMessage.session_id == session_id))
    return Tree(Node.of(row) for row in rows)


async def delete(
    session: AsyncSession, user: CurrentUser, session_id: str, message_id: str
) -> None:
    """Delete the message and everything after it on its branches (kept as tombstones)."""
    tree = await db_tree(session, session_id)
    node = tree.get(message_id)
    if node is None or node.deleted:
        raise _missing(message_id)
    doomed = [node.id, *(n.id for n in tree.descendants(node.id) if not n.deleted)]
    now = utcnow()
    await session.execute(
        update(ChatMessage).where(ChatMessage.id.in_(doomed)).values(deleted_at=now)
    )
    if not node.superseded:
        # The current message went: its newest remaining sibling takes its place.
        others = [n for n in tree.siblings(node) if n.id != node.id]
        if others:
            await session.execute(
                update(ChatMessage)
                .where(ChatMessage.id == others[-1].id)
                .values(superseded_at=None)
            )
    data = MessageDeletedData(session_id=session_id, user_id=user.id, message_ids=doomed)
    emit(session, MessageDeleted(subject=message_id, actor=user.id, data=data))


async def rate(
    session: AsyncSession, user: CurrentUser, session_id: str, message_id: str, body: RatingIn
) -> ChatMessage:
    """Rate an answer of the caller's session ``session_id`` (found with ``locate``)."""
    row = await session.get(ChatMessage, message_id)
    if row is None or row.deleted_at is not None or row.session_id != session_id:
        raise _missing(message_id)
    if row.role != "assistant":
        raise BadRequest("not_an_answer", detail="Only the model's answers can be rated.")
    row.rating, row.rating_note, row.rated_at = body.rating, body.note, utcnow()
    data = MessageRatedData(
        session_id=row.session_id,
        user_id=user.id,
        message_id=row.id,
        rating=body.rating,
        note=body.note,
    )
    emit(session, MessageRated(subject=row.id, actor=user.id, data=data))
    return row
