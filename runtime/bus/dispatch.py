"""Applies the ack policy to deliveries: decode, run the handler, ack, nak or dead-letter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from structlog.contextvars import bound_contextvars

from events import Event, decode_event
from events.dead_letter import DeadLetterReason
from runtime.bus.connection import EventBus
from runtime.bus.consumer import BatchHandler, Consumer, EventHandler
from runtime.bus.dead_letters import dead_letter
from runtime.bus.errors import BusError
from runtime.bus.policy import Action
from runtime.bus.puller import Puller

log = structlog.get_logger(__name__)


@dataclass(eq=False, slots=True)
class Delivery:
    msg: Msg
    puller: Puller
    # Last time the server heard about this delivery (received or in_progress sent).
    touched: float
    settled: bool = False


class Dispatcher:
    """The one place where a handler's outcome becomes ack, nak or term + dead letter.

    The handler's success is the only path to an ack; ``held`` is the runner's set
    of unsettled deliveries, from which every settled one is removed.
    """

    def __init__(
        self, bus: EventBus, consumer: Consumer, durable: str, held: set[Delivery]
    ) -> None:
        self._bus = bus
        self._consumer = consumer
        self._durable = durable
        self._held = held

    async def process(self, batch: list[Delivery]) -> None:
        # Every line logged while these deliveries are handled names the consumer, the
        # dead-letter paths below included; each event's id and type are bound per event.
        with bound_contextvars(consumer=self._durable):
            await self._process(batch)

    async def _process(self, batch: list[Delivery]) -> None:
        policy = self._consumer.policy
        ready: list[tuple[Delivery, Event]] = []
        for delivery in batch:
            delivered = delivery.msg.metadata.num_delivered
            if policy.before_handling(delivered) is not None:
                await self._dead_letter(
                    delivery,
                    "abandoned",
                    "delivery limit passed without the last attempt settling "
                    "(the process stopped or the ack wait ran out mid-handler)",
                    None,
                    _try_decode(delivery.msg.data),
                )
                continue
            try:
                event = decode_event(delivery.msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                await self._dead_letter(delivery, "undecodable", str(exc), _qualname(exc), None)
                continue
            ready.append((delivery, event))
        if not ready:
            return
        if self._consumer.batch:
            await self._run_batch(ready)
        else:
            for delivery, event in ready:
                await self._run_one(delivery, event)

    async def _run_one(self, delivery: Delivery, event: Event) -> None:
        handler = cast("EventHandler", self._consumer.handler)
        with bound_contextvars(event_id=event.id, event_type=event.type, consumer=self._durable):
            try:
                await handler(event)
            except Exception as exc:
                await self._failed(delivery, event, exc)
                return
        await self.settle(delivery, Action.ACK)

    async def _run_batch(self, ready: list[tuple[Delivery, Event]]) -> None:
        context: dict[str, object]
        if len(ready) == 1:
            delivery, event = ready[0]
            context = {"event_id": event.id, "event_type": event.type}
        else:
            # No single event id is true of a batch: name them all.
            context = {
                "batch_size": str(len(ready)),
                "event_ids": [event.id for _, event in ready],
                "event_types": sorted({event.type for _, event in ready}),
            }
        handler = cast("BatchHandler", self._consumer.handler)
        with bound_contextvars(consumer=self._durable, **context):
            try:
                await handler([event for _, event in ready])
            except Exception as exc:
                if len(ready) == 1:
                    await self._failed(ready[0][0], ready[0][1], exc)
                    return
                # Retry one by one so a single bad event neither blocks nor
                # dead-letters its neighbours.
                log.warning("batch_failed_isolating", size=len(ready), error=repr(exc))
                for item in ready:
                    await self._run_batch([item])
                return
        for delivery, _event in ready:
            await self.settle(delivery, Action.ACK)

    async def _failed(self, delivery: Delivery, event: Event, exc: Exception) -> None:
        delivered = delivery.msg.metadata.num_delivered
        decision = self._consumer.policy.on_error(exc, delivered)
        if decision.action is Action.NAK:
            log.warning(
                "handler_failed_will_retry",
                attempt=delivered,
                retry_in=decision.delay,
                error=repr(exc),
            )
            await self.settle(delivery, Action.NAK, decision.delay)
            return
        assert decision.reason is not None
        log.error("handler_failed_giving_up", attempt=delivered, exc_info=exc)
        text = str(exc) or repr(exc)
        await self._dead_letter(delivery, decision.reason, text, _qualname(exc), event)

    async def _dead_letter(
        self,
        delivery: Delivery,
        reason: DeadLetterReason,
        error: str,
        error_type: str | None,
        event: Event | None,
    ) -> None:
        try:
            await dead_letter(
                self._bus, self._durable, delivery.msg, reason, error, error_type, event
            )
        except BusError as exc:
            # Never drop it: without a dead letter on record, retry the whole thing later.
            log.error("dead_letter_failed", reason=reason, error=repr(exc))
            delay = self._consumer.policy.delay_for(delivery.msg.metadata.num_delivered)
            await self.settle(delivery, Action.NAK, delay)
            return
        await self.settle(delivery, Action.DEAD_LETTER)

    async def settle(self, delivery: Delivery, action: Action, delay: float = 0.0) -> None:
        if delivery.settled:
            return
        delivery.settled = True
        self._held.discard(delivery)
        delivery.puller.release()
        msg = delivery.msg
        try:
            if action is Action.ACK:
                await msg.ack()
            elif action is Action.NAK:
                await msg.nak(delay=delay or None)
            else:
                await msg.term()
        except (nats.errors.Error, OSError) as exc:
            # The server redelivers after ack_wait; handlers are idempotent.
            log.warning("settle_failed", action=str(action), error=repr(exc))


def _try_decode(raw: bytes) -> Event | None:
    try:
        return decode_event(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"
