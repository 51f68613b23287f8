"""The fan-out consumer: every event becomes one delivery per matching endpoint.

Each delivery is a row (keyed by a hash of endpoint and event, so a redelivered event
finds the rows it already made) and a ``delivery.requested`` work message for the
sender. The batch is acked only once every work message is stored in JetStream.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from events import STREAMS, Event, encode_event
from events.webhooks import DeliveryData, DeliveryRequested, EndpointTest
from handlers.events_feed.visibility import Subscriber, can_see
from runtime.bus import BOOKKEEPING_LINGER, Consumer, EventBus
from runtime.db.models import User, Webhook, WebhookDelivery
from runtime.webhooks import matches
from runtime.webhooks.retries import delivery_id_for, request_id_for

WEBHOOKS_STREAM = "LLMFORGE_WEBHOOKS"
# Every domain, but of the webhooks' own events only the endpoint ones: a delivery's
# events delivered by webhook would each make another delivery, forever.
DISPATCH_SUBJECTS = (
    *(
        s
        for spec in STREAMS
        if spec.name not in (WEBHOOKS_STREAM, "LLMFORGE_DLQ")
        for s in spec.subjects
    ),
    "llmforge.webhooks.endpoint.>",
)


def deliverable(event: Event) -> bool:
    return not event.type.startswith("llmforge.webhooks.delivery.")


@functools.cache
def _insert_new(dialect: str) -> Insert:
    if dialect == "postgresql":
        return postgresql.insert(WebhookDelivery).on_conflict_do_nothing(index_elements=["id"])
    return sqlite.insert(WebhookDelivery).on_conflict_do_nothing(index_elements=["id"])


def targets(event: Event, endpoints: Sequence[tuple[Webhook, str]]) -> list[Webhook]:
    """The endpoints that get this event: enabled, matching, and allowed to see it."""
    if isinstance(event, EndpointTest):
        return [w for w, _ in endpoints if w.id == event.data.webhook_id]
    return [
        webhook
        for webhook, role in endpoints
        if webhook.enabled
        and matches(webhook.event_types, event.type)
        and can_see(Subscriber(webhook.owner_id, role == "admin"), event)
    ]


async def _endpoints(session: AsyncSession, pinged: list[str]) -> list[tuple[Webhook, str]]:
    # A ping reaches its endpoint even while it is disabled, to check a fix first.
    wanted: ColumnElement[bool] = Webhook.enabled.is_(True)
    if pinged:
        wanted = wanted | Webhook.id.in_(pinged)
    rows = await session.execute(
        select(Webhook, User.role)
        .join(User, User.id == Webhook.owner_id)
        .where(wanted, User.is_active.is_(True))
    )
    return [(webhook, role) for webhook, role in rows]


def _row_and_request(event: Event, webhook: Webhook) -> tuple[dict[str, Any], DeliveryRequested]:
    delivery_id = delivery_id_for(webhook.id, event.id)
    row = {
        "id": delivery_id,
        "webhook_id": webhook.id,
        "event_id": event.id,
        "event_type": event.type,
        "status": "pending",
        "attempts": 0,
        "round_attempts": 0,
        "generation": 0,
        "payload": encode_event(event).decode(),
    }
    request = DeliveryRequested(
        id=request_id_for(delivery_id, 0),
        subject=delivery_id,
        data=DeliveryData(
            delivery_id=delivery_id,
            webhook_id=webhook.id,
            owner_id=webhook.owner_id,
            event_id=event.id,
            event_type=event.type,
        ),
    )
    return row, request


def dispatch_consumer(session_factory: async_sessionmaker[AsyncSession], bus: EventBus) -> Consumer:
    async def fan_out(events: list[Event]) -> None:
        events = [e for e in events if deliverable(e)]
        if not events:
            return
        pinged = [e.data.webhook_id for e in events if isinstance(e, EndpointTest)]
        # Read, then write in a second transaction: SQLite cannot upgrade a read
        # transaction to a write one once another writer has committed.
        async with session_factory() as session:
            endpoints = await _endpoints(session, pinged)
        pairs = [_row_and_request(e, w) for e in events for w in targets(e, endpoints)]
        if not pairs:
            return
        async with session_factory() as session, session.begin():
            dialect = session.get_bind().dialect.name
            await session.execute(_insert_new(dialect), [row for row, _ in pairs])
        # Also re-sent for rows that existed: the first try may have died before this
        # line. The sender ignores a request whose delivery already settled.
        await bus.publish_many([request for _, request in pairs])

    return Consumer(
        name="webhooks",
        subjects=DISPATCH_SUBJECTS,
        handler=fan_out,
        batch=True,
        fetch_batch=64,
        linger=BOOKKEEPING_LINGER,
        description="fans every event out to the webhook endpoints that subscribed to it",
    )
