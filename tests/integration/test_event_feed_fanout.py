"""Feeds share one stream reader per process; a resumed feed catches up, then joins live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from litestar.response import ServerSentEventMessage

from events import encode_event
from handlers.events_feed import EventFeed, decode_position
from runtime.bus import Delivery, EventBus
from tests.fixtures.nats import eventually, user_registered

AUTH = "LLMFORGE_AUTH"


async def next_event(messages: AsyncIterator[ServerSentEventMessage]) -> ServerSentEventMessage:
    """The next message that is an event, not a ``: ping``."""
    async with asyncio.timeout(5):
        while True:
            message = await anext(messages)
            if message.event is not None:
                return message


def subject_of(message: ServerSentEventMessage) -> str:
    return str(json.loads(str(message.data))["subject"])


async def test_many_feeds_share_one_consumer_and_the_reader_stops_with_the_last(
    bus: EventBus,
) -> None:
    feeds = [EventFeed(bus.fanout, ["llmforge.auth.>"], lambda _: True) for _ in range(5)]
    streams = [feed.messages() for feed in feeds]
    for messages in streams:
        assert (await anext(messages)).event == "ready"
    assert bus.fanout.reading() == {AUTH: 5}
    info = await bus.js.stream_info(AUTH)
    assert info.state.consumer_count == 1

    await bus.publish(user_registered("everyone"))
    for messages in streams:
        assert subject_of(await next_event(messages)) == "everyone"

    for messages in streams:
        await messages.aclose()
    assert bus.fanout.reading() == {}


async def test_a_narrow_feed_is_given_only_its_subjects(bus: EventBus) -> None:
    wide = EventFeed(bus.fanout, ["llmforge.auth.>"], lambda _: True).messages()
    narrow = EventFeed(bus.fanout, ["llmforge.auth.user.disabled"], lambda _: True)
    narrow_messages = narrow.messages()
    await anext(wide)
    await anext(narrow_messages)
    await bus.publish(user_registered("u1"))
    assert subject_of(await next_event(wide)) == "u1"
    # Not a subject the narrow feed asked for: it never reaches its queue.
    await asyncio.sleep(0.05)
    assert narrow._queue.empty()
    await wide.aclose()
    await narrow_messages.aclose()


async def test_a_resumed_feed_reads_what_it_missed_then_live_once_each_in_order(
    bus: EventBus,
) -> None:
    # A live feed keeps the shared reader running, so the resumed one must catch up.
    keeper = EventFeed(bus.fanout, ["llmforge.auth.>"], lambda _: True).messages()
    await anext(keeper)
    first = EventFeed(bus.fanout, ["llmforge.auth.>"], lambda _: True).messages()
    await anext(first)
    for i in range(3):
        await bus.publish(user_registered(f"old{i}"))
    token = str((await next_event(first)).id)  # the client saw old0, then went away
    await first.aclose()
    for i in range(3):
        await bus.publish(user_registered(f"gone{i}"))
    await eventually(lambda: bus.fanout.reading() == {AUTH: 1})

    resumed = EventFeed(
        bus.fanout, ["llmforge.auth.>"], lambda _: True, resume=decode_position(token)
    )
    messages = resumed.messages()
    assert (await anext(messages)).event == "ready"
    # Published while it reads its backlog: must come once, after the backlog.
    publishing = asyncio.create_task(bus.publish(user_registered("live0")))
    seen = [subject_of(await next_event(messages)) for _ in range(6)]
    await publishing
    await bus.publish(user_registered("live1"))
    seen.append(subject_of(await next_event(messages)))
    assert seen == ["old1", "old2", "gone0", "gone1", "gone2", "live0", "live1"]
    await messages.aclose()
    await keeper.aclose()


async def test_a_resume_with_nothing_missed_on_its_subject_goes_straight_to_live(
    bus: EventBus,
) -> None:
    await bus.publish(user_registered("before"))
    feed = EventFeed(bus.fanout, ["llmforge.auth.user.disabled"], lambda _: True, resume={AUTH: 0})
    messages = feed.messages()
    ready = await anext(messages)
    assert decode_position(str(ready.id)) == {AUTH: 0}
    # No stored message on the subject: the catch-up ends without waiting for one.
    assert feed._backlog == [(AUTH, "llmforge.auth.user.disabled", 0, 1)]
    wide = EventFeed(bus.fanout, ["llmforge.auth.>"], lambda _: True, resume={AUTH: 0})
    wide_messages = wide.messages()
    await anext(wide_messages)
    assert subject_of(await next_event(wide_messages)) == "before"
    await messages.aclose()
    await wide_messages.aclose()


async def test_a_client_ahead_of_the_reader_is_not_sent_what_it_has(bus: EventBus) -> None:
    await bus.publish(user_registered("a"))
    await bus.publish(user_registered("b"))
    # Claims to have seen up to 3 (say, a stream re-created since): nothing at or below.
    feed = EventFeed(bus.fanout, ["llmforge.auth.>"], lambda _: True, resume={AUTH: 3})
    messages = feed.messages()
    await anext(messages)
    for name in ("c", "d", "e"):
        await bus.publish(user_registered(name))
    message = await next_event(messages)
    assert subject_of(message) == "d"
    assert decode_position(str(message.id)) == {AUTH: 4}
    await messages.aclose()


async def test_events_a_client_may_not_see_still_move_its_resume_position(bus: EventBus) -> None:
    feed = EventFeed(bus.fanout, ["llmforge.auth.>"], lambda e: e.subject != "hidden")
    messages = feed.messages()
    await anext(messages)
    await bus.publish(user_registered("hidden"))
    await bus.publish(user_registered("hidden"))
    # Nothing was waiting to be sent: a resume from here need not read them back.
    await eventually(lambda: feed.positions == {AUTH: 2})
    assert feed._queue.empty()
    await bus.publish(user_registered("shown"))
    message = await next_event(messages)
    assert decode_position(str(message.id)) == {AUTH: 3}
    await messages.aclose()


async def test_an_invisible_event_right_after_a_visible_one_does_not_hide_it(
    bus: EventBus,
) -> None:
    feed = EventFeed(bus.fanout, ["llmforge.auth.>"], lambda e: e.subject != "hidden")
    messages = feed.messages()
    await anext(messages)
    waiting = asyncio.create_task(next_event(messages))
    await asyncio.sleep(0.05)  # the feed now waits on its queue

    def delivery(seq: int, name: str) -> Delivery:
        subject = f"llmforge.auth.user.{name}.registered"
        return Delivery(AUTH, seq, subject, encode_event(user_registered(name)))

    feed.deliver(delivery(1, "shown"))
    await asyncio.sleep(0)  # the waiting get takes it; the message is not made yet
    feed.deliver(delivery(2, "hidden"))
    message = await waiting
    assert subject_of(message) == "shown"
    assert decode_position(str(message.id)) == {AUTH: 1}
    await messages.aclose()
