"""Keeps pull requests outstanding on one durable, so messages stream in as they land.

``fetch()`` in nats-py holds a lingering request until the whole batch is filled or it
expires, which adds up to the fetch timeout to each message's latency at low rates.
Instead, like nats.go's ``Consume``, requests stay open and messages are handed over
one by one as they arrive; new requests top the window up as deliveries are settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable

import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

log = structlog.get_logger(__name__)

_NS = 1_000_000_000
_HEARTBEAT = "100"
# Statuses that end a pull request; the pending header says how much it still owed.
_REQUEST_ENDED = frozenset({"404", "408", "409"})


class Puller:
    """Flow control for one (stream, durable): at most ``window`` messages requested or held."""

    def __init__(
        self,
        nc: NATS,
        *,
        stream: str,
        durable: str,
        window: int,
        deliver: Callable[[Msg, Puller], None],
        repair: Callable[[], Awaitable[None]],
        expires: float = 30.0,
        idle_heartbeat: float = 5.0,
    ) -> None:
        self.stream = stream
        self.durable = durable
        self._nc = nc
        self._window = window
        self._refill = max(1, window // 2)
        self._deliver = deliver
        self._repair = repair
        self._expires = expires
        self._idle_heartbeat = idle_heartbeat
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = ""
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._pending = 0  # requested from the server, not yet received
        self._held = 0  # received, not yet settled
        self._last_seen = time.monotonic()
        self._broken = False
        self._stopped = False

    async def start(self) -> None:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)
        self._task = asyncio.create_task(self._run(), name=f"pull:{self.stream}:{self.durable}")

    async def stop(self) -> None:
        """Stop asking; dropping the inbox makes the server discard open requests."""
        self._stopped = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()

    def release(self, count: int = 1) -> None:
        self._held = max(0, self._held - count)
        self._wake.set()

    def reset(self) -> None:
        # After a reconnect the server has forgotten our open requests.
        self._pending = 0
        self._wake.set()

    async def _on_msg(self, msg: Msg) -> None:
        self._last_seen = time.monotonic()
        status = msg.headers.get("Status") if msg.headers else None
        if not status:
            self._pending = max(0, self._pending - 1)
            if self._stopped:
                # Arrived after stop: hand it straight back rather than wait for ack_wait.
                with contextlib.suppress(nats.errors.Error):
                    await msg.nak()
                return
            self._held += 1
            self._deliver(msg, self)
            return
        if status == _HEARTBEAT:
            return
        assert msg.headers is not None
        description = msg.headers.get("Description", "")
        if status in _REQUEST_ENDED:
            owed = msg.headers.get("Nats-Pending-Messages")
            self._pending = max(0, self._pending - int(owed)) if owed else 0
            if "Consumer Deleted" in description:
                self._broken = True
            elif status == "409" and "Leadership Change" not in description:
                log.warning("pull_refused", stream=self.stream, reason=description)
        else:
            # 503 no responders: the durable or its stream is gone.
            log.warning("pull_unanswered", stream=self.stream, status=status)
            self._pending = 0
            self._broken = True
        self._wake.set()

    async def _run(self) -> None:
        stale_after = 2 * self._idle_heartbeat + 1.0
        while not self._stopped:
            self._wake.clear()
            if self._broken:
                await self._recover()
                continue
            free = self._window - self._pending - self._held
            if free > 0 and (self._pending == 0 or free >= self._refill):
                await self._request(free)
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel
                # that lands as the wait completes, and stop() would hang on this task.
                async with asyncio.timeout(self._idle_heartbeat):
                    await self._wake.wait()
            except TimeoutError:
                # Open requests send heartbeats; silence means the server lost them.
                if self._pending and time.monotonic() - self._last_seen > stale_after:
                    log.info("pull_requests_lost", stream=self.stream, durable=self.durable)
                    self._pending = 0

    async def _request(self, batch: int) -> None:
        body = {
            "batch": batch,
            "expires": int(self._expires * _NS),
            "idle_heartbeat": int(self._idle_heartbeat * _NS),
        }
        try:
            await self._nc.publish(self._next_subject, json.dumps(body).encode(), self._inbox)
        except (nats.errors.Error, OSError) as exc:
            log.warning("pull_request_failed", stream=self.stream, error=repr(exc))
            await asyncio.sleep(self._idle_heartbeat)
            return
        self._pending += batch
        self._last_seen = time.monotonic()

    async def _recover(self) -> None:
        await asyncio.sleep(1.0)
        try:
            await self._repair()
        except Exception as exc:
            log.warning("durable_repair_failed", stream=self.stream, error=repr(exc))
            return
        self._broken = False
        self._pending = 0
