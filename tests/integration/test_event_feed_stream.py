"""The reusable feed on a real JetStream: slow clients are cut off, tokens round-trip."""

from __future__ import annotations

import json

import pytest

from handlers.events_feed import EventFeed, InvalidPosition, decode_position, encode_position
from runtime.bus import EventBus
from tests.fixtures.nats import eventually, user_registered


async def test_a_client_that_falls_behind_is_told_to_resume(bus: EventBus) -> None:
    feed = EventFeed(bus.fanout, ["llmforge.auth.>"], lambda _: True, queue_size=2, heartbeat=5)
    messages = feed.messages()
    ready = await anext(messages)
    assert ready.event == "ready"
    for i in range(5):
        await bus.publish(user_registered(f"u{i}"))
    await eventually(lambda: feed.overflowed)
    last = await anext(messages)
    assert last.event == "error"
    assert json.loads(str(last.data))["code"] == "slow_consumer"
    with pytest.raises(StopAsyncIteration):
        await anext(messages)


async def test_a_per_resource_feed_reads_only_its_subjects(bus: EventBus) -> None:
    feed = EventFeed(bus.fanout, ["llmforge.auth.user.registered"], lambda e: e.subject != "hidden")
    messages = feed.messages()
    start = await anext(messages)
    assert decode_position(str(start.id)) == {"LLMFORGE_AUTH": 0}
    await bus.publish(user_registered("hidden"))
    await bus.publish(user_registered("shown"))
    shown = await anext(messages)
    assert json.loads(str(shown.data))["subject"] == "shown"
    # The skipped event still moves the position: resuming will not read it again.
    assert decode_position(str(shown.id)) == {"LLMFORGE_AUTH": 2}
    await messages.aclose()


def test_positions_round_trip_and_reject_garbage() -> None:
    token = encode_position({"LLMFORGE_AUTH": 12, "LLMFORGE_WEBHOOKS": 3})
    assert token == "AUTH:12,WEBHOOKS:3"
    assert decode_position(token) == {"LLMFORGE_AUTH": 12, "LLMFORGE_WEBHOOKS": 3}
    for bad in ["", "AUTH", "AUTH:-1", "auth:1", "AUTH:1;DROP", "A:1\nB:2"]:
        with pytest.raises(InvalidPosition):
            decode_position(bad)
