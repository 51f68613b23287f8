"""Encryption at rest: AES-256-GCM under a master key; ciphertexts name their key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
KEY_BYTES = 32
_NONCE_BYTES = 12


class CryptoError(Exception):
    """A bad master key, or a value no known key can decrypt."""


class MasterKey:
    """32 random bytes; ``key_id`` names it inside every ciphertext it makes."""

    __slots__ = ("_aead", "key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise CryptoError(f"a master key is {KEY_BYTES} bytes, got {len(key)}")
        self.key = key
        # A hash, not a prefix of the key: the id is stored beside every ciphertext.
        self.key_id = hashlib.sha256(b"llmforge-master-key:" + key).hexdigest()[:12]
        self._aead = AESGCM(key)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_b64(cls, text: str) -> MasterKey:
        raw = text.strip()
        try:
            key = base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_") + "==")
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("the master key is not valid base64") from exc
        return cls(key)

    def to_b64(self) -> str:
        return base64.b64encode(self.key).decode()

    def __repr__(self) -> str:  # never the key itself, even in a traceback
        return f"MasterKey(id={self.key_id})"


def _aad(key_id: str) -> bytes:
    # Binds version and key id to the ciphertext: relabelling it breaks the tag.
    return f"{VERSION}:{key_id}".encode()


class Keyring:
    """Encrypts under the primary key; decrypts under any key it knows.

    ``reload`` (file-backed keys) re-reads the key files when a value names an unknown
    key, so a running process keeps working after ``llmforge keys rotate``.
    """

    def __init__(
        self,
        primary: MasterKey,
        previous: Iterable[MasterKey] = (),
        *,
        reload: Callable[[], tuple[MasterKey, list[MasterKey]]] | None = None,
    ) -> None:
        self._reload = reload
        self._set(primary, list(previous))

    def _set(self, primary: MasterKey, previous: list[MasterKey]) -> None:
        self.primary = primary
        self._keys = {k.key_id: k for k in previous}
        self._keys[primary.key_id] = primary

    @property
    def key_ids(self) -> set[str]:
        return set(self._keys)

    def refresh(self) -> None:
        if self._reload is not None:
            self._set(*self._reload())

    def encrypt(self, plaintext: str) -> str:
        # Encrypting is rare (a key is saved), so re-reading the key files is cheap, and
        # a process never seals a new value under a key that a rotation just retired.
        self.refresh()
        nonce = os.urandom(_NONCE_BYTES)
        key = self.primary
        sealed = key._aead.encrypt(nonce, plaintext.encode(), _aad(key.key_id))
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
        return f"{VERSION}:{key.key_id}:{body}"

    def decrypt(self, token: str) -> str:
        key_id, body = _split(token)
        key = self._keys.get(key_id)
        if key is None and self._reload is not None:
            self.refresh()
            key = self._keys.get(key_id)
        if key is None:
            raise CryptoError(f"value was encrypted under unknown master key {key_id}")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            clear = key._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(key_id))
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise CryptoError(f"value does not decrypt under master key {key_id}") from exc
        return clear.decode()


def _split(token: str) -> tuple[str, str]:
    """(key id, body) of a ``v1:<key id>:<base64url nonce+ciphertext>`` value."""
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != VERSION:
        raise CryptoError("not an llmforge ciphertext (expected v1:<key id>:<data>)")
    return parts[1], parts[2]


def key_id_of(token: str) -> str:
    return _split(token)[0]


# "sk-", "sk-proj-", "lf_", "whsec_": a recognisable prefix helps tell keys apart.
_PREFIX = re.compile(r"^[A-Za-z]{1,8}[-_](?:[A-Za-z]{1,8}[-_])?")


def mask_secret(secret: str | None) -> str | None:
    """``sk-abcdef…wxyz`` → ``sk-…wxyz``; short secrets keep no characters at all."""
    if not secret:
        return None
    value = secret.strip()
    match = _PREFIX.match(value)
    prefix = match.group(0) if match and len(value) - match.end() >= 12 else ""
    tail = value[-4:] if len(value) >= 16 else ""
    return f"{prefix}…{tail}"
