"""The retry schedule with jitter, delivery ids, and when an endpoint is switched off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runtime.settings import WebhookSettings
from runtime.webhooks.retries import (
    delivery_id_for,
    disable_reason,
    max_attempts,
    request_id_for,
    retry_delay,
)

SCHEDULE = WebhookSettings().retry_schedule
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_default_schedule_is_five_seconds_to_ten_hours() -> None:
    assert SCHEDULE == (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
    assert max_attempts(SCHEDULE) == 7


def test_delays_follow_the_schedule_within_the_jitter() -> None:
    assert retry_delay(SCHEDULE, 1, rng=lambda: 0.5) == 5.0
    assert retry_delay(SCHEDULE, 2, rng=lambda: 0.0) == 240.0
    assert retry_delay(SCHEDULE, 6, rng=lambda: 1.0) == 36000.0 * 1.2
    for attempts in range(1, 7):
        delay = retry_delay(SCHEDULE, attempts)
        assert delay is not None
        assert 0.8 * SCHEDULE[attempts - 1] <= delay <= 1.2 * SCHEDULE[attempts - 1]


def test_after_the_last_retry_the_delivery_gives_up() -> None:
    assert retry_delay(SCHEDULE, 7) is None
    assert retry_delay((), 1) is None


def test_ids_are_stable_so_redelivered_events_map_to_the_same_delivery() -> None:
    assert delivery_id_for("w1", "e1") == delivery_id_for("w1", "e1")
    assert delivery_id_for("w1", "e1") != delivery_id_for("w2", "e1")
    assert len(delivery_id_for("w1", "e1")) == 32
    assert request_id_for("d", 2) == "d-g2"


def test_endpoint_is_disabled_after_failed_deliveries_or_a_long_outage() -> None:
    settings = WebhookSettings(disable_after_failures=3, disable_after_seconds=3600)
    assert disable_reason(settings, failed_deliveries=2, failing_since=NOW, now=NOW) is None
    assert disable_reason(settings, failed_deliveries=3, failing_since=NOW, now=NOW)
    later = NOW + timedelta(hours=1)
    assert disable_reason(settings, failed_deliveries=0, failing_since=NOW, now=later)
    assert disable_reason(settings, failed_deliveries=0, failing_since=None, now=later) is None
