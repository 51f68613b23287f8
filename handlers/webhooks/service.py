"""Webhook endpoint management: owner-scoped CRUD, secrets, deliveries, pings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from events.webhooks import (
    EndpointChangedData,
    EndpointCreated,
    EndpointData,
    EndpointDeleted,
    EndpointRef,
    EndpointSecretRotated,
    EndpointTest,
    EndpointTestData,
    EndpointUpdated,
)
from handlers.auth import CurrentUser
from handlers.webhooks.schemas import WebhookCreate, WebhookUpdate
from runtime.db.models import Webhook, utcnow
from runtime.db.paging import page_of
from runtime.errors import NotFound, Unprocessable
from runtime.outbox import emit
from runtime.security.crypto import Keyring
from runtime.settings import Settings
from runtime.webhooks import InvalidFilter, UnsafeTarget, check_url, new_secret, normalize_filters
from runtime.webhooks.retries import delivery_id_for
from runtime.webhooks.vault import seal


async def get_owned(session: AsyncSession, user: CurrentUser, webhook_id: str) -> Webhook:
    """The endpoint if the caller owns it or is an admin; 404 otherwise, never 403."""
    webhook = await session.get(Webhook, webhook_id)
    if webhook is None or (webhook.owner_id != user.id and not user.is_admin):
        raise NotFound("webhook_not_found", detail=f"No webhook {webhook_id}.")
    return webhook


async def list_webhooks(
    session: AsyncSession, user: CurrentUser, *, owner_id: str | None, limit: int, offset: int
) -> tuple[Sequence[Webhook], int]:
    """A user's own endpoints; an admin sees everyone's unless ``owner_id`` narrows it."""
    query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
    owner = owner_id if user.is_admin else user.id
    if owner is not None:
        query = query.where(Webhook.owner_id == owner)
    return await page_of(session, query, limit=limit, offset=offset)


async def _valid_url(url: str, settings: Settings) -> str:
    try:
        await check_url(url, allow_private=settings.webhooks_allow_private)
    except UnsafeTarget as exc:
        raise Unprocessable(exc.code, detail=str(exc)) from exc
    return url


def _valid_filters(patterns: list[str]) -> list[str]:
    try:
        return normalize_filters(patterns)
    except InvalidFilter as exc:
        raise Unprocessable("webhook_filter_invalid", detail=str(exc)) from exc


async def create(
    session: AsyncSession,
    user: CurrentUser,
    data: WebhookCreate,
    settings: Settings,
    keyring: Keyring,
) -> tuple[Webhook, str]:
    """Store the endpoint with a fresh secret; the clear secret is returned only here."""
    secret = new_secret()
    webhook = Webhook(
        owner_id=user.id,
        url=await _valid_url(data.url, settings),
        event_types=_valid_filters(data.event_types),
        description=data.description,
        enabled=data.enabled,
        secret_encrypted=seal(keyring, secret),
        failure_count=0,
    )
    session.add(webhook)
    await session.flush()
    emit(
        session,
        EndpointCreated(
            subject=webhook.id,
            actor=user.id,
            data=EndpointData(
                webhook_id=webhook.id,
                owner_id=webhook.owner_id,
                event_types=list(webhook.event_types),
                enabled=webhook.enabled,
            ),
        ),
    )
    return webhook, secret


async def update(
    session: AsyncSession,
    user: CurrentUser,
    webhook_id: str,
    change: WebhookUpdate,
    settings: Settings,
) -> Webhook:
    webhook = await get_owned(session, user, webhook_id)
    changed: list[str] = []
    if change.url is not None and change.url != webhook.url:
        webhook.url = await _valid_url(change.url, settings)
        changed.append("url")
    if change.event_types is not None:
        filters = _valid_filters(change.event_types)
        if filters != webhook.event_types:
            webhook.event_types = filters
            changed.append("event_types")
    if change.description is not None and change.description != webhook.description:
        webhook.description = change.description
        changed.append("description")
    if change.enabled is not None and change.enabled != webhook.enabled:
        webhook.enabled = change.enabled
        changed.append("enabled")
        if change.enabled:
            # Turning it back on is the owner saying "fixed": start the health count anew.
            webhook.failure_count = 0
            webhook.failing_since = None
            webhook.disabled_reason = None
    if changed:
        webhook.updated_at = utcnow()
        emit(
            session,
            EndpointUpdated(
                subject=webhook.id,
                actor=user.id,
                data=EndpointChangedData(
                    webhook_id=webhook.id,
                    owner_id=webhook.owner_id,
                    changed=changed,
                    enabled=webhook.enabled,
                ),
            ),
        )
    return webhook


async def remove(session: AsyncSession, user: CurrentUser, webhook_id: str) -> None:
    webhook = await get_owned(session, user, webhook_id)
    ref = EndpointRef(webhook_id=webhook.id, owner_id=webhook.owner_id)
    # Deliveries and attempts go with it (ON DELETE CASCADE).
    await session.execute(delete(Webhook).where(Webhook.id == webhook.id))
    emit(session, EndpointDeleted(subject=ref.webhook_id, actor=user.id, data=ref))


async def rotate_secret(
    session: AsyncSession, user: CurrentUser, webhook_id: str, keyring: Keyring
) -> tuple[Webhook, str]:
    webhook = await get_owned(session, user, webhook_id)
    secret = new_secret()
    webhook.secret_encrypted = seal(keyring, secret)
    webhook.updated_at = utcnow()
    ref = EndpointRef(webhook_id=webhook.id, owner_id=webhook.owner_id)
    emit(session, EndpointSecretRotated(subject=webhook.id, actor=user.id, data=ref))
    return webhook, secret


async def send_ping(session: AsyncSession, user: CurrentUser, webhook_id: str) -> tuple[str, str]:
    """Publish the test event; the dispatcher delivers it to this endpoint alone."""
    webhook = await get_owned(session, user, webhook_id)
    ping = EndpointTest(
        subject=webhook.id,
        actor=user.id,
        data=EndpointTestData(webhook_id=webhook.id, owner_id=webhook.owner_id),
    )
    emit(session, ping)
    return ping.id, delivery_id_for(webhook.id, ping.id)
