"""Transactional outbox: events commit with their change, then reach JetStream.

``emit`` adds the event to the caller's transaction. Right after the commit the
request publishes it and deletes the row; if NATS is down at that moment the row
stays and the relay publishes it later. The event id is the ``Nats-Msg-Id``, so a
publish repeated by the relay after a crash is stored once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Protocol

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event, decode_event, encode_event
from runtime.db.models import OutboxEvent, utcnow

log = structlog.get_logger(__name__)

_PENDING = "llmforge.outbox.pending"


class Publisher(Protocol):
    """The part of the bus the outbox needs (keeps this module testable)."""

    async def publish(self, event: Event) -> object: ...


def emit(session: AsyncSession, event: Event) -> None:
    """Stage ``event`` in the session's transaction; it is sent after the commit."""
    session.add(
        OutboxEvent(id=event.id, nats_subject=event.nats_subject, payload=encode_event(event))
    )
    session.info.setdefault(_PENDING, []).append(event)


def staged_events(session: AsyncSession) -> list[Event]:
    pending: list[Event] = session.info.get(_PENDING, [])
    return pending


def discard_staged(session: AsyncSession) -> None:
    session.info.pop(_PENDING, None)


async def publish_committed(
    session: AsyncSession, bus: Publisher, events: list[Event] | None = None
) -> int:
    """Publish what the just-committed transaction staged; leave failures to the relay."""
    pending = events if events is not None else session.info.pop(_PENDING, [])
    if not pending:
        return 0
    sent: list[str] = []
    for event in pending:
        try:
            await bus.publish(event)
        except Exception as exc:  # the relay retries; the request must not fail now
            log.warning("outbox_publish_deferred", event_id=event.id, error=str(exc))
            break
        sent.append(event.id)
    if sent:
        await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(sent)))
        await session.commit()
    return len(sent)


class OutboxRelay:
    """Publishes rows a request could not send; safe to run in every replica."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        bus: Publisher,
        *,
        interval: float = 1.0,
        grace: float = 5.0,
        batch: int = 500,
    ) -> None:
        self._session_factory = session_factory
        self._bus = bus
        self._interval = interval
        # Rows younger than this belong to a request that is still publishing them.
        self._grace = timedelta(seconds=grace)
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    async def relay_once(self) -> int:
        cutoff = utcnow() - self._grace
        async with self._session_factory() as session:
            rows = (
                await session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.created_at <= cutoff)
                    .order_by(OutboxEvent.created_at)
                    .limit(self._batch)
                )
            ).all()
            sent: list[str] = []
            # A stream that cannot take its events (no leader yet, limits) holds back only
            # its own domain's rows, in order; the other domains' events still go out.
            blocked: set[str] = set()
            for row in rows:
                domain = row.nats_subject.split(".", 2)[1]
                if domain in blocked:
                    continue
                try:
                    await self._bus.publish(decode_event(row.payload))
                except Exception as exc:
                    row.attempts += 1
                    log.warning("outbox_relay_failed", event_id=row.id, error=str(exc))
                    blocked.add(domain)
                    continue
                sent.append(row.id)
            if sent:
                await session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(sent)))
            await session.commit()
            return len(sent)

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.relay_once()
                if sent:
                    log.info("outbox_relayed", count=sent)
            except Exception:
                log.exception("outbox_relay_error")
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
