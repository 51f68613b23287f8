"""Personal API keys: ``lf_`` plus 256 random bits, stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

API_KEY_PREFIX = "lf_"
# Enough to tell keys apart in a list, far too little to guess the rest.
DISPLAY_PREFIX_LENGTH = 12


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    key: str
    prefix: str
    key_hash: str

    def __repr__(self) -> str:
        # Keeps the clear key out of tracebacks and debug logs.
        return f"GeneratedKey(prefix={self.prefix!r})"


def generate_api_key() -> GeneratedKey:
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return GeneratedKey(key=key, prefix=display_prefix(key), key_hash=hash_api_key(key))


def hash_api_key(key: str) -> str:
    # SHA-256 suffices for a high-entropy key (no dictionary to attack) and keeps the
    # per-request check a single indexed lookup instead of a 100 ms argon2 verify.
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)
