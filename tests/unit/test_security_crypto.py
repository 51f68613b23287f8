"""Encryption at rest: AES-GCM round trips, key ids, tampering, masking, key files."""

from __future__ import annotations

import base64
import dataclasses
import os
import stat
from pathlib import Path

import pytest

from runtime.security.crypto import CryptoError, Keyring, MasterKey, key_id_of, mask_secret
from runtime.security.master_key import KEY_FILE, PENDING_FILE, load_keyring, write_key_file
from runtime.settings import SecuritySettings, Settings


def test_values_round_trip_and_name_their_key() -> None:
    key = MasterKey.generate()
    ring = Keyring(key)
    sealed = ring.encrypt("sk-secret")
    assert sealed.startswith(f"v1:{key.key_id}:")
    assert "sk-secret" not in sealed
    assert ring.decrypt(sealed) == "sk-secret"
    assert ring.encrypt("sk-secret") != sealed  # a fresh nonce every time
    assert key_id_of(sealed) == key.key_id
    assert key.key_id not in base64.b64encode(key.key).decode()
    assert repr(key) == f"MasterKey(id={key.key_id})"


def test_tampered_relabelled_or_foreign_values_do_not_decrypt() -> None:
    ring = Keyring(MasterKey.generate())
    sealed = ring.encrypt("value")
    version, key_id, body = sealed.split(":")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    other = Keyring(MasterKey.generate())
    bad = [
        f"{version}:{key_id}:{flipped}",
        f"{version}:{other.primary.key_id}:{body}",
        f"v9:{key_id}:{body}",
        "plain text",
    ]
    for token in bad:
        with pytest.raises(CryptoError):
            ring.decrypt(token)
    with pytest.raises(CryptoError, match="unknown master key"):
        other.decrypt(sealed)


def test_previous_keys_decrypt_but_never_encrypt() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    sealed = Keyring(old).encrypt("v")
    ring = Keyring(new, [old])
    assert ring.decrypt(sealed) == "v"
    assert key_id_of(ring.encrypt("v")) == new.key_id


def test_master_keys_must_be_32_bytes_of_base64() -> None:
    key = MasterKey.generate()
    assert MasterKey.from_b64(key.to_b64()).key == key.key
    assert MasterKey.from_b64(base64.urlsafe_b64encode(key.key).decode()).key == key.key
    for text in ("", "not base64!!", base64.b64encode(b"short").decode()):
        with pytest.raises(CryptoError):
            MasterKey.from_b64(text)


@pytest.mark.parametrize(
    ("secret", "hint"),
    [
        ("sk-abcdefghijklmnopqrstuvwxyz", "sk-…wxyz"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz", "sk-proj-…wxyz"),
        ("AIzaSyA1234567890abcdefgh", "…efgh"),
        ("short-key", "…"),
        ("", None),
        (None, None),
    ],
)
def test_mask_secret_keeps_only_a_prefix_and_the_last_four(
    secret: str | None, hint: str | None
) -> None:
    assert mask_secret(secret) == hint


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_keyring(settings)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(settings).primary.key_id == first.primary.key_id
    assert write_key_file(path, MasterKey.generate()) is False  # O_EXCL: never overwritten


def test_file_keyring_follows_a_key_swap_by_another_process(tmp_path: Path) -> None:
    ring = load_keyring(Settings(data_dir=tmp_path))
    old_value = ring.encrypt("old")
    new = MasterKey.generate()
    write_key_file(tmp_path / PENDING_FILE, new)
    os.replace(tmp_path / PENDING_FILE, tmp_path / KEY_FILE)
    new_value = Keyring(new).encrypt("new")
    assert ring.decrypt(new_value) == "new"  # an unknown key id triggers a re-read
    assert key_id_of(ring.encrypt("x")) == new.key_id
    with pytest.raises(CryptoError):
        ring.decrypt(old_value)  # the old key is gone for good: rotate re-encrypts first


def test_env_key_wins_and_previous_env_keys_decrypt(tmp_path: Path) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    security = dataclasses.replace(
        SecuritySettings(), master_key=new.to_b64(), master_key_previous=(old.to_b64(),)
    )
    ring = load_keyring(Settings(data_dir=tmp_path, security=security))
    assert ring.primary.key_id == new.key_id
    assert ring.decrypt(Keyring(old).encrypt("v")) == "v"
    assert not (tmp_path / KEY_FILE).exists()
