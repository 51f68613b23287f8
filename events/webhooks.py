"""Events of the webhooks domain: endpoints, the test ping, and each delivery's life."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from events.envelope import Event


class EndpointData(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    owner_id: str
    # The URL stays out: URLs often carry a receiver's token in their query string.
    event_types: list[str] = msgspec.field(default_factory=list)
    enabled: bool = True


class EndpointCreated(
    Event, frozen=True, kw_only=True, tag="llmforge.webhooks.endpoint.created.v1"
):
    """A webhook endpoint was registered."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.endpoint.created"
    data: EndpointData


class EndpointChangedData(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    owner_id: str
    # Names of the fields that changed (url, event_types, description, enabled).
    changed: list[str]
    enabled: bool


class EndpointUpdated(
    Event, frozen=True, kw_only=True, tag="llmforge.webhooks.endpoint.updated.v1"
):
    """A webhook endpoint's URL, filters, description or enabled flag changed."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.endpoint.updated"
    data: EndpointChangedData


class EndpointRef(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    owner_id: str


class EndpointDeleted(
    Event, frozen=True, kw_only=True, tag="llmforge.webhooks.endpoint.deleted.v1"
):
    """A webhook endpoint was deleted with its delivery history."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.endpoint.deleted"
    data: EndpointRef


class EndpointSecretRotated(
    Event, frozen=True, kw_only=True, tag="llmforge.webhooks.endpoint.secret_rotated.v1"
):
    """The endpoint's signing secret was replaced; the old one stops signing at once."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.endpoint.secret_rotated"
    data: EndpointRef


class EndpointTestData(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    owner_id: str
    message: str = "ping"


class EndpointTest(Event, frozen=True, kw_only=True, tag="llmforge.webhooks.endpoint.test.v1"):
    """A test ping: delivered to the one endpoint it names, whatever its filters."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.endpoint.test"
    data: EndpointTestData


class EndpointDisabledData(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    owner_id: str
    reason: str
    consecutive_failures: int


class EndpointDisabled(
    Event, frozen=True, kw_only=True, tag="llmforge.webhooks.endpoint.disabled.v1"
):
    """An endpoint kept failing and was switched off; PATCH enabled=true turns it back on."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.endpoint.disabled"
    data: EndpointDisabledData


class DeliveryData(msgspec.Struct, frozen=True, kw_only=True):
    delivery_id: str
    webhook_id: str
    owner_id: str
    # The delivered event: its id is the ``webhook-id`` header the receiver sees.
    event_id: str
    event_type: str
    # Bumped by each manual redelivery; a message of an older round is ignored.
    generation: int = 0


class DeliveryRequested(
    Event, frozen=True, kw_only=True, tag="llmforge.webhooks.delivery.requested.v1"
):
    """One event is due at one endpoint: the sender's work item, retried until it settles."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.delivery.{subject}.requested"
    data: DeliveryData


class DeliveryResultData(msgspec.Struct, frozen=True, kw_only=True):
    delivery_id: str
    webhook_id: str
    owner_id: str
    event_id: str
    event_type: str
    attempts: int
    response_status: int | None = None
    error: str | None = None


class DeliverySucceeded(
    Event, frozen=True, kw_only=True, tag="llmforge.webhooks.delivery.succeeded.v1"
):
    """The endpoint answered 2xx."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.delivery.{subject}.succeeded"
    data: DeliveryResultData


class DeliveryFailed(Event, frozen=True, kw_only=True, tag="llmforge.webhooks.delivery.failed.v1"):
    """Every attempt of the retry schedule failed; the delivery gave up."""

    SUBJECT: ClassVar[str] = "llmforge.webhooks.delivery.{subject}.failed"
    data: DeliveryResultData


WEBHOOK_EVENTS = (
    EndpointCreated,
    EndpointUpdated,
    EndpointDeleted,
    EndpointSecretRotated,
    EndpointTest,
    EndpointDisabled,
    DeliveryRequested,
    DeliverySucceeded,
    DeliveryFailed,
)
