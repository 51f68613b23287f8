"""Retries live in JetStream: a receiver that is down across a platform restart gets all."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from runtime.bus import EventBus
from runtime.db.models.webhooks import WebhookDeliveryAttempt
from runtime.settings import WebhookSettings
from tests.fakes.webhook_receiver import WebhookReceiver, free_port
from tests.fixtures.nats import eventually, user_registered
from tests.integration.test_webhooks_api import create_webhook, login
from tests.integration.test_webhooks_delivery import settled

SLOW_RETRIES = {
    "webhooks_allow_private": True,
    # Long enough that the platform is restarted before the second attempt is due.
    "webhooks": WebhookSettings(retry_schedule=(1.5, 1.5, 1.5), timeout_seconds=2.0),
}


async def test_receiver_down_across_a_restart_still_gets_every_event_once(
    platform_factory: Any, platform_nats_url: str
) -> None:
    first = await platform_factory(overrides=SLOW_RETRIES)
    receiver = WebhookReceiver(port=free_port())  # nothing listens there yet
    async with httpx.AsyncClient(base_url=first.url, timeout=10.0) as http:
        _, headers = await login(first, http, "root@example.com", "admin")
        await create_webhook(http, headers, receiver.url, event_types=["auth.user.registered"])
    events = [user_registered(f"u{i}") for i in range(3)]
    for event in events:
        await first.services.bus.publish(event)

    async def failed_once() -> bool:
        async with first.services.session_factory() as session:
            count = await session.scalar(select(func.count()).select_from(WebhookDeliveryAttempt))
            return count == len(events)

    await eventually(failed_once, within=10)
    await first.stop()

    # Published while no dispatcher runs: its durable picks it up after the restart.
    bus = await EventBus.connect(platform_nats_url, name="pytest")
    late = user_registered("u-late")
    await bus.publish(late)
    await bus.close()

    async with receiver:
        second = await platform_factory(overrides=SLOW_RETRIES)
        await receiver.wait_for(4, within=15)
        bus = second.services.bus
        await eventually(lambda: settled(bus, "LLMFORGE_AUTH", "llmforge-webhooks"))
        await eventually(lambda: settled(bus, "LLMFORGE_WEBHOOKS", "llmforge-webhooks-sender"))
    ids = sorted(r.headers["webhook-id"] for r in receiver.received)
    assert ids == sorted(e.id for e in [*events, late])
