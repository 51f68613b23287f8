"""Rows to response bodies; the signing secret appears only where passed in."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from handlers.webhooks.schemas import AttemptRead, DeliveryRead, WebhookCreated, WebhookRead
from runtime.db.models import Webhook, WebhookDelivery
from runtime.db.models.webhooks import WebhookDeliveryAttempt


def webhook_read(webhook: Webhook) -> WebhookRead:
    return WebhookRead(
        id=webhook.id,
        owner_id=webhook.owner_id,
        url=webhook.url,
        event_types=list(webhook.event_types),
        description=webhook.description,
        enabled=webhook.enabled,
        disabled_reason=webhook.disabled_reason,
        consecutive_failures=webhook.failure_count,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
    )


def webhook_created(webhook: Webhook, secret: str) -> WebhookCreated:
    return WebhookCreated(**msgspec.structs.asdict(webhook_read(webhook)), secret=secret)


def attempt_read(attempt: WebhookDeliveryAttempt) -> AttemptRead:
    return AttemptRead(
        number=attempt.number,
        generation=attempt.generation,
        succeeded=attempt.succeeded,
        response_status=attempt.response_status,
        response_snippet=attempt.response_snippet,
        error=attempt.error,
        latency_ms=attempt.latency_ms,
        created_at=attempt.created_at,
    )


def delivery_read(
    delivery: WebhookDelivery, attempts: Sequence[WebhookDeliveryAttempt]
) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempt_count=delivery.attempts,
        generation=delivery.generation,
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        attempts=[attempt_read(a) for a in attempts],
    )
