"""Dependencies every route family shares: database session, bus, settings."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.bus import EventBus
from runtime.outbox import discard_staged, publish_committed
from runtime.services import Services
from runtime.settings import Settings

# The deepest page any list route serves: unbounded, an offset past the database's 64-bit
# integers fails in the driver (a 500) instead of answering an empty page.
MAX_OFFSET = 2**31 - 1


def services_of(state: State) -> Services:
    services: Services = state.services
    return services


async def provide_db_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """One transaction per request: committed when the handler returns, else rolled back.

    Events staged with ``runtime.outbox.emit`` are published after the commit.
    """
    services = services_of(state)
    async with services.session_factory() as session:
        try:
            yield session
        except Exception:
            discard_staged(session)
            await session.rollback()
            raise
        await session.commit()
        await publish_committed(session, services.bus)


def provide_bus(state: State) -> EventBus:
    return services_of(state).bus


def provide_settings(state: State) -> Settings:
    return services_of(state).settings


def provide_services(state: State) -> Services:
    return services_of(state)


DEPENDENCIES = {
    "db_session": Provide(provide_db_session),
    "bus": Provide(provide_bus, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "services": Provide(provide_services, sync_to_thread=False),
}
