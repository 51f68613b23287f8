"""Core-NATS subscriptions for process-local reactions: every process sees every message."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from events import Event, decode_event
from runtime.bus.barrier import server_caught_up

if TYPE_CHECKING:
    from runtime.bus.connection import EventBus

log = structlog.get_logger(__name__)


class Broadcast:
    """Listens to event subjects without a JetStream consumer: nothing stored, acked or
    shared out, so each process gets its own copy of every message published from now on.

    For process-local state such as caches. A message published while this process was
    disconnected is lost to it, so ``on_reconnect`` should drop whatever it could miss.
    """

    def __init__(
        self,
        bus: EventBus,
        subjects: Sequence[str],
        handler: Callable[[Event], None],
        *,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self._bus = bus
        self.subjects = tuple(subjects)
        self._handler = handler
        self._on_reconnect = on_reconnect
        self._subscriptions: list[Subscription] = []

    async def start(self) -> None:
        for subject in self.subjects:
            self._subscriptions.append(await self._bus.nc.subscribe(subject, cb=self._deliver))
        # The server has the subscriptions once this returns: no change can slip by.
        await server_caught_up(self._bus.nc)
        self._bus.add_reconnect_listener(self._reconnected)

    async def stop(self) -> None:
        self._bus.remove_reconnect_listener(self._reconnected)
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            with contextlib.suppress(nats.errors.Error, OSError):
                await subscription.unsubscribe()

    async def _deliver(self, msg: Msg) -> None:
        try:
            event = decode_event(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("broadcast_undecodable", subject=msg.subject)
            return
        try:
            self._handler(event)
        except Exception:
            log.exception("broadcast_handler_failed", subject=msg.subject, type=event.type)

    async def _reconnected(self) -> None:
        if self._on_reconnect is not None:
            self._on_reconnect()
