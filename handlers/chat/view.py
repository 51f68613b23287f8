"""Read a session's messages as the user last saw them: the rows, plus turns not yet written.

The handler that streams a turn writes nothing; the ``chat`` consumer persists the turn a
few milliseconds after its event is published. The turn's event is published (and acked
by JetStream) before the client gets ``done``, so any replica can find it: the session's
latest turn event is one direct get on the stream (``last_by_subj`` with the session's
subject filter). If its messages are not in the database yet, they are overlaid with the
consumer's own rule. When even the turn before it is missing (the consumer is down or far
behind), the session's recent turn events are read back from the stream and overlaid in
order, so the history stays right without waiting for the consumer.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

import msgspec
import nats.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import decode_event, stream_for_subject
from events.chat import TurnCancelled, TurnCompleted, TurnEvent, TurnFailed, turn_subjects
from handlers.chat.tree import Node, Tree
from runtime.db.models import ChatMessage

log = structlog.get_logger(__name__)

CHAT_STREAM = stream_for_subject("llmforge.chat.turn.x.completed").name
# Bounds of reading turns back from the stream when the consumer is behind.
MAX_REPLAY = 1000
REPLAY_MARGIN = timedelta(minutes=15)
_GET_TIMEOUT = 1.0


async def read_tree(factory: async_sessionmaker[AsyncSession], session_id: str) -> Tree:
    # A fresh session per read: an SQLite read transaction would keep its old snapshot.
    async with factory() as session:
        rows = await session.scalars(
            select(ChatMessage).where(ChatMessage.session_id == session_id)
        )
        return Tree(Node.of(row) for row in rows)


async def latest_turn(js: JetStreamContext, session_id: str) -> TurnEvent | None:
    """The session's most recent turn event on JetStream, if the stream still holds one."""
    try:
        msg = await js.get_last_msg(CHAT_STREAM, turn_subjects(session_id))
    except NotFoundError:
        return None
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        # History from the database alone is still right unless a turn is in flight.
        log.warning("chat_latest_turn_unavailable", session_id=session_id, error=repr(exc))
        return None
    return _decode(msg.data)


def _decode(raw: bytes | None) -> TurnEvent | None:
    if raw is None:
        return None
    try:
        event = decode_event(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return event if isinstance(event, TurnCompleted | TurnFailed | TurnCancelled) else None


def _written(tree: Tree, event: TurnEvent) -> bool:
    return event.data.assistant_message_id in tree


def _attached(tree: Tree, event: TurnEvent) -> bool:
    """Whether the turn hangs off messages the tree already has."""
    d = event.data
    return d.user_message_id in tree or d.parent_id is None or d.parent_id in tree


async def recent_turns(
    js: JetStreamContext, session_id: str, since: datetime, *, limit: int = MAX_REPLAY
) -> list[TurnEvent]:
    """The session's turn events stored since ``since``, oldest first (a short-lived reader)."""
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=since,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=10.0,
        mem_storage=True,
    )
    events: list[TurnEvent] = []
    try:
        sub = await js.pull_subscribe(turn_subjects(session_id), stream=CHAT_STREAM, config=config)
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        log.warning("chat_turn_replay_unavailable", session_id=session_id, error=repr(exc))
        return events
    try:
        while len(events) < limit:
            try:
                batch = await sub.fetch(100, timeout=_GET_TIMEOUT)
            except (nats.errors.TimeoutError, TimeoutError):
                break
            events += [e for e in map(_decode, (m.data for m in batch)) if e is not None]
            if not batch or batch[-1].metadata.num_pending == 0:
                break
    finally:
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await sub.unsubscribe()
            if config.name:
                await js.delete_consumer(CHAT_STREAM, config.name)
    return events


def _since(tree: Tree, fallback: datetime) -> datetime:
    # Turns are persisted about in publish order; the margin covers one redelivered late.
    newest = max((n.created_at for n in tree.nodes.values()), default=None)
    return (newest or fallback) - REPLAY_MARGIN


async def load_tree(
    factory: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    session_id: str,
    *,
    session_created: datetime,
) -> Tree:
    tree = await read_tree(factory, session_id)
    latest = await latest_turn(js, session_id)
    if latest is None or _written(tree, latest):
        return tree
    if not _attached(tree, latest):
        log.info("chat_history_replay", session_id=session_id, turn_id=latest.data.turn_id)
        for event in await recent_turns(js, session_id, _since(tree, session_created)):
            if not _written(tree, event):
                tree.apply(event)
    tree.apply(latest)  # a no-op when the replay already had it
    return tree
