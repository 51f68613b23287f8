"""Recording an attempt: the delivery's next state, the endpoint's health, result events.

Writes first, like claims.py, for SQLite's sake.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event
from events.envelope import utcnow
from events.webhooks import (
    DeliveryFailed,
    DeliveryResultData,
    DeliverySucceeded,
    EndpointDisabled,
    EndpointDisabledData,
)
from handlers.webhooks.claims import Work
from runtime.bus import EventBus
from runtime.db.models import Webhook, WebhookDelivery
from runtime.db.models.webhooks import WebhookDeliveryAttempt
from runtime.outbox import emit, publish_committed
from runtime.settings import WebhookSettings
from runtime.webhooks import AttemptResult
from runtime.webhooks.retries import disable_reason, retry_delay


def _result_event(work: Work, result: AttemptResult, succeeded: bool) -> Event:
    data = DeliveryResultData(
        delivery_id=work.delivery_id,
        webhook_id=work.webhook_id,
        owner_id=work.owner_id,
        event_id=work.event_id,
        event_type=work.event_type,
        attempts=work.attempts + 1,
        response_status=result.status,
        error=result.error,
    )
    cls = DeliverySucceeded if succeeded else DeliveryFailed
    return cls(subject=work.delivery_id, data=data)


async def _update_health(
    session: AsyncSession, work: Work, status: str, settings: WebhookSettings, now: datetime
) -> None:
    """Count failures, reset on success, and switch off an endpoint that keeps failing."""
    if status == "succeeded":
        await session.execute(
            update(Webhook)
            .where(Webhook.id == work.webhook_id)
            .values(failure_count=0, failing_since=None)
        )
        return
    health = (
        await session.execute(
            update(Webhook)
            .where(Webhook.id == work.webhook_id)
            .values(
                failure_count=Webhook.failure_count + (1 if status == "failed" else 0),
                failing_since=func.coalesce(Webhook.failing_since, now),
            )
            .returning(Webhook.failure_count, Webhook.failing_since)
        )
    ).first()
    if health is None:
        return
    failures, since = health
    reason = disable_reason(settings, failed_deliveries=failures, failing_since=since, now=now)
    if reason is None:
        return
    switched = await session.execute(
        update(Webhook)
        .where(Webhook.id == work.webhook_id, Webhook.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason)
    )
    if switched.rowcount == 1:  # type: ignore[attr-defined]
        data = EndpointDisabledData(
            webhook_id=work.webhook_id,
            owner_id=work.owner_id,
            reason=reason,
            consecutive_failures=failures,
        )
        emit(session, EndpointDisabled(subject=work.webhook_id, data=data))


async def record(
    session_factory: async_sessionmaker[AsyncSession],
    bus: EventBus,
    work: Work,
    result: AttemptResult,
    settings: WebhookSettings,
) -> float | None:
    """Store the attempt and the delivery's next state; returns the retry delay, if any."""
    now = utcnow()
    rounds = work.round_attempts + 1
    # A ping is tried once: it answers "does my endpoint work now?".
    retry = retry_delay(settings.retry_schedule, rounds)
    delay = None if result.succeeded or work.is_test else retry
    status = "succeeded" if result.succeeded else "pending" if delay is not None else "failed"
    async with session_factory() as session:
        async with session.begin():
            updated = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == work.delivery_id,
                    WebhookDelivery.generation == work.generation,
                )
                .values(
                    status=status,
                    attempts=work.attempts + 1,
                    round_attempts=rounds,
                    response_status=result.status,
                    response_snippet=result.snippet,
                    error=result.error,
                    latency_ms=result.latency_ms,
                    next_attempt_at=now + timedelta(seconds=delay) if delay is not None else None,
                    locked_until=None,
                )
            )
            if updated.rowcount != 1:  # type: ignore[attr-defined]
                return None  # deleted or redelivered meanwhile: this result is moot
            session.add(
                WebhookDeliveryAttempt(
                    delivery_id=work.delivery_id,
                    number=work.attempts + 1,
                    generation=work.generation,
                    succeeded=result.succeeded,
                    response_status=result.status,
                    response_snippet=result.snippet,
                    error=result.error,
                    latency_ms=result.latency_ms,
                )
            )
            if not work.is_test:
                await _update_health(session, work, status, settings, now)
            if status != "pending":
                emit(session, _result_event(work, result, status == "succeeded"))
        await publish_committed(session, bus)
    return delay
