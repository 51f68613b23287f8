"""A delivery's row decides: leases, due times and rounds, on SQLite and PostgreSQL."""

from __future__ import annotations

import msgspec
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.webhooks import DeliveryData
from handlers.auth import create_user
from handlers.webhooks.claims import Work, claim
from handlers.webhooks.outcomes import record
from runtime.bus import EventBus
from runtime.db.models import Webhook, WebhookDelivery
from runtime.settings import WebhookSettings
from runtime.webhooks import AttemptResult
from tests.integration.test_webhooks_api import CHEAP

SETTINGS = WebhookSettings(retry_schedule=(60.0,))


async def _delivery(factory: async_sessionmaker[AsyncSession]) -> DeliveryData:
    async with factory() as session, session.begin():
        user = await create_user(
            session, "ann@example.com", "pw-123456789", "user", passwords=CHEAP
        )
        webhook = Webhook(
            owner_id=user.id, url="http://127.0.0.1:9/", event_types=["*"], secret_encrypted="x"
        )
        session.add(webhook)
        await session.flush()
        session.add(
            WebhookDelivery(
                id="d1", webhook_id=webhook.id, event_id="e1", event_type="t", payload="{}"
            )
        )
    return DeliveryData(
        delivery_id="d1", webhook_id=webhook.id, owner_id=user.id, event_id="e1", event_type="t"
    )


async def test_a_held_or_not_yet_due_delivery_is_not_claimed_twice(
    session_factory: async_sessionmaker[AsyncSession], bus: EventBus
) -> None:
    request = await _delivery(session_factory)
    work = await claim(session_factory, request, lease=30)
    assert isinstance(work, Work)
    held = await claim(session_factory, request, lease=30)
    assert isinstance(held, float)
    assert 25 < held <= 30

    failed = AttemptResult(False, 3.0, 500, "boom", "HTTP 500: non-2xx answer")
    delay = await record(session_factory, bus, work, failed, SETTINGS)
    assert delay is not None
    assert 48 <= delay <= 72
    not_due = await claim(session_factory, request, lease=30)
    assert isinstance(not_due, float)
    assert 45 < not_due <= 72
    # A message of an older round, or for a deleted endpoint, is simply dropped.
    stale = msgspec.structs.replace(request, generation=5)
    assert await claim(session_factory, stale, lease=30) is None
    async with session_factory() as session, session.begin():
        await session.execute(delete(Webhook))
    assert await claim(session_factory, request, lease=30) is None
