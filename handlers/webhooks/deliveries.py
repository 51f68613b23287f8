"""Reading a webhook's delivery log and asking for a delivery to be sent again."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.webhooks import DeliveryData, DeliveryRequested
from handlers.auth import CurrentUser
from handlers.webhooks.service import get_owned
from runtime.db.models import WebhookDelivery, utcnow
from runtime.db.models.webhooks import WebhookDeliveryAttempt
from runtime.db.paging import page_of
from runtime.errors import Conflict, NotFound
from runtime.outbox import emit
from runtime.webhooks.retries import request_id_for

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
STATUSES = (PENDING, SUCCEEDED, FAILED)


async def list_deliveries(
    session: AsyncSession,
    user: CurrentUser,
    webhook_id: str,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[WebhookDelivery], dict[str, list[WebhookDeliveryAttempt]], int]:
    """Newest first, each with its attempts in order."""
    await get_owned(session, user, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    attempts: dict[str, list[WebhookDeliveryAttempt]] = defaultdict(list)
    if rows:
        for attempt in await session.scalars(
            select(WebhookDeliveryAttempt)
            .where(WebhookDeliveryAttempt.delivery_id.in_([r.id for r in rows]))
            .order_by(WebhookDeliveryAttempt.number)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return rows, attempts, total


async def redeliver(
    session: AsyncSession, user: CurrentUser, webhook_id: str, delivery_id: str
) -> WebhookDelivery:
    """Start a fresh retry schedule for a settled delivery; same event, same webhook-id."""
    webhook = await get_owned(session, user, webhook_id)
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook.id:
        raise NotFound("delivery_not_found", detail=f"No delivery {delivery_id}.")
    if delivery.status == PENDING:
        raise Conflict("delivery_in_progress", detail="This delivery is still being attempted.")
    if not webhook.enabled:
        raise Conflict("webhook_disabled", detail="Enable the webhook before redelivering.")
    delivery.generation += 1
    delivery.round_attempts = 0
    delivery.status = PENDING
    delivery.next_attempt_at = utcnow()
    delivery.locked_until = None
    delivery.updated_at = delivery.next_attempt_at
    emit(
        session,
        DeliveryRequested(
            id=request_id_for(delivery.id, delivery.generation),
            subject=delivery.id,
            actor=user.id,
            data=DeliveryData(
                delivery_id=delivery.id,
                webhook_id=webhook.id,
                owner_id=webhook.owner_id,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                generation=delivery.generation,
            ),
        ),
    )
    return delivery
