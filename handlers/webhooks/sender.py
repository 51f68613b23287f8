"""The sender consumer: one signed HTTP attempt per work message, retried by JetStream.

A failed attempt naks its message with the next delay of the schedule (plus jitter);
JetStream keeps the timer, so retries survive restarts of every worker. The database
row decides what happens, so a duplicate or late message never sends twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from events import Event
from events.webhooks import DeliveryRequested
from handlers.webhooks.claims import abandon, claim
from handlers.webhooks.outcomes import record
from runtime.bus import Consumer
from runtime.bus.policy import Action, Decision, RetryPolicy
from runtime.security.crypto import CryptoError
from runtime.services import Services
from runtime.webhooks import AttemptResult, post_webhook, signed_headers
from runtime.webhooks.retries import max_attempts
from runtime.webhooks.vault import keyring_for, unseal

SEND_SUBJECTS = ("llmforge.webhooks.delivery.*.requested",)


class RetryLater(Exception):
    """Not a fault: nak the message for ``delay`` seconds and look again."""

    def __init__(self, delay: float, why: str) -> None:
        super().__init__(f"retry in {delay:.1f} s: {why}")
        self.delay = delay


@dataclass(frozen=True, slots=True)
class SenderPolicy(RetryPolicy):
    """The bus's policy, except that the handler itself names the delay of a retry."""

    def on_error(self, exc: BaseException, num_delivered: int) -> Decision:
        if isinstance(exc, RetryLater):
            return Decision(Action.NAK, delay=exc.delay)
        return RetryPolicy.on_error(self, exc, num_delivered)


@dataclass(frozen=True, slots=True)
class SenderConsumer(Consumer):
    """A Consumer whose retries wait as long as the handler says, not the fixed backoff."""

    def __post_init__(self) -> None:
        Consumer.__post_init__(self)
        object.__setattr__(self, "policy", SenderPolicy(self.max_deliver, tuple(self.backoff)))


def sender_consumer(services: Services) -> Consumer:
    session_factory, bus, settings = services.session_factory, services.bus, services.settings
    config = settings.webhooks
    lease = config.timeout_seconds + 5.0

    async def send(event: Event) -> None:
        if not isinstance(event, DeliveryRequested):
            return
        work = await claim(session_factory, event.data, lease)
        if work is None:
            return
        if isinstance(work, float):
            raise RetryLater(work, "held by another sender or not yet due")
        if not work.enabled and not work.is_test:
            await abandon(session_factory, work, "endpoint disabled before this attempt")
            return
        try:
            secret = unseal(keyring_for(services), work.sealed_secret)
        except CryptoError as exc:
            result = AttemptResult(False, 0.0, error=f"signing secret unreadable: {exc}")
        else:
            body = work.payload.encode()
            # webhook-id is the event id: the same on every retry, so receivers dedupe.
            headers = signed_headers(secret, work.event_id, int(time.time()), body)
            result = await post_webhook(
                work.url,
                body,
                headers,
                limit_s=config.timeout_seconds,
                allow_private=settings.webhooks_allow_private,
            )
        delay = await record(session_factory, bus, work, result, config)
        if delay is not None:
            raise RetryLater(delay, result.error or "failed")

    # Headroom over the schedule: waits for a held or not-yet-due delivery count too.
    attempts = max_attempts(config.retry_schedule)
    return SenderConsumer(
        name="webhooks-sender",
        subjects=SEND_SUBJECTS,
        handler=send,
        concurrency=config.sender_concurrency,
        max_deliver=3 * attempts + 10,
        backoff=(1.0, 5.0, 30.0, 120.0),
        ack_wait=lease + 25.0,
        description="sends each webhook delivery, signed, with retries",
    )
