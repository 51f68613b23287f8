"""The Consumer spec: a function bound to subjects, with its delivery settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from events import Event
from runtime.bus.policy import RetryPolicy

EventHandler = Callable[[Event], Awaitable[None]]
BatchHandler = Callable[[list[Event]], Awaitable[None]]

_BAD_NAME_CHARS = frozenset(".*> \t\r\n/\\")


# Linger of the consumers that write something down for every event (audit, usage,
# webhook fan-out). At 100 gateway calls/s each call used to cost these three a
# transaction of its own; 50 ms gathers ~5 per batch for at most 50 ms of delay.
BOOKKEEPING_LINGER = 0.05


@dataclass(frozen=True, slots=True)
class Consumer:
    """A function the host runs for every event on ``subjects``.

    ``batch=False``: ``handler(event)``, up to ``concurrency`` events at once.
    ``batch=True``: ``handler(events)`` with up to ``fetch_batch`` events, all acked
    after it returns; ``concurrency`` batches at once. ``linger`` seconds: how long a
    batch waits for company once its first event is in (Kafka's linger.ms): events that
    trickle in one at a time would otherwise each pay a whole transaction. Handlers must
    be idempotent: any event can arrive again after a crash or a lost ack.
    """

    name: str
    subjects: Sequence[str]
    handler: EventHandler | BatchHandler
    batch: bool = False
    concurrency: int = 1
    max_deliver: int = 5
    backoff: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    ack_wait: float = 30.0
    fetch_batch: int = 64
    linger: float = 0.0
    description: str = ""
    policy: RetryPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or _BAD_NAME_CHARS.intersection(self.name):
            raise ValueError(f"consumer name {self.name!r} must be one subject token")
        if isinstance(self.subjects, str) or not self.subjects:
            raise ValueError("subjects must be a non-empty sequence of patterns")
        if self.concurrency < 1 or self.fetch_batch < 1:
            raise ValueError("concurrency and fetch_batch must be at least 1")
        if self.ack_wait <= 0:
            raise ValueError("ack_wait must be positive")
        object.__setattr__(self, "subjects", tuple(self.subjects))
        object.__setattr__(self, "policy", RetryPolicy(self.max_deliver, tuple(self.backoff)))

    @property
    def window(self) -> int:
        """Most deliveries held at once per stream: in the handler or queued for it.

        Kept near what the workers can take, so queued messages do not sit out their
        ack wait, plus one batch so the next is already here when a worker frees up.
        """
        if self.batch:
            return self.fetch_batch * (self.concurrency + 1)
        return self.concurrency + min(self.concurrency, self.fetch_batch)
