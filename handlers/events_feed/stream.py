"""A live event feed over SSE, read straight from JetStream: reusable by any resource.

Give it subjects and a visibility predicate. Per stream it opens an ordered ephemeral
consumer starting one past the resume position (or at the stream's end), so a client
that comes back with its last id sees every event once, in stream order. A client that
falls ``queue_size`` events behind is cut off with an ``error`` event; it resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

import anyio
import msgspec
import nats.errors
from litestar.response import ServerSentEventMessage
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from events import STREAMS, Event, StreamSpec, decode_event
from events.streams import subject_matches
from handlers.events_feed.position import encode_position
from runtime.bus import plan_bindings

Visible = Callable[[Event], bool]


def _error(code: str, detail: str) -> ServerSentEventMessage:
    return ServerSentEventMessage(event="error", data=json.dumps({"code": code, "detail": detail}))


class EventFeed:
    """One connection's feed; iterate ``messages()`` once."""

    def __init__(
        self,
        js: JetStreamContext,
        subjects: Sequence[str],
        visible: Visible,
        *,
        resume: Mapping[str, int] | None = None,
        heartbeat: float = 15.0,
        queue_size: int = 1000,
        streams: Sequence[StreamSpec] = STREAMS,
    ) -> None:
        self._js = js
        self._subjects = tuple(subjects)
        self._bindings = plan_bindings(subjects, streams)
        self._stream_subjects = {spec.name: spec.subjects[0] for spec in streams}
        self._visible = visible
        self._resume = dict(resume or {})
        self._heartbeat = heartbeat
        self._queue: asyncio.Queue[Msg] = asyncio.Queue(maxsize=queue_size)
        self._subs: list[Subscription] = []
        self.positions: dict[str, int] = {}
        self.overflowed = False

    async def _on_msg(self, msg: Msg) -> None:
        # Never wait here: a blocked callback would stall the shared NATS connection.
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.overflowed = True

    async def _open_one(self, stream: str, filters: tuple[str, ...]) -> None:
        if stream in self._resume:
            start = self._resume[stream] + 1
        else:
            start = (await self._js.stream_info(stream)).state.last_seq + 1
        self.positions[stream] = start - 1
        # Ordered consumers take one filter subject; with none or several, read the
        # whole stream and let the subject check in _message sort it out.
        subject = filters[0] if len(filters) == 1 else self._stream_subjects[stream]
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
        sub = await self._js.subscribe(
            subject,
            stream=stream,
            cb=self._on_msg,
            ordered_consumer=True,
            config=config,
        )
        self._subs.append(sub)

    async def open(self) -> str:
        """Subscribe everywhere; returns the starting position token."""
        # Let every subscribe finish before failing, so close() sees all of them.
        results = await asyncio.gather(
            *(self._open_one(b.stream, b.filters) for b in self._bindings),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return encode_position(self.positions)

    async def close(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        self._subs.clear()

    def _message(self, msg: Msg) -> ServerSentEventMessage | None:
        meta = msg.metadata
        self.positions[meta.stream] = meta.sequence.stream
        if not any(subject_matches(p, msg.subject) for p in self._subjects):
            return None
        try:
            event = decode_event(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None  # a type this version does not know: nobody here can judge it
        if not self._visible(event):
            return None
        return ServerSentEventMessage(
            id=encode_position(self.positions), event=event.type, data=msg.data.decode()
        )

    async def messages(self) -> AsyncIterator[ServerSentEventMessage]:
        """``ready`` (with the start id), then events, ``: ping`` comments when idle."""
        try:
            try:
                start = await self.open()
            except (nats.errors.Error, OSError) as exc:
                yield _error("bus_unavailable", f"cannot read the event streams: {exc!r}")
                return
            yield ServerSentEventMessage(event="ready", id=start, data=json.dumps({"id": start}))
            while True:
                if self.overflowed:
                    yield _error(
                        "slow_consumer",
                        "The client fell too far behind; reconnect with Last-Event-ID.",
                    )
                    return
                try:
                    msg = await asyncio.wait_for(self._queue.get(), self._heartbeat)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="ping")
                    continue
                message = self._message(msg)
                if message is not None:
                    yield message
        finally:
            # Shielded: this runs when the client went away and the task is cancelled.
            with anyio.CancelScope(shield=True):
                await self.close()
