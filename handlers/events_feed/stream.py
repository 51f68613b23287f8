"""A live event feed over SSE, read from JetStream: reusable by any resource.

Give it subjects and a visibility predicate. Live events come from the process's shared
stream readers (``EventBus.fanout``): one ordered consumer per stream, however many
feeds are open. A client that comes back with its last id first reads what it missed
straight from the stream (its own short-lived ordered consumer, up to where the shared
reader took over), then joins live: every event once, in stream order. A client that
falls ``queue_size`` events behind is cut off with an ``error`` event; it resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

import anyio
import nats.errors
import nats.js.errors
from litestar.response import ServerSentEventMessage
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy

from events import STREAMS, Event, StreamSpec
from events.streams import subject_matches
from handlers.events_feed.position import encode_position
from runtime.bus import Delivery, FanOut, plan_bindings
from runtime.sse import ping

Visible = Callable[[Event], bool]


def _error(code: str, detail: str) -> ServerSentEventMessage:
    return ServerSentEventMessage(event="error", data=json.dumps({"code": code, "detail": detail}))


class EventFeed:
    """One connection's feed; iterate ``messages()`` once."""

    def __init__(
        self,
        fanout: FanOut,
        subjects: Sequence[str],
        visible: Visible,
        *,
        resume: Mapping[str, int] | None = None,
        heartbeat: float = 15.0,
        queue_size: int = 1000,
        streams: Sequence[StreamSpec] = STREAMS,
    ) -> None:
        self._fanout = fanout
        self._subjects = tuple(subjects)
        self._bindings = plan_bindings(subjects, streams)
        self._stream_subjects = {spec.name: spec.subjects[0] for spec in streams}
        self._visible = visible
        self._resume = dict(resume or {})
        self._heartbeat = heartbeat
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=queue_size)
        self._attached: list[str] = []
        # (stream, subject, after, until): missed messages to read before the live ones.
        self._backlog: list[tuple[str, str, int, int]] = []
        self._catch_up_sub: Subscription | None = None
        self.positions: dict[str, int] = {}
        self.overflowed = False
        self._live = False  # set once the missed messages are all sent
        self._pending = 0  # queued by deliver() and not yet turned into a message

    def deliver(self, delivery: Delivery) -> None:
        # Called by the shared reader for every feed of the process: judge here, so only
        # what this client may see wakes its task, and never wait.
        if self.overflowed:
            return
        event = delivery.event()
        if event is None or not self._visible(event):
            # Nothing queued or being sent before it: the resume position can move past it
            # now, so a client that sees nothing for hours does not re-read it all on resume.
            if self._live and not self._pending:
                self._advance(delivery.stream, delivery.seq)
            return
        try:
            self._queue.put_nowait(delivery)
        except asyncio.QueueFull:
            self.overflowed = True
            return
        self._pending += 1

    def _advance(self, stream: str, seq: int) -> bool:
        """Move the stream's position to ``seq``; False when the client already has it."""
        if seq <= self.positions.get(stream, 0):
            return False
        self.positions[stream] = seq
        return True

    async def _open_one(self, stream: str, filters: tuple[str, ...]) -> None:
        subject = self._stream_subjects[stream]
        live_after = await self._fanout.attach(stream, filters or (subject,), self)
        self._attached.append(stream)
        resume = self._resume.get(stream)
        if resume is None:
            self.positions[stream] = live_after
            return
        self.positions[stream] = resume
        if resume < live_after:
            # One filter narrows the backlog read on the server; several read the stream.
            self._backlog.append(
                (stream, filters[0] if len(filters) == 1 else subject, resume, live_after)
            )

    async def open(self) -> str:
        """Join the live readers and plan the catch-up; returns the starting position."""
        # Let every attach finish before failing, so close() sees all of them.
        results = await asyncio.gather(
            *(self._open_one(b.stream, b.filters) for b in self._bindings),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        self._live = not self._backlog
        return encode_position(self.positions)

    async def close(self) -> None:
        if self._catch_up_sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._catch_up_sub.unsubscribe()
            self._catch_up_sub = None
        attached, self._attached = self._attached, []
        for stream in attached:
            await self._fanout.detach(stream, self)

    def _sse(self, delivery: Delivery, event: Event) -> ServerSentEventMessage:
        return ServerSentEventMessage(
            id=encode_position(self.positions), event=event.type, data=delivery.data.decode()
        )

    def _replayed(self, delivery: Delivery) -> ServerSentEventMessage | None:
        """A missed message read back from the stream: judged here, not by ``deliver``."""
        if not self._advance(delivery.stream, delivery.seq):
            return None
        if not any(subject_matches(p, delivery.subject) for p in self._subjects):
            return None
        event = delivery.event()
        if event is None or not self._visible(event):
            return None
        return self._sse(delivery, event)

    def _live_message(self, delivery: Delivery) -> ServerSentEventMessage | None:
        """A message ``deliver`` queued: its subject and visibility are already checked."""
        # A resumed client may be ahead of where the live reader joined: skip what it has.
        event = delivery.event()
        if event is None or not self._advance(delivery.stream, delivery.seq):
            return None
        return self._sse(delivery, event)

    async def _missed(
        self, stream: str, subject: str, after: int, until: int
    ) -> AsyncIterator[ServerSentEventMessage]:
        """Stored messages in (after, until] on ``subject``, then ``: ping``s while waiting."""
        js = self._fanout.js
        try:
            first = await js.get_msg(stream, seq=after + 1, subject=subject, next=True)
        except nats.js.errors.NotFoundError:
            return  # nothing on the subject since: the live reader has the rest
        if first.seq is None or first.seq > until:
            return
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first.seq
        )
        self._catch_up_sub = sub = await js.subscribe(
            subject, stream=stream, ordered_consumer=True, config=config
        )
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=self._heartbeat)
                except nats.errors.TimeoutError:
                    yield ping()
                    continue
                meta = msg.metadata
                seq = meta.sequence.stream
                if seq > until:
                    return
                message = self._replayed(Delivery(stream, seq, msg.subject, msg.data))
                if message is not None:
                    yield message
                if seq == until or not meta.num_pending:
                    return
        finally:
            self._catch_up_sub = None
            with anyio.CancelScope(shield=True), contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def messages(self) -> AsyncIterator[ServerSentEventMessage]:
        """``ready`` (with the start id), missed events, live events, ``: ping`` when idle."""
        try:
            try:
                start = await self.open()
            except (nats.errors.Error, OSError) as exc:
                yield _error("bus_unavailable", f"cannot read the event streams: {exc!r}")
                return
            yield ServerSentEventMessage(event="ready", id=start, data=json.dumps({"id": start}))
            try:
                for stream, subject, after, until in self._backlog:
                    async for message in self._missed(stream, subject, after, until):
                        yield message
            except (nats.errors.Error, OSError) as exc:
                yield _error("bus_unavailable", f"cannot read the missed events: {exc!r}")
                return
            self._live = True
            while True:
                if self.overflowed:
                    yield _error(
                        "slow_consumer",
                        "The client fell too far behind; reconnect with Last-Event-ID.",
                    )
                    return
                try:
                    # Not wait_for: that would start a task per message, for every open feed.
                    async with asyncio.timeout(self._heartbeat):
                        delivery = await self._queue.get()
                except TimeoutError:
                    yield ping()
                    continue
                live = self._live_message(delivery)
                self._pending -= 1
                if live is not None:
                    yield live
        finally:
            # Shielded: this runs when the client went away and the task is cancelled.
            with anyio.CancelScope(shield=True):
                await self.close()
