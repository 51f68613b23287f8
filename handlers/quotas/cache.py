"""A small in-process TTL cache for quota rows and monthly spend, dropped on change."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Entries live ``ttl`` seconds; ``forget`` drops them now.

    ``generation`` is bumped by every ``forget``: a lookup that began before one must not
    store what it read, since it may predate the change.
    """

    def __init__(
        self, ttl: float, *, max_size: int = 4096, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self.generation = 0

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: K, value: V, *, generation: int) -> None:
        if generation != self.generation or self.ttl <= 0:
            return
        entries = self._entries
        if len(entries) >= self.max_size and key not in entries:
            now = self._clock()
            for stale in [k for k, (deadline, _) in entries.items() if deadline <= now]:
                del entries[stale]
            while len(entries) >= self.max_size:
                del entries[next(iter(entries))]  # the oldest insertion
        entries[key] = (self._clock() + self.ttl, value)

    def forget(self, match: Callable[[K], bool] | None = None) -> None:
        """Drop the entries whose key matches (every entry without a predicate)."""
        self.generation += 1
        if match is None:
            self._entries.clear()
            return
        for key in [k for k in self._entries if match(k)]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
