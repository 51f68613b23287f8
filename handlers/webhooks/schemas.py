"""Request and response bodies of the webhook routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

Url = Annotated[str, Meta(min_length=1, max_length=2000, examples=["https://example.com/hooks"])]
Filters = Annotated[
    list[Annotated[str, Meta(min_length=1, max_length=200)]],
    Meta(
        min_length=1,
        max_length=50,
        description="event type filters without 'llmforge.' and '.vN': "
        "'auth.user.registered', 'training.job.*', 'auth.>', or '*' for every event",
        examples=[["auth.>", "training.job.*"]],
    ),
]
Description = Annotated[str, Meta(max_length=500)]


class WebhookCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    url: Url
    event_types: Filters
    description: Description | None = None
    enabled: bool = True


class WebhookUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; absent ones stay. ``enabled: true`` also clears a failure disable."""

    url: Url | None = None
    event_types: Filters | None = None
    description: Description | None = None
    enabled: bool | None = None


class WebhookRead(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead, kw_only=True):
    """The create answer: the only time ``secret`` is shown (rotate to get a new one)."""

    secret: str


class WebhookSecret(msgspec.Struct, kw_only=True):
    id: str
    secret: str


class WebhookPage(msgspec.Struct, kw_only=True):
    items: list[WebhookRead]
    total: int
    limit: int
    offset: int


class AttemptRead(msgspec.Struct, kw_only=True):
    number: int
    generation: int
    succeeded: bool
    response_status: int | None
    response_snippet: str | None
    error: str | None
    latency_ms: float | None
    created_at: datetime


class DeliveryRead(msgspec.Struct, kw_only=True):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: str  # pending | succeeded | failed
    attempt_count: int
    generation: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    attempts: list[AttemptRead]


class DeliveryPage(msgspec.Struct, kw_only=True):
    items: list[DeliveryRead]
    total: int
    limit: int
    offset: int


class PingSent(msgspec.Struct, kw_only=True):
    event_id: str
    delivery_id: str
