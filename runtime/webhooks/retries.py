"""The retry schedule and the endpoint health rule, as pure functions of counts and times."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from runtime.settings import WebhookSettings

# Each delay is spread ±20 % so endpoints that failed together do not retry together.
JITTER = 0.2


def delivery_id_for(webhook_id: str, event_id: str) -> str:
    """Deterministic, so a redelivered event maps onto the delivery it already made."""
    return hashlib.sha256(f"{webhook_id}:{event_id}".encode()).hexdigest()[:32]


def request_id_for(delivery_id: str, generation: int) -> str:
    """The id of a delivery's work message: JetStream drops a re-published copy."""
    return f"{delivery_id}-g{generation}"


def max_attempts(schedule: Sequence[float]) -> int:
    return len(schedule) + 1


def retry_delay(
    schedule: Sequence[float], attempts_made: int, rng: Callable[[], float] = random.random
) -> float | None:
    """Seconds before the next attempt after ``attempts_made`` failed ones; None: give up."""
    if attempts_made < 1 or attempts_made > len(schedule):
        return None
    base = schedule[attempts_made - 1]
    return max(0.0, base * (1 + JITTER * (2 * rng() - 1)))


def disable_reason(
    settings: WebhookSettings,
    *,
    failed_deliveries: int,
    failing_since: datetime | None,
    now: datetime,
) -> str | None:
    """Why a failing endpoint should be switched off now, or None to keep trying."""
    if failed_deliveries >= settings.disable_after_failures:
        return f"{failed_deliveries} deliveries in a row failed every attempt"
    if failing_since is not None and now - failing_since >= timedelta(
        seconds=settings.disable_after_seconds
    ):
        return f"no successful delivery since {failing_since.isoformat()}"
    return None
