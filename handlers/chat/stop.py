"""Stop a generation from any replica: a core-NATS request on the session's stop subject.

The replica streaming a turn subscribes to its session's subject for the turn's duration
and answers with the turn id; the stop route, wherever it runs, learns from the reply (or
from NATS's "no responders") whether anything was running. The subject is deliberately
outside ``llmforge.>``: the domain streams capture every message published under their
subjects, core NATS included, and a stop signal must not be persisted or audited.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import anyio
import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from runtime.bus import BusUnavailable
from runtime.bus.barrier import server_caught_up

log = structlog.get_logger(__name__)

STOP_SUBJECT_ROOT = "llmforge_ctl.chat.session"
STOP_REPLY_TIMEOUT = 1.0


def stop_subject(session_id: str) -> str:
    return f"{STOP_SUBJECT_ROOT}.{session_id}.stop"


class StopListener:
    """Subscribed while one turn streams; ``on_stop`` runs when anyone asks it to stop."""

    def __init__(self, nc: NATS, session_id: str, turn_id: str, on_stop: Callable[[], None]):
        self._nc = nc
        self._subject = stop_subject(session_id)
        self._turn_id = turn_id
        self._on_stop = on_stop
        self._sub: Subscription | None = None

    async def _handle(self, msg: Msg) -> None:
        self._on_stop()
        if msg.reply:
            with contextlib.suppress(nats.errors.Error):
                await msg.respond(self._turn_id.encode())

    async def open(self) -> None:
        try:
            self._sub = await self._nc.subscribe(self._subject, cb=self._handle)
            # The round trip makes the server know the subscription before the client
            # learns the turn started, so an immediate stop cannot miss it (not flush():
            # its PING can overtake the SUB, see runtime/bus/barrier.py).
            async with asyncio.timeout(2):
                await server_caught_up(self._nc)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            # Streaming still works; only a stop from elsewhere cannot reach this turn.
            log.warning("chat_stop_subscribe_failed", subject=self._subject, error=repr(exc))

    async def close(self) -> None:
        if self._sub is None:
            return
        sub, self._sub = self._sub, None
        with anyio.CancelScope(shield=True), contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()


async def request_stop(nc: NATS, session_id: str) -> str | None:
    """The id of a turn that was told to stop, or None when none of the session runs."""
    if not nc.is_connected:
        # While reconnecting, a request waits out its timeout and reads as "nothing runs".
        raise BusUnavailable("NATS is disconnected (reconnecting)")
    try:
        reply = await nc.request(stop_subject(session_id), b"", timeout=STOP_REPLY_TIMEOUT)
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
        return None
    except (nats.errors.Error, OSError) as exc:
        raise BusUnavailable(f"cannot send the stop signal: {exc!r}") from exc
    return reply.data.decode() or None
