"""JWT access tokens and opaque refresh tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from runtime.security import (
    TokenExpired,
    TokenInvalid,
    decode_access_token,
    hash_refresh_token,
    issue_access_token,
    new_family_id,
    new_refresh_token,
)
from runtime.security.tokens import ALGORITHM, signing_key

SECRET = "unit-test-secret"


def _issue(**overrides: object) -> str:
    kwargs: dict[str, object] = {
        "user_id": "u1",
        "role": "user",
        "token_version": 3,
        "secret": SECRET,
        "ttl_seconds": 900,
    }
    kwargs.update(overrides)
    token, _ = issue_access_token(**kwargs)  # type: ignore[arg-type]
    return token


def test_round_trip_carries_the_claims() -> None:
    now = datetime.now(UTC)
    token, issued = issue_access_token(
        user_id="u1", role="admin", token_version=3, secret=SECRET, ttl_seconds=900, now=now
    )
    claims = decode_access_token(token, secret=SECRET)
    assert claims == issued
    assert (claims.sub, claims.role, claims.ver) == ("u1", "admin", 3)
    assert claims.exp - claims.iat == timedelta(seconds=900)
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["iss"] == "llmforge"
    assert raw["typ"] == "access"
    assert len(raw["jti"]) == 32


def test_each_token_has_its_own_jti() -> None:
    a = decode_access_token(_issue(), secret=SECRET)
    b = decode_access_token(_issue(), secret=SECRET)
    assert a.jti != b.jti


def test_expired_token_is_refused() -> None:
    token = _issue(now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(TokenExpired) as info:
        decode_access_token(token, secret=SECRET)
    assert info.value.code == "token_expired"


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(TokenInvalid):
        decode_access_token(_issue(), secret="another-secret")


def test_tampered_payload_is_refused() -> None:
    header, _, signature = _issue().split(".")
    forged = jwt.encode(
        {**jwt.decode(_issue(), options={"verify_signature": False}), "role": "admin"},
        "an-attacker-guess-of-thirty-two-bytes",
        algorithm="HS256",
    ).split(".")[1]
    with pytest.raises(TokenInvalid):
        decode_access_token(f"{header}.{forged}.{signature}", secret=SECRET)


def test_alg_none_is_refused() -> None:
    payload = jwt.decode(_issue(), options={"verify_signature": False})
    unsigned = jwt.encode(payload, key="", algorithm="none")
    with pytest.raises(TokenInvalid):
        decode_access_token(unsigned, secret=SECRET)


def test_missing_claim_or_other_issuer_or_type_is_refused() -> None:
    now = datetime.now(UTC)
    base = {
        "iss": "llmforge",
        "typ": "access",
        "sub": "u1",
        "role": "user",
        "ver": 0,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": "j",
    }
    key = signing_key(SECRET)
    for bad in (
        {k: v for k, v in base.items() if k != "ver"},
        {**base, "iss": "someone-else"},
        {**base, "typ": "refresh"},
        {**base, "ver": "0"},
    ):
        with pytest.raises(TokenInvalid):
            decode_access_token(jwt.encode(bad, key, algorithm=ALGORITHM), secret=SECRET)


def test_garbage_is_refused() -> None:
    with pytest.raises(TokenInvalid):
        decode_access_token("not.a.jwt", secret=SECRET)


def test_signing_key_is_derived_not_the_raw_secret() -> None:
    assert signing_key(SECRET) != SECRET.encode()
    assert len(signing_key("short")) == 32


def test_refresh_tokens_are_random_and_stored_as_sha256() -> None:
    a, b = new_refresh_token(), new_refresh_token()
    assert a != b
    assert len(a) >= 43
    digest = hash_refresh_token(a)
    assert len(digest) == 64
    assert a not in digest
    assert digest == hash_refresh_token(a)
    assert len(new_family_id()) == 32
