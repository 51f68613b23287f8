"""Every HTTP process drops its cached resolution of an alias when it is promoted anywhere.

The process that promotes drops its own entry right after the commit; the others learn
of it from the ``model.promoted`` / ``model.rolled_back`` event through a core-NATS
subscription (each process needs its own copy; on reconnect the whole cache goes, since
a change may have been missed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from events import Event
from events.providers import ModelPromoted, ModelRolledBack
from handlers.deps import services_of
from runtime.bus import Broadcast
from runtime.llm.resolver import ModelResolver

SUBJECTS = (ModelPromoted.SUBJECT, ModelRolledBack.SUBJECT)


def apply(resolver: ModelResolver, event: Event) -> None:
    if isinstance(event, ModelPromoted | ModelRolledBack):
        resolver.forget(event.data.alias)


@asynccontextmanager
async def alias_invalidation(app: Litestar) -> AsyncIterator[None]:
    """Litestar lifespan hook: subscribed while the server runs (when it has a gateway)."""
    services = services_of(app.state)
    if services.llm is None:
        yield
        return
    resolver = services.llm.resolver

    def on_event(event: Event) -> None:
        apply(resolver, event)

    broadcast = Broadcast(services.bus, SUBJECTS, on_event, on_reconnect=resolver.invalidate)
    await broadcast.start()
    try:
        yield
    finally:
        await broadcast.stop()
