"""Webhook routes (/api/webhooks): parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth import CurrentUser, Permission, requires
from handlers.deps import MAX_OFFSET, services_of
from handlers.webhooks import deliveries, service
from handlers.webhooks.schemas import (
    DeliveryPage,
    DeliveryRead,
    PingSent,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookRead,
    WebhookSecret,
    WebhookUpdate,
)
from handlers.webhooks.views import delivery_read, webhook_created, webhook_read
from runtime.security.crypto import Keyring
from runtime.settings import Settings
from runtime.webhooks.vault import keyring_for

Limit = Annotated[int, Parameter(ge=1, le=200)]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET)]
Status = Annotated[str | None, Parameter(pattern="^(pending|succeeded|failed)$")]


def provide_keyring(state: State) -> Keyring:
    return keyring_for(services_of(state))


class WebhookController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]
    guards = [requires(Permission.WEBHOOKS_MANAGE)]
    dependencies = {"keyring": Provide(provide_keyring, sync_to_thread=False)}

    @get("/", operation_id="webhooksList")
    async def list_webhooks(
        self,
        db_session: AsyncSession,
        current_user: CurrentUser,
        owner_id: str | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> WebhookPage:
        """Your endpoints; an admin sees everyone's (``owner_id`` narrows it)."""
        rows, total = await service.list_webhooks(
            db_session, current_user, owner_id=owner_id, limit=limit, offset=offset
        )
        return WebhookPage(
            items=[webhook_read(w) for w in rows], total=total, limit=limit, offset=offset
        )

    @post("/", operation_id="webhooksCreate", status_code=201)
    async def create(
        self,
        data: WebhookCreate,
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
        keyring: Keyring,
    ) -> WebhookCreated:
        """Register an endpoint; the answer holds its ``whsec_`` signing secret, once."""
        webhook, secret = await service.create(db_session, current_user, data, settings, keyring)
        return webhook_created(webhook, secret)

    @get("/{webhook_id:str}", operation_id="webhooksGet")
    async def get_webhook(
        self, webhook_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> WebhookRead:
        return webhook_read(await service.get_owned(db_session, current_user, webhook_id))

    @patch("/{webhook_id:str}", operation_id="webhooksUpdate")
    async def update(
        self,
        webhook_id: str,
        data: WebhookUpdate,
        db_session: AsyncSession,
        current_user: CurrentUser,
        settings: Settings,
    ) -> WebhookRead:
        webhook = await service.update(db_session, current_user, webhook_id, data, settings)
        return webhook_read(webhook)

    @delete("/{webhook_id:str}", operation_id="webhooksDelete", status_code=204)
    async def remove(
        self, webhook_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> None:
        await service.remove(db_session, current_user, webhook_id)

    @post("/{webhook_id:str}/rotate-secret", operation_id="webhooksRotateSecret", status_code=200)
    async def rotate_secret(
        self,
        webhook_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        keyring: Keyring,
    ) -> WebhookSecret:
        """A new signing secret, shown once; the old one stops signing at once."""
        webhook, secret = await service.rotate_secret(db_session, current_user, webhook_id, keyring)
        return WebhookSecret(id=webhook.id, secret=secret)

    @post("/{webhook_id:str}/test", operation_id="webhooksTest", status_code=202)
    async def test(
        self, webhook_id: str, db_session: AsyncSession, current_user: CurrentUser
    ) -> PingSent:
        """Send a ``llmforge.webhooks.endpoint.test.v1`` ping to this endpoint alone."""
        event_id, delivery_id = await service.send_ping(db_session, current_user, webhook_id)
        return PingSent(event_id=event_id, delivery_id=delivery_id)

    @get("/{webhook_id:str}/deliveries", operation_id="webhooksDeliveries")
    async def list_deliveries(
        self,
        webhook_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
        status: Status = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> DeliveryPage:
        """Deliveries, newest first, each with every attempt made."""
        rows, attempts, total = await deliveries.list_deliveries(
            db_session, current_user, webhook_id, status=status, limit=limit, offset=offset
        )
        items = [delivery_read(d, attempts.get(d.id, [])) for d in rows]
        return DeliveryPage(items=items, total=total, limit=limit, offset=offset)

    @post(
        "/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver",
        operation_id="webhooksRedeliver",
        status_code=202,
    )
    async def redeliver(
        self,
        webhook_id: str,
        delivery_id: str,
        db_session: AsyncSession,
        current_user: CurrentUser,
    ) -> Response[DeliveryRead]:
        """Send a settled delivery again, with a fresh retry schedule."""
        delivery = await deliveries.redeliver(db_session, current_user, webhook_id, delivery_id)
        return Response(delivery_read(delivery, []), status_code=202)
