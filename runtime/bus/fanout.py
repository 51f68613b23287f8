"""One JetStream reader per stream per process, fanned out to every local listener.

An open SSE feed used to hold its own ordered consumer over the streams it watched, so
200 open feeds meant every event crossed the NATS connection 200 times and was parsed
200 times by nats-py, on the event loop that also serves the API. Here each stream is
read once, by an ordered consumer that starts where the stream stood when its first
listener came, and each message is handed to the listeners whose patterns match it.

A listener learns, when it attaches, the last sequence it will *not* be given: every
later message reaches it live, and anything older (a client resuming from a
``Last-Event-ID``) it reads itself, up to that sequence. The reader stops with its last
listener, so a process nobody watches reads nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import msgspec
import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from events import STREAMS, Event, StreamSpec, decode_event
from events.streams import subject_matches

log = structlog.get_logger(__name__)


class Delivery:
    """One stored message, as every listener of its stream sees it.

    ``event()`` decodes it once for all of them: with 200 feeds open, one decode instead of
    200.
    """

    __slots__ = ("_decoded", "_event", "data", "seq", "stream", "subject")

    def __init__(self, stream: str, seq: int, subject: str, data: bytes) -> None:
        self.stream = stream
        self.seq = seq
        self.subject = subject
        self.data = data
        self._decoded = False
        self._event: Event | None = None

    def event(self) -> Event | None:
        """The decoded event, or None for a type this version does not know."""
        if not self._decoded:
            self._decoded = True
            try:
                self._event = decode_event(self.data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                self._event = None
        return self._event


class Listener(Protocol):
    def deliver(self, delivery: Delivery) -> None:
        """Called on the event loop for each matching message; must not block or await."""


@dataclass(slots=True)
class _Reader:
    stream: str
    subject: str
    position: int = 0  # the last sequence handed out (or the stream's end at start)
    sub: Subscription | None = None
    # pattern → listeners: a pattern many feeds share (``llmforge.>``) is matched once.
    by_pattern: dict[str, set[Listener]] = field(default_factory=dict)

    def listeners(self) -> int:
        return sum(len(group) for group in self.by_pattern.values())

    async def on_msg(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        self.position = seq
        delivery: Delivery | None = None
        seen: set[int] = set()
        for pattern, group in self.by_pattern.items():
            if not group or not subject_matches(pattern, msg.subject):
                continue
            if delivery is None:
                delivery = Delivery(self.stream, seq, msg.subject, msg.data)
            for listener in tuple(group):
                if id(listener) in seen:  # matched by two of its patterns: once is enough
                    continue
                seen.add(id(listener))
                try:
                    listener.deliver(delivery)
                except Exception:  # one broken listener must not starve the others
                    log.exception("fanout_listener_failed", stream=self.stream)


class FanOut:
    """The process's shared stream readers; ``EventBus.fanout`` holds the one to use."""

    def __init__(self, js: JetStreamContext, streams: Sequence[StreamSpec] = STREAMS) -> None:
        self.js = js
        self._stream_subjects = {spec.name: spec.subjects[0] for spec in streams}
        self._readers: dict[str, _Reader] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def reading(self) -> dict[str, int]:
        """Stream → listeners, for the streams read now (tests, metrics)."""
        return {name: reader.listeners() for name, reader in self._readers.items()}

    async def attach(self, stream: str, patterns: Sequence[str], listener: Listener) -> int:
        """Deliver ``stream``'s messages matching any of ``patterns`` to ``listener``, from
        the next one on; returns the last sequence it will not be given."""
        lock = self._locks.setdefault(stream, asyncio.Lock())
        async with lock:
            reader = self._readers.get(stream)
            if reader is None:
                reader = await self._start(stream)
                self._readers[stream] = reader
            # No await between reading the position and joining: no message slips between.
            for pattern in patterns:
                reader.by_pattern.setdefault(pattern, set()).add(listener)
            return reader.position

    async def detach(self, stream: str, listener: Listener) -> None:
        lock = self._locks.setdefault(stream, asyncio.Lock())
        async with lock:
            reader = self._readers.get(stream)
            if reader is None:
                return
            for pattern, group in list(reader.by_pattern.items()):
                group.discard(listener)
                if not group:
                    del reader.by_pattern[pattern]
            if reader.by_pattern:
                return
            del self._readers[stream]
            await self._stop(reader)

    async def close(self) -> None:
        readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            await self._stop(reader)

    async def _start(self, stream: str) -> _Reader:
        subject = self._stream_subjects.get(stream)
        if subject is None:
            raise ValueError(f"unknown stream {stream!r}")
        last = (await self.js.stream_info(stream)).state.last_seq
        reader = _Reader(stream, subject, position=last)
        # From one past the end seen just now: what is published meanwhile still arrives.
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=last + 1
        )
        reader.sub = await self.js.subscribe(
            subject, stream=stream, cb=reader.on_msg, ordered_consumer=True, config=config
        )
        log.debug("fanout_reader_started", stream=stream, position=last)
        return reader

    @staticmethod
    async def _stop(reader: _Reader) -> None:
        if reader.sub is not None:
            with contextlib.suppress(nats.errors.Error, OSError):
                await reader.sub.unsubscribe()
            reader.sub = None
