"""The long-lived clients one process shares between requests and consumers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from runtime.bus import EventBus
from runtime.settings import Settings


@dataclass(slots=True)
class Services:
    """Connections, not state: any replica can serve any request with its own copy."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    bus: EventBus
