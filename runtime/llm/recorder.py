"""Publish call events off the response path: no token ever waits on the broker."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event
from events.llm import LlmCallCompleted
from runtime.observability import observe_llm_call
from runtime.outbox import Publisher, emit

log = structlog.get_logger(__name__)


class CallRecorder:
    """Fire-and-forget publishing; a failed publish falls back to the outbox.

    The fallback writes the event as an outbox row in its own transaction, so the
    relay publishes it once NATS is back: usage is late rather than lost.
    """

    def __init__(
        self,
        bus: Publisher,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._bus = bus
        self._session_factory = session_factory
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, event: Event) -> None:
        if isinstance(event, LlmCallCompleted):
            # Here rather than in the usage consumer: every API replica exports its own
            # calls, counted once, whichever worker later projects them.
            observe_llm_call(event.data)
        task = asyncio.get_running_loop().create_task(self._publish(event), name="llm-call-event")
        # The loop keeps only weak references to tasks: hold one until it is done.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, event: Event) -> None:
        try:
            await self._bus.publish(event)
            return
        except Exception as exc:
            log.warning("llm_call_publish_failed", event_id=event.id, error=str(exc))
        if self._session_factory is None:
            return
        try:
            async with self._session_factory() as session:
                emit(session, event)
                await session.commit()
        except Exception:
            log.exception("llm_call_event_lost", event_id=event.id)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Let in-flight publishes finish (process shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
