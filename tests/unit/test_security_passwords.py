"""argon2id hashing: verify, misses, dummy verification and rehash detection."""

from __future__ import annotations

from runtime.security import Argon2Params, Passwords, get_passwords

CHEAP = Argon2Params(time_cost=1, memory_kib=8, parallelism=1)


async def test_hash_is_argon2id_and_verifies() -> None:
    passwords = Passwords(CHEAP)
    hashed = await passwords.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert await passwords.verify(hashed, "correct horse")


async def test_wrong_password_and_corrupt_hash_are_misses() -> None:
    passwords = Passwords(CHEAP)
    hashed = await passwords.hash("correct horse")
    assert not await passwords.verify(hashed, "battery staple")
    assert not await passwords.verify("not-a-hash", "correct horse")


async def test_same_password_gets_a_fresh_salt() -> None:
    passwords = Passwords(CHEAP)
    assert await passwords.hash("same") != await passwords.hash("same")


async def test_dummy_verify_always_fails_and_reuses_one_hash() -> None:
    passwords = Passwords(CHEAP)
    assert await passwords.verify_dummy("anything") is False
    first = await passwords.dummy_hash()
    assert await passwords.dummy_hash() == first
    # Same parameters as real hashes, so its verification costs the same.
    assert not passwords.needs_rehash(first)


async def test_needs_rehash_when_parameters_change() -> None:
    old = Passwords(CHEAP)
    new = Passwords(Argon2Params(time_cost=2, memory_kib=16, parallelism=1))
    hashed = await old.hash("pw-123456")
    assert not old.needs_rehash(hashed)
    assert new.needs_rehash(hashed)
    # Still verifiable with the new hasher: the parameters live in the hash string.
    assert await new.verify(hashed, "pw-123456")
    assert new.needs_rehash("garbage")


def test_get_passwords_is_cached_per_parameter_set() -> None:
    assert get_passwords(CHEAP) is get_passwords(Argon2Params(1, 8, 1))
    assert get_passwords(CHEAP) is not get_passwords(Argon2Params(2, 8, 1))


def test_default_parameters_match_argon2_cffi() -> None:
    import argon2

    default = argon2.PasswordHasher()
    params = Argon2Params()
    assert (params.time_cost, params.memory_kib, params.parallelism) == (
        default.time_cost,
        default.memory_cost,
        default.parallelism,
    )
