"""The event bus: one NATS connection, stream provisioning, publishing and readiness."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import PubAck

from events import STREAMS, Event, StreamSpec, encode_event
from runtime.bus.errors import BusUnavailable
from runtime.bus.fanout import FanOut
from runtime.bus.publisher import (
    Outgoing,
    ensure_connected,
    msg_id_headers,
    publish_one,
    publish_pipelined,
)
from runtime.bus.streams import ProvisionResult, provision_streams

log = structlog.get_logger(__name__)

ReconnectListener = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Readiness:
    """What /health/ready reports; truthy only when the bus can take traffic."""

    ok: bool
    connected: bool
    missing_streams: tuple[str, ...] = ()
    detail: str = "ok"

    def __bool__(self) -> bool:
        return self.ok


class EventBus:
    """Owns the process's NATS connection. ``nc`` and ``js`` are there for advanced use."""

    def __init__(self, nc: NATS, *, publish_timeout: float = 5.0) -> None:
        self._nc = nc
        self._js = nc.jetstream(timeout=publish_timeout)
        self.publish_timeout = publish_timeout
        self._expected_streams: tuple[str, ...] = tuple(spec.name for spec in STREAMS)
        self._reconnect_listeners: list[ReconnectListener] = []
        self._closing = False
        self._fanout: FanOut | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str = "llmforge",
        connect_timeout: float = 5.0,
        publish_timeout: float = 5.0,
        reconnect_wait: float = 1.0,
    ) -> EventBus:
        """Connect, or raise BusUnavailable if no server answers within ``connect_timeout``.

        Once connected the client reconnects forever: a restarted broker should never
        need a restarted process.
        """
        nc = NATS()
        bus = cls(nc, publish_timeout=publish_timeout)
        try:
            await asyncio.wait_for(
                nc.connect(
                    # A cluster is several URLs, comma-separated; the client also learns
                    # the other members from the server it reaches and fails over to them.
                    servers=[u.strip() for u in url.split(",") if u.strip()],
                    name=name,
                    connect_timeout=max(1, round(connect_timeout)),
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=reconnect_wait,  # type: ignore[arg-type]
                    error_cb=bus._on_error,
                    disconnected_cb=bus._on_disconnected,
                    reconnected_cb=bus._on_reconnected,
                ),
                timeout=connect_timeout,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            with contextlib.suppress(Exception):
                await nc.close()
            raise BusUnavailable(f"cannot connect to NATS at {url}: {exc!r}") from exc
        log.info("bus_connected", url=url, name=name)
        return bus

    @property
    def nc(self) -> NATS:
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        return self._js

    @property
    def fanout(self) -> FanOut:
        """The process's shared stream readers for live feeds (started on first use)."""
        if self._fanout is None:
            self._fanout = FanOut(self._js)
        return self._fanout

    @property
    def is_connected(self) -> bool:
        return bool(self._nc.is_connected)

    def add_reconnect_listener(self, listener: ReconnectListener) -> None:
        """Called after each reconnect, e.g. to re-issue pull requests the server forgot."""
        self._reconnect_listeners.append(listener)

    def remove_reconnect_listener(self, listener: ReconnectListener) -> None:
        with contextlib.suppress(ValueError):
            self._reconnect_listeners.remove(listener)

    async def provision(
        self, specs: Sequence[StreamSpec] = STREAMS, *, replicas: int = 1
    ) -> list[ProvisionResult]:
        """Create missing streams and update changed limits; safe to run on every start.

        ``replicas``: copies of each stream in a JetStream cluster (3 survives one node).
        """
        ensure_connected(self._nc)
        try:
            results = await provision_streams(self._js, specs, replicas=replicas)
        except (nats.errors.Error, OSError) as exc:
            raise BusUnavailable(f"stream provisioning failed: {exc!r}") from exc
        self._expected_streams = tuple(spec.name for spec in specs)
        return results

    async def publish(self, event: Event) -> PubAck:
        """Publish and wait for the stream's ack; ``ack.duplicate`` is True for a resend."""
        return await publish_one(self._nc, self._js, _outgoing(event), self.publish_timeout)

    async def publish_many(self, events: Iterable[Event]) -> list[PubAck]:
        """Pipeline every publish, then wait for all acks (returned in input order).

        On error some events may be stored and others not; publishing the same events
        again is safe, because their ids make the stored ones duplicates.
        """
        messages = [_outgoing(event) for event in events]
        if not messages:
            return []
        return await publish_pipelined(self._nc, self._js, messages, self.publish_timeout)

    async def publish_raw(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> PubAck:
        """Publish bytes that are not an Event (dead letters, replays, tests)."""
        all_headers = {**(headers or {}), **msg_id_headers(msg_id)}
        return await publish_one(
            self._nc, self._js, (subject, payload, all_headers), self.publish_timeout
        )

    async def ready(self, timeout: float = 2.0) -> Readiness:  # noqa: ASYNC109
        if not self._nc.is_connected:
            return Readiness(False, False, self._expected_streams, "not connected to NATS")
        try:
            reply = await self._nc.request(
                "$JS.API.STREAM.NAMES", json.dumps({"offset": 0}).encode(), timeout=timeout
            )
            body = json.loads(reply.data)
        except (nats.errors.Error, OSError, ValueError) as exc:
            return Readiness(False, True, (), f"JetStream not answering: {exc!r}")
        if "error" in body:
            return Readiness(False, True, (), f"JetStream error: {body['error']}")
        present = set(body.get("streams") or [])
        missing = tuple(name for name in self._expected_streams if name not in present)
        if missing:
            return Readiness(False, True, missing, f"missing streams: {', '.join(missing)}")
        return Readiness(True, True)

    async def close(self) -> None:
        """Drain: flush what was published and let subscriptions finish, then close."""
        if self._nc.is_closed:
            return
        self._closing = True
        if self._fanout is not None:
            await self._fanout.close()
        try:
            if self._nc.is_connected:
                await self._nc.drain()
            else:
                await self._nc.close()
        except (nats.errors.Error, OSError) as exc:
            log.warning("bus_close_failed", error=repr(exc))
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def _on_error(self, exc: Exception) -> None:
        log.warning("nats_error", error=repr(exc))

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("nats_disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats_reconnected", url=str(self._nc.connected_url))
        for listener in list(self._reconnect_listeners):
            try:
                await listener()
            except Exception:
                log.exception("reconnect_listener_failed")


def _outgoing(event: Event) -> Outgoing:
    return event.nats_subject, encode_event(event), msg_id_headers(event.id)
