"""Runs one Consumer: its durables, pullers, queue, workers and in-progress heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from runtime.bus.barrier import server_caught_up
from runtime.bus.bindings import Binding
from runtime.bus.connection import EventBus
from runtime.bus.consumer import Consumer
from runtime.bus.dispatch import Delivery, Dispatcher
from runtime.bus.policy import Action
from runtime.bus.puller import Puller

log = structlog.get_logger(__name__)


class Runner:
    """One Consumer's moving parts; the Dispatcher decides what happens to each message."""

    def __init__(
        self,
        bus: EventBus,
        consumer: Consumer,
        durable: str,
        bindings: Sequence[Binding],
        *,
        pull_expires: float,
        idle_heartbeat: float,
    ) -> None:
        self.consumer = consumer
        self.durable = durable
        self._bus = bus
        self._bindings = bindings
        self._pull_expires = pull_expires
        self._idle_heartbeat = idle_heartbeat
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._held: set[Delivery] = set()
        self._dispatch = Dispatcher(bus, consumer, durable, self._held)
        self._pullers: list[Puller] = []
        self._workers: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        for binding in self._bindings:
            await self._ensure_durable(binding)

            async def repair(binding: Binding = binding) -> None:
                await self._ensure_durable(binding)

            puller = Puller(
                self._bus.nc,
                stream=binding.stream,
                durable=self.durable,
                window=self.consumer.window,
                deliver=self._accept,
                repair=repair,
                expires=self._pull_expires,
                idle_heartbeat=self._idle_heartbeat,
            )
            await puller.start()
            self._pullers.append(puller)
        self._workers = [
            asyncio.create_task(self._work(), name=f"consumer:{self.durable}:{i}")
            for i in range(self.consumer.concurrency)
        ]
        self._ticker = asyncio.create_task(self._heartbeats(), name=f"wpi:{self.durable}")

    def reset_pulls(self) -> None:
        for puller in self._pullers:
            puller.reset()

    async def stop(self, grace: float) -> None:
        """Finish what is running within ``grace`` seconds; hand the rest back with nak."""
        self._stopping = True
        for puller in self._pullers:
            await puller.stop()
        for worker in self._workers:
            if worker not in self._busy:
                worker.cancel()
        busy = [w for w in self._workers if w in self._busy]
        if busy:
            await asyncio.wait(busy, timeout=grace)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        unfinished = [d for d in self._held if not d.settled]
        if unfinished:
            log.info("returning_unfinished", consumer=self.durable, count=len(unfinished))
        for delivery in unfinished:
            # No delay: the next consumer instance should pick these up at once.
            await self._dispatch.settle(delivery, Action.NAK)
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        with contextlib.suppress(nats.errors.Error, OSError):
            # The NAKs above reach the server before the connection closes.
            async with asyncio.timeout(2):  # a TimeoutError is an OSError
                await server_caught_up(self._bus.nc)

    async def _ensure_durable(self, binding: Binding) -> None:
        # Create-or-update: a changed ack_wait or filter reaches the live durable.
        # max_deliver stays unlimited on the server so it never drops a message
        # silently; RetryPolicy ends the retries and dead-letters instead.
        config = ConsumerConfig(
            name=self.durable,
            durable_name=self.durable,
            description=self.consumer.description or None,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.consumer.ack_wait,
            max_deliver=-1,
            max_ack_pending=max(1000, 2 * self.consumer.window),
            filter_subject=binding.filters[0] if len(binding.filters) == 1 else None,
            filter_subjects=list(binding.filters) if len(binding.filters) > 1 else None,
        )
        await self._bus.js.add_consumer(binding.stream, config)

    def _accept(self, msg: Msg, puller: Puller) -> None:
        delivery = Delivery(msg, puller, time.monotonic())
        self._held.add(delivery)
        self._queue.put_nowait(delivery)

    async def _work(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        limit = self.consumer.fetch_batch if self.consumer.batch else 1
        while True:
            first = await self._queue.get()
            if self._stopping:
                return  # left in _held: stop() hands it back
            batch = [first]
            if self.consumer.linger > 0 and self._queue.qsize() < limit - 1:
                # One timer per batch, not a wait per event.
                await asyncio.sleep(self.consumer.linger)
                if self._stop_requested():
                    return  # the batch is still in _held: stop() hands it back
            while len(batch) < limit and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._busy.add(me)
            try:
                await self._dispatch.process(batch)
            except Exception:
                # A bug here must not kill the worker; the deliveries get redelivered.
                log.exception("consumer_worker_error", consumer=self.durable)
                for delivery in batch:
                    await self._dispatch.settle(
                        delivery, Action.NAK, self.consumer.policy.delay_for(1)
                    )
            finally:
                self._busy.discard(me)
            if self._stop_requested():
                return

    def _stop_requested(self) -> bool:
        # A method, not the bare attribute: type checkers keep the narrowing of
        # self._stopping across awaits, where another task may have changed it.
        return self._stopping

    async def _heartbeats(self) -> None:
        every = self.consumer.ack_wait / 3
        while True:
            await asyncio.sleep(every / 2)
            now = time.monotonic()
            for delivery in [d for d in self._held if now - d.touched >= every]:
                if delivery.settled:
                    continue
                delivery.touched = now
                with contextlib.suppress(nats.errors.Error, OSError):
                    await delivery.msg.in_progress()
