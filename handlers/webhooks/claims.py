"""Claiming a delivery for one attempt: a short lease, so duplicates cannot send at once.

Every statement writes first, so SQLite never has to upgrade a read transaction (which
fails when another writer committed in between).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.envelope import utcnow
from events.webhooks import DeliveryData, EndpointTest
from runtime.db.models import Webhook, WebhookDelivery

# A retry woken a moment before its due time (timer granularity) still counts as due.
_DUE_TOLERANCE = timedelta(seconds=0.5)
_TEST_TYPE = str(EndpointTest.__struct_config__.tag)


@dataclass(frozen=True, slots=True)
class Work:
    """A claimed delivery: everything one attempt needs, read while holding the lease."""

    delivery_id: str
    generation: int
    webhook_id: str
    owner_id: str
    url: str
    sealed_secret: str
    enabled: bool
    event_id: str
    event_type: str
    payload: str
    attempts: int
    round_attempts: int

    @property
    def is_test(self) -> bool:
        return self.event_type == _TEST_TYPE


async def claim(
    session_factory: async_sessionmaker[AsyncSession], request: DeliveryData, lease: float
) -> Work | float | None:
    """The work, or seconds to wait (held elsewhere, or not yet due), or None: settled."""
    now = utcnow()
    async with session_factory() as session, session.begin():
        claimed = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == request.delivery_id,
                WebhookDelivery.generation == request.generation,
                WebhookDelivery.status == "pending",
                or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
                or_(
                    WebhookDelivery.next_attempt_at.is_(None),
                    WebhookDelivery.next_attempt_at <= now + _DUE_TOLERANCE,
                ),
            )
            .values(locked_until=now + timedelta(seconds=lease))
        )
        row = (
            await session.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.id == request.delivery_id)
            )
        ).first()
    if row is None:
        return None  # the endpoint was deleted with its deliveries
    delivery, webhook = row
    if delivery.generation != request.generation or delivery.status != "pending":
        return None
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        waits = [t for t in (delivery.locked_until, delivery.next_attempt_at) if t is not None]
        return max([1.0, *((t - now).total_seconds() for t in waits)])
    return Work(
        delivery_id=delivery.id,
        generation=delivery.generation,
        webhook_id=webhook.id,
        owner_id=webhook.owner_id,
        url=webhook.url,
        sealed_secret=webhook.secret_encrypted,
        enabled=webhook.enabled,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload or "",
        attempts=delivery.attempts,
        round_attempts=delivery.round_attempts,
    )


async def abandon(
    session_factory: async_sessionmaker[AsyncSession], work: Work, reason: str
) -> None:
    """Settle a delivery without calling out, e.g. when its endpoint was disabled."""
    async with session_factory() as session, session.begin():
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == work.delivery_id,
                WebhookDelivery.generation == work.generation,
            )
            .values(status="failed", error=reason, next_attempt_at=None, locked_until=None)
        )
