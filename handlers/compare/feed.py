"""A batch's progress over SSE, read from its JetStream subject with the shared event feed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import cast

from litestar.response import ServerSentEventMessage

from events import Event, stream_for_subject
from events.compare import CompareBatchCompleted
from handlers.auth import CurrentUser
from handlers.events_feed import EventFeed, can_see, decode_position
from runtime.bus import EventBus
from runtime.settings import Settings

_COMPLETED = str(CompareBatchCompleted.__struct_config__.tag)


def batch_subject(batch_id: str) -> str:
    return CompareBatchCompleted.SUBJECT.format(subject=batch_id).rsplit(".", 1)[0] + ".>"


def batch_feed(
    bus: EventBus,
    settings: Settings,
    user: CurrentUser,
    batch_id: str,
    resume_token: str | None,
    *,
    backlog: int,
) -> EventFeed:
    """The batch's events from its first, or after ``resume_token`` (``Last-Event-ID``).

    ``backlog``: how many events the batch publishes in all (one per answer, plus two).
    Raises ``InvalidPosition`` for a token the feed did not write.
    """
    subject = batch_subject(batch_id)
    # From the stream's start, not its end: a client arriving late still sees everything.
    start = decode_position(resume_token) if resume_token else {stream_for_subject(subject).name: 0}

    def visible(event: Event) -> bool:
        return can_see(user, event)

    return EventFeed(
        bus.fanout,
        [subject],
        visible,
        resume=start,
        heartbeat=settings.event_feed.heartbeat_seconds,
        # A replay from the start is the whole batch at once: room for all of it, so a
        # late client is not cut off as slow before it has caught up.
        queue_size=max(settings.event_feed.queue_size, backlog + 16),
    )


async def until_completed(feed: EventFeed) -> AsyncIterator[ServerSentEventMessage]:
    """The feed's messages, ending after the batch's ``completed`` event."""
    # messages() is an async generator: close it here so its subscriptions end now.
    messages = cast("AsyncGenerator[ServerSentEventMessage, None]", feed.messages())
    async with aclosing(messages):
        async for message in messages:
            yield message
            if message.event == _COMPLETED:
                return
