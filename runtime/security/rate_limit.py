"""Login rate limit shared by every replica, kept in a JetStream Key-Value bucket."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
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
    """Fixed-window counters per e-mail and per client IP.

    Replicas share nothing in memory, so the counters live in a KV bucket: each window is
    its own key (``email.<hash>.<window>``) and the bucket's max age drops old windows.
    Counting uses compare-and-set on the key's revision, so concurrent attempts on
    different replicas are all counted. E-mails and IPs are hashed: the bucket holds no
    personal data and IPv6 colons never meet the key alphabet.
    """

    def __init__(
        self,
        js: JetStreamContext,
        limits: LoginLimits,
        *,
        clock: Callable[[], float] = time.time,
        bucket: str = BUCKET,
    ) -> None:
        self._js = js
        self.limits = limits
        self._clock = clock
        self._bucket_name = bucket
        self._kv: KeyValue | None = None

    async def hit(self, email: str, client_ip: str | None) -> None:
        """Count one attempt; raise RateLimited when either counter is over its limit."""
        now = self._clock()
        window = int(now // self.limits.window_seconds)
        retry_after = max(1, math.ceil((window + 1) * self.limits.window_seconds - now))
        checks = [("email", _digest(email.strip().lower()), self.limits.per_email)]
        if client_ip:
            checks.append(("ip", _digest(client_ip), self.limits.per_ip))
        try:
            kv = await self._bucket()
            counts = await asyncio.gather(
                *(self._increment(kv, f"{scope}.{digest}.{window}") for scope, digest, _ in checks)
            )
        except Exception as exc:
            # Fail open: a broker outage must not lock every user out, and argon2's cost
            # still bounds guessing speed. The warning makes the gap visible.
            log.warning("login_rate_limit_unavailable", error=type(exc).__name__)
            return
        for (scope, _, limit), count in zip(checks, counts, strict=True):
            if count > limit:
                raise RateLimited(scope, retry_after)

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self._js.key_value(self._bucket_name)
            except BucketNotFoundError:
                # Two replicas may race here; creating an identical stream is idempotent.
                self._kv = await self._js.create_key_value(
                    KeyValueConfig(
                        bucket=self._bucket_name,
                        description="login attempt counters (fixed windows)",
                        history=1,
                        ttl=float(2 * self.limits.window_seconds),
                        # Counters are worth losing on a broker restart, not a disk write.
                        storage=StorageType.MEMORY,
                    )
                )
        return self._kv

    async def _increment(self, kv: KeyValue, key: str) -> int:
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
        # Constant contention on one key is itself a sign of an attack.
        return self.limits.per_email + self.limits.per_ip + 1


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]
