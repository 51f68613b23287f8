"""Publishing to JetStream with acks, single or pipelined, and error translation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import nats.errors
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import Header, PubAck
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError

from runtime.bus.errors import BusError, BusUnavailable, PublishRejected

# Messages in flight per round of acks: well under nats-py's limit of 4,000 pending
# async publishes, so sending never blocks on it.
_CHUNK = 1000

# (subject, payload, headers) for one message.
Outgoing = tuple[str, bytes, dict[str, str]]


def msg_id_headers(msg_id: str | None) -> dict[str, str]:
    # JetStream drops a second message with the same id inside the duplicate window,
    # which is what makes a retried publish safe.
    return {Header.MSG_ID.value: msg_id} if msg_id else {}


def translate(exc: BaseException, subject: str) -> BusError:
    """Map a nats-py failure onto the two errors callers handle."""
    if isinstance(exc, BusError):
        return exc
    if isinstance(exc, NoStreamResponseError):
        return BusUnavailable(f"no JetStream stream answered for {subject!r}")
    if isinstance(exc, ServiceUnavailableError):
        return BusUnavailable(f"JetStream unavailable: {exc}")
    if isinstance(exc, APIError):
        return PublishRejected(f"JetStream refused {subject!r}: {exc.description or exc}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return BusUnavailable(f"no publish ack for {subject!r} in time")
    if isinstance(exc, nats.errors.Error | OSError):
        return BusUnavailable(f"NATS unreachable publishing {subject!r}: {exc!r}")
    raise exc


def ensure_connected(nc: NATS) -> None:
    # Fail fast instead of buffering behind a reconnect: a caller waiting on an HTTP
    # request wants a quick 503, not a publish that stalls until the timeout.
    if nc.is_closed:
        raise BusUnavailable("the NATS connection is closed")
    if not nc.is_connected:
        raise BusUnavailable("NATS is disconnected (reconnecting)")


async def publish_one(
    nc: NATS, js: JetStreamContext, message: Outgoing, ack_timeout: float
) -> PubAck:
    subject, payload, headers = message
    ensure_connected(nc)
    try:
        return await js.publish(subject, payload, timeout=ack_timeout, headers=headers)
    except (TimeoutError, nats.errors.Error, OSError) as exc:
        raise translate(exc, subject) from exc


async def publish_pipelined(
    nc: NATS, js: JetStreamContext, messages: Sequence[Outgoing], stall_timeout: float
) -> list[PubAck]:
    """Send a chunk without waiting, collect its acks, repeat; acks come back in order.

    ``stall_timeout`` bounds each wait for progress, not the whole batch, so a large
    batch is not failed merely for being large.
    """
    ensure_connected(nc)
    futures: list[asyncio.Future[PubAck]] = []
    subject = ""
    try:
        for start in range(0, len(messages), _CHUNK):
            chunk_futures: list[asyncio.Future[PubAck]] = []
            # No wait_stall: with it nats-py wraps every send in a task, which yields
            # to the loop per message and turns one socket write per chunk into one
            # per message. The timeout below bounds the whole chunk instead.
            async with asyncio.timeout(stall_timeout):
                for subject, payload, headers in messages[start : start + _CHUNK]:
                    chunk_futures.append(await js.publish_async(subject, payload, headers=headers))
            futures.extend(chunk_futures)
            waiting: set[asyncio.Future[PubAck]] = set(chunk_futures)
            while waiting:
                done, waiting = await asyncio.wait(waiting, timeout=stall_timeout)
                if not done:
                    raise BusUnavailable(f"{len(waiting)} publish acks stalled; NATS unreachable?")
    except (TimeoutError, nats.errors.Error, OSError) as exc:
        raise translate(exc, subject) from exc
    finally:
        for future in futures:
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                # Read every exception so asyncio never warns about one left unretrieved.
                future.exception()
    acks: list[PubAck] = []
    first_error: BaseException | None = None
    for future, (subject, _payload, _headers) in zip(futures, messages, strict=True):
        error = future.exception()
        if error is None:
            acks.append(future.result())
        elif first_error is None:
            first_error = translate(error, subject)
    if first_error is not None:
        raise first_error
    return acks
