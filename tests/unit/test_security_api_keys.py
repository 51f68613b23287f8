"""Personal API keys: format, prefix and hashing."""

from __future__ import annotations

import hashlib

from runtime.security import API_KEY_PREFIX, generate_api_key, hash_api_key, looks_like_api_key


def test_generated_key_format_and_prefix() -> None:
    generated = generate_api_key()
    assert generated.key.startswith(API_KEY_PREFIX)
    assert len(generated.key) >= 40
    assert generated.prefix == generated.key[:12]
    assert looks_like_api_key(generated.key)


def test_key_is_stored_only_as_its_sha256() -> None:
    generated = generate_api_key()
    assert generated.key_hash == hashlib.sha256(generated.key.encode()).hexdigest()
    assert generated.key_hash == hash_api_key(generated.key)
    assert generated.key not in generated.key_hash


def test_keys_are_unique() -> None:
    assert len({generate_api_key().key for _ in range(100)}) == 100


def test_repr_hides_the_key() -> None:
    generated = generate_api_key()
    assert generated.key not in repr(generated)


def test_jwt_is_not_mistaken_for_a_key() -> None:
    assert not looks_like_api_key("eyJhbGciOiJIUzI1NiJ9.e30.sig")
