"""Password hashing with argon2id, run off the event loop."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """argon2id cost parameters; the defaults are argon2-cffi's (RFC 9106 low-memory)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4


class Passwords:
    """Hash and verify passwords; each call takes ~100 ms of CPU at the default cost.

    The work runs in asyncio's default executor rather than anyio's 40-thread limiter:
    that pool is sized to the cores, which bounds how much memory (64 MiB per hash)
    a burst of logins can claim.
    """

    def __init__(self, params: Argon2Params | None = None) -> None:
        self.params = params or Argon2Params()
        self._hasher = PasswordHasher(
            time_cost=self.params.time_cost,
            memory_cost=self.params.memory_kib,
            parallelism=self.params.parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify_sync, password_hash, password)

    async def verify_dummy(self, password: str) -> bool:
        """Spend the same time as a real verify when there is no account to check.

        Without it an unknown e-mail answers in microseconds and a known one in ~100 ms,
        which tells an attacker which accounts exist. Always returns False.
        """
        await self.verify(await self.dummy_hash(), password)
        return False

    async def dummy_hash(self) -> str:
        # Same parameters as real hashes, so verifying it costs the same.
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than ours (cheap, no hashing)."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            # VerifyMismatchError is a VerificationError; a corrupt stored hash is a miss too.
            return False


@lru_cache(maxsize=8)
def get_passwords(params: Argon2Params) -> Passwords:
    """One hasher per parameter set per process, so the dummy hash is computed once."""
    return Passwords(params)
