"""The function host: binds Consumers to durable pull consumers and runs them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType

import structlog

from events import STREAMS, StreamSpec
from runtime.bus.bindings import plan_bindings
from runtime.bus.connection import EventBus
from runtime.bus.consumer import Consumer
from runtime.bus.runner import Runner

log = structlog.get_logger(__name__)


class FunctionHost:
    """Runs consumer functions against JetStream with the shared ack policy.

    Each Consumer becomes one durable, named ``<prefix>-<name>``, on every stream its
    subjects overlap; a restarted host with the same names resumes where it stopped.
    """

    def __init__(
        self,
        bus: EventBus,
        consumers: Sequence[Consumer],
        *,
        prefix: str | None = None,
        streams: Sequence[StreamSpec] = STREAMS,
        pull_expires: float = 30.0,
        idle_heartbeat: float = 5.0,
    ) -> None:
        names = [c.name for c in consumers]
        if len(set(names)) != len(names):
            raise ValueError(f"consumer names must be unique: {names}")
        if prefix is None:
            from runtime.settings import get_settings

            prefix = get_settings().nats.consumer_prefix
        self._bus = bus
        self._prefix = prefix
        self._runners = [
            Runner(
                bus,
                consumer,
                self.durable_name(consumer),
                plan_bindings(consumer.subjects, streams),
                pull_expires=pull_expires,
                idle_heartbeat=idle_heartbeat,
            )
            for consumer in consumers
        ]
        self._started = False

    def durable_name(self, consumer: Consumer) -> str:
        return f"{self._prefix}-{consumer.name}" if self._prefix else consumer.name

    @property
    def consumers(self) -> list[Consumer]:
        return [runner.consumer for runner in self._runners]

    async def start(self) -> None:
        """Create or update the durables, then start pulling."""
        if self._started:
            return
        self._started = True
        self._bus.add_reconnect_listener(self._on_reconnect)
        try:
            for runner in self._runners:
                await runner.start()
                log.info("consumer_started", consumer=runner.durable)
        except BaseException:
            # Leave nothing half-started behind: pullers already running would
            # otherwise keep taking messages nobody handles until ack_wait.
            await self.stop(timeout=0)
            raise

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Stop pulling; give running handlers ``timeout`` seconds, then cancel and nak.

        Nothing is lost: whatever did not finish is handed back for redelivery.
        """
        if not self._started:
            return
        self._started = False
        self._bus.remove_reconnect_listener(self._on_reconnect)
        await asyncio.gather(*(runner.stop(timeout) for runner in self._runners))
        log.info("function_host_stopped", consumers=len(self._runners))

    async def _on_reconnect(self) -> None:
        for runner in self._runners:
            runner.reset_pulls()

    async def __aenter__(self) -> FunctionHost:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
