"""Every HTTP process drops its auth caches when a user, key or role changes anywhere.

The process that makes a change drops its own entries at once (``forget_api_keys``,
``forget_roles``); the others learn of it from the change's event, published right after
the commit, through a plain core-NATS subscription (no durable consumer: each process
needs its own copy, and a message missed while disconnected is covered by dropping
everything on reconnect).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from litestar import Litestar

from events import Event
from events.auth import (
    ApiKeyRevoked,
    PasswordChanged,
    PasswordReset,
    RoleCreated,
    RoleDeleted,
    RoleUpdated,
    UserDeleted,
    UserUpdated,
)
from handlers.auth.deps import caches_of
from handlers.auth.principal import AuthCaches
from handlers.deps import services_of
from runtime.bus import Broadcast

INVALIDATING: tuple[type[Event], ...] = (
    UserUpdated,
    UserDeleted,
    PasswordChanged,
    PasswordReset,
    ApiKeyRevoked,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
)
SUBJECTS = tuple(cls.SUBJECT.format(subject="*") for cls in INVALIDATING)


def apply(caches: AuthCaches, event: Event) -> None:
    """Drop what the event may have made stale."""
    match event:
        case ApiKeyRevoked():
            caches.api_keys.forget(key_id=event.data.key_id)
        case RoleCreated() | RoleUpdated() | RoleDeleted():
            # A new role may be a name some user already holds (cached as granting nothing).
            caches.forget_roles()
        case UserUpdated() | UserDeleted() | PasswordChanged() | PasswordReset():
            caches.api_keys.forget(user_id=event.data.user_id)
        case _:
            pass


@asynccontextmanager
async def auth_invalidation(app: Litestar) -> AsyncIterator[None]:
    """Litestar lifespan hook: subscribed before the server takes requests, until it stops."""
    caches = caches_of(app.state)
    broadcast = Broadcast(
        services_of(app.state).bus,
        SUBJECTS,
        partial(apply, caches),
        on_reconnect=caches.forget_roles,
    )
    await broadcast.start()
    try:
        yield
    finally:
        await broadcast.stop()
