"""Fixed-window counters shared by every replica, kept in JetStream Key-Value buckets.

The login limiter and the request quotas both count with ``FixedWindowCounter``. The login
limiter weighs in the previous window too (a sliding-window estimate), so a burst that
straddles a window boundary gets no double allowance.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = structlog.get_logger(__name__)

BUCKET = "llmforge_login_attempts"
# Optimistic-concurrency retries when many replicas bump the same counter at once.
_MAX_CAS_RETRIES = 16


@dataclass(frozen=True, slots=True)
class Window:
    """One fixed window, ``[index * seconds, (index + 1) * seconds)``, seen at ``now``."""

    index: int
    seconds: int
    now: float

    @classmethod
    def at(cls, now: float, seconds: int) -> Window:
        return cls(index=int(now // seconds), seconds=seconds, now=now)

    @property
    def start(self) -> float:
        return float(self.index * self.seconds)

    @property
    def end(self) -> float:
        return float((self.index + 1) * self.seconds)

    @property
    def retry_after(self) -> int:
        """Whole seconds until the next window opens; at least 1 (``Retry-After`` is > 0)."""
        return max(1, math.ceil(self.end - self.now))


class SharedBucket:
    """A KV bucket created on first use; two replicas racing to create it is harmless."""

    def __init__(
        self,
        js: JetStreamContext,
        name: str,
        *,
        description: str,
        ttl_seconds: float,
        storage: StorageType = StorageType.MEMORY,
    ) -> None:
        self._js = js
        self.name = name
        self._config = KeyValueConfig(
            bucket=name, description=description, history=1, ttl=ttl_seconds, storage=storage
        )
        self._kv: KeyValue | None = None

    async def kv(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self._js.key_value(self.name)
            except BucketNotFoundError:
                # Creating an identical stream twice is idempotent.
                self._kv = await self._js.create_key_value(self._config)
        return self._kv

    async def increment(self, key: str) -> int | None:
        """Add one to the counter at ``key``; None when contention never let a write through.

        Compare-and-set on the key's revision, so concurrent hits on different replicas
        are all counted.
        """
        kv = await self.kv()
        for _ in range(_MAX_CAS_RETRIES):
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                try:
                    await kv.create(key, b"1")
                except KeyWrongLastSequenceError:
                    continue
                return 1
            count = int(entry.value or b"0") + 1
            try:
                await kv.update(key, str(count).encode(), last=entry.revision)
            except KeyWrongLastSequenceError:
                continue
            return count
        return None

    async def value(self, key: str) -> int:
        """The counter at ``key``; 0 when it was never hit or has expired."""
        kv = await self.kv()
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return 0
        return int(entry.value or b"0")

    async def mark_once(self, key: str) -> bool:
        """True for the one caller, across replicas, that first marks ``key``."""
        kv = await self.kv()
        try:
            await kv.create(key, b"1")
        except KeyWrongLastSequenceError:
            return False
        return True


class FixedWindowCounter:
    """Counters per name and fixed window, in a bucket whose max age drops old windows.

    Each window is its own key (``<name>.<window index>``), so nothing ever resets a
    counter: the next window simply starts at a new key.
    """

    def __init__(
        self,
        js: JetStreamContext,
        *,
        bucket: str,
        window_seconds: int,
        description: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_seconds = window_seconds
        self.clock = clock
        # Counters are worth losing on a broker restart, not a disk write.
        self.bucket = SharedBucket(
            js, bucket, description=description, ttl_seconds=float(2 * window_seconds)
        )

    def window(self) -> Window:
        return Window.at(self.clock(), self.window_seconds)

    async def hit(self, names: Sequence[str], window: Window) -> list[int | None]:
        """Count one hit on each name in ``window``; its new count, None if contended."""
        return list(
            await asyncio.gather(
                *(self.bucket.increment(f"{name}.{window.index}") for name in names)
            )
        )

    async def previous(self, names: Sequence[str], window: Window) -> list[int]:
        """Each name's final count in the window before ``window``."""
        return list(
            await asyncio.gather(
                *(self.bucket.value(f"{name}.{window.index - 1}") for name in names)
            )
        )

    async def mark_once(self, name: str, window: Window) -> bool:
        """True the first time ``name`` is marked in ``window`` (e.g. to notify once)."""
        return await self.bucket.mark_once(f"{name}.{window.index}")


class RateLimited(Exception):
    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"too many login attempts ({scope})")
        self.scope = scope
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_email: int
    per_ip: int
    window_seconds: int = 60


class LoginRateLimiter:
    """Sliding-window estimates per e-mail and per client IP.

    The estimate is this window's count plus the previous window's, weighted by how much
    of it still lies within the last ``window_seconds``. Plain fixed windows would let a
    guesser spend a full allowance just before a boundary and another just after it.

    Replicas share nothing in memory, so the counters live in a KV bucket. E-mails and
    IPs are hashed: the bucket holds no personal data and IPv6 colons never meet the key
    alphabet.
    """

    def __init__(
        self,
        js: JetStreamContext,
        limits: LoginLimits,
        *,
        clock: Callable[[], float] = time.time,
        bucket: str = BUCKET,
    ) -> None:
        self.limits = limits
        self._counter = FixedWindowCounter(
            js,
            bucket=bucket,
            window_seconds=limits.window_seconds,
            description="login attempt counters (fixed windows)",
            clock=clock,
        )

    async def hit(self, email: str, client_ip: str | None) -> None:
        """Count one attempt; raise RateLimited when either counter is over its limit."""
        window = self._counter.window()
        checks = [("email", _digest(email.strip().lower()), self.limits.per_email)]
        if client_ip:
            checks.append(("ip", _digest(client_ip), self.limits.per_ip))
        names = [f"{scope}.{digest}" for scope, digest, _ in checks]
        try:
            counts, previous = await asyncio.gather(
                self._counter.hit(names, window), self._counter.previous(names, window)
            )
        except Exception as exc:
            # Fail open: a broker outage must not lock every user out, and argon2's cost
            # still bounds guessing speed. The warning makes the gap visible.
            log.warning("login_rate_limit_unavailable", error=type(exc).__name__)
            return
        for (scope, _, limit), count, before in zip(checks, counts, previous, strict=True):
            # Constant contention on one key is itself a sign of an attack.
            if count is None:
                raise RateLimited(scope, window.retry_after)
            if sliding_estimate(count, before, window) > limit:
                raise RateLimited(scope, seconds_until_allowed(count, before, limit, window))


def sliding_estimate(current: int, previous: int, window: Window) -> float:
    """Hits in the last ``window.seconds``, assuming the previous window's were spread evenly."""
    elapsed = (window.now - window.start) / window.seconds
    return current + previous * (1.0 - elapsed)


def seconds_until_allowed(current: int, previous: int, limit: int, window: Window) -> int:
    """Whole seconds until one more hit would stay within ``limit`` (``Retry-After``)."""
    room = limit - current - 1  # what the previous window's weight may still add
    if room >= 0:
        # previous * (1 - f) <= room, f being the elapsed fraction of this window.
        at = window.start + window.seconds * (1.0 - room / previous) if previous else window.now
    else:
        # Not in this window: in the next one this window's count is the weighted one.
        at = window.end + window.seconds * max(0.0, 1.0 - (limit - 1) / current)
    return max(1, math.ceil(at - window.now))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]
