"""The ack policy, written once: what to do with a delivery after its handler ran."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from events.dead_letter import DeadLetterReason


class PermanentError(Exception):
    """Raised by a handler when retrying cannot help: the message is dead-lettered at once."""


class Action(StrEnum):
    ACK = "ack"
    NAK = "nak"
    DEAD_LETTER = "dead_letter"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    # Seconds before JetStream redelivers; only meaningful for NAK.
    delay: float = 0.0
    reason: DeadLetterReason | None = None


ACK = Decision(Action.ACK)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_deliver`` attempts in all; between them the ``backoff`` schedule, in seconds.

    The schedule is indexed by attempts made so far; its last entry repeats when there
    are more attempts than entries.
    """

    max_deliver: int = 5
    backoff: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)

    def __post_init__(self) -> None:
        if self.max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        if any(delay < 0 for delay in self.backoff):
            raise ValueError("backoff delays must not be negative")

    def delay_for(self, num_delivered: int) -> float:
        """Delay before the next attempt, after ``num_delivered`` attempts have failed."""
        if not self.backoff:
            return 0.0
        index = min(max(num_delivered, 1), len(self.backoff)) - 1
        return self.backoff[index]

    def before_handling(self, num_delivered: int) -> Decision | None:
        """A delivery past the limit means an earlier attempt never settled: stop here.

        The server-side limit is left unbounded on purpose, so it can never drop a
        message silently; this check is what ends the retries instead.
        """
        if num_delivered > self.max_deliver:
            return Decision(Action.DEAD_LETTER, reason="abandoned")
        return None

    def on_success(self) -> Decision:
        return ACK

    def on_undecodable(self) -> Decision:
        return Decision(Action.DEAD_LETTER, reason="undecodable")

    def on_error(self, exc: BaseException, num_delivered: int) -> Decision:
        if isinstance(exc, PermanentError):
            return Decision(Action.DEAD_LETTER, reason="permanent_error")
        if num_delivered >= self.max_deliver:
            return Decision(Action.DEAD_LETTER, reason="retries_exhausted")
        return Decision(Action.NAK, delay=self.delay_for(num_delivered))
