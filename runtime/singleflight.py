"""Concurrent callers for one key share one call (Go's singleflight).

The per-process caches in front of the database (API keys, model aliases) expire every
few seconds; without this, a burst that arrives just after an entry expired sends every
one of its requests to the database for the same row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._calls: dict[K, asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._calls)

    async def run(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        """``call()``'s result, or that of the call already running for ``key``.

        Waiters get the leader's exception too. A leader that is cancelled (its client
        went away) cancels nothing else: its waiters run the call again themselves.
        """
        while True:
            pending = self._calls.get(key)
            if pending is None:
                return await self._lead(key, call)
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if not pending.cancelled() or (me is not None and me.cancelling()):
                    raise

    async def _lead(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._calls[key] = future
        try:
            value = await call()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._calls[key]
        future.set_result(value)
        return value
