"""Webhook endpoints and their delivery attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db.models.base import Base, IdMixin, TimestampMixin


class Webhook(IdMixin, TimestampMixin, Base):
    __tablename__ = "webhooks"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Deliveries in a row that gave up; reset by any success.
    failure_count: Mapped[int] = mapped_column(default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # First failed attempt since the last success: the "failing for too long" clock.
    failing_since: Mapped[datetime | None]


class WebhookDelivery(IdMixin, TimestampMixin, Base):
    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|succeeded|failed
    attempts: Mapped[int] = mapped_column(default=0)
    response_status: Mapped[int | None]
    response_snippet: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None]
    next_attempt_at: Mapped[datetime | None]
    # The CloudEvents envelope exactly as first sent: retries and redeliveries resend it.
    payload: Mapped[str | None] = mapped_column(Text)
    # Bumped by a manual redelivery, which starts a fresh retry schedule.
    generation: Mapped[int] = mapped_column(default=0)
    round_attempts: Mapped[int] = mapped_column(default=0)
    # A sender holds the row while its HTTP attempt runs, so a duplicate message
    # cannot send the same delivery twice at once.
    locked_until: Mapped[datetime | None]


class WebhookDeliveryAttempt(IdMixin, TimestampMixin, Base):
    """One HTTP attempt of a delivery: what was answered, how fast, or what went wrong."""

    __tablename__ = "webhook_delivery_attempts"

    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    generation: Mapped[int] = mapped_column(default=0)
    succeeded: Mapped[bool] = mapped_column(default=False)
    response_status: Mapped[int | None]
    response_snippet: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None]
