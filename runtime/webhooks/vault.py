"""Signing secrets at rest: sealed with the platform keyring (AES-256-GCM, master key)."""

from __future__ import annotations

from functools import lru_cache

from runtime.security.crypto import Keyring
from runtime.security.master_key import load_keyring
from runtime.services import Services
from runtime.settings import Settings


@lru_cache(maxsize=8)
def _own_keyring(settings: Settings) -> Keyring:
    return load_keyring(settings)


def keyring_for(services: Services) -> Keyring:
    """The process's keyring; one loaded from the same keys where none was started."""
    shared = getattr(services, "keyring", None)
    return shared if isinstance(shared, Keyring) else _own_keyring(services.settings)


def seal(keyring: Keyring, secret: str) -> str:
    return keyring.encrypt(secret)


def unseal(keyring: Keyring, sealed: str) -> str:
    """Raises ``runtime.security.crypto.CryptoError`` when no known key opens it."""
    return keyring.decrypt(sealed)
