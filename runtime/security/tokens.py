"""Access tokens (short-lived HS256 JWTs) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ISSUER = "llmforge"
ALGORITHM = "HS256"
ACCESS_TYP = "access"
_REQUIRED_CLAIMS = ["sub", "role", "ver", "iat", "exp", "jti", "iss", "typ"]


class TokenError(Exception):
    """An access token that must be refused; ``code`` goes into the 401 problem body."""

    code = "invalid_token"


class TokenExpired(TokenError):
    code = "token_expired"


class TokenInvalid(TokenError):
    code = "invalid_token"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    sub: str
    role: str
    ver: int
    iat: datetime
    exp: datetime
    jti: str


def signing_key(secret: str) -> bytes:
    """Derive the JWT key from the platform secret.

    The same secret also keys encryption at rest; a labelled derivation keeps the two
    uses apart and always yields the 32 bytes HS256 wants, whatever the secret's length.
    """
    return hmac.new(secret.encode(), b"llmforge/jwt-access/v1", hashlib.sha256).digest()


def issue_access_token(
    *,
    user_id: str,
    role: str,
    token_version: int,
    secret: str,
    ttl_seconds: int,
    now: datetime | None = None,
) -> tuple[str, AccessClaims]:
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = AccessClaims(
        sub=user_id,
        role=role,
        ver=token_version,
        iat=issued,
        exp=issued + timedelta(seconds=ttl_seconds),
        jti=uuid.uuid4().hex,
    )
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "typ": ACCESS_TYP,
        "sub": claims.sub,
        "role": claims.role,
        "ver": claims.ver,
        "iat": claims.iat,
        "exp": claims.exp,
        "jti": claims.jti,
    }
    return jwt.encode(payload, signing_key(secret), algorithm=ALGORITHM), claims


def decode_access_token(token: str, *, secret: str, leeway_seconds: int = 5) -> AccessClaims:
    """Validate signature, issuer, type and expiry; raise TokenExpired or TokenInvalid."""
    try:
        payload = jwt.decode(
            token,
            signing_key(secret),
            # Pinning the algorithm refuses "alg: none" and key-confusion tricks.
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=leeway_seconds,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("access token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"invalid access token: {exc}") from exc
    if payload.get("typ") != ACCESS_TYP:
        raise TokenInvalid("not an access token")
    sub, role, ver, jti = payload["sub"], payload["role"], payload["ver"], payload["jti"]
    if not (isinstance(sub, str) and isinstance(role, str) and isinstance(jti, str)):
        raise TokenInvalid("malformed access token claims")
    if not isinstance(ver, int) or isinstance(ver, bool):
        raise TokenInvalid("malformed access token claims")
    return AccessClaims(
        sub=sub,
        role=role,
        ver=ver,
        iat=datetime.fromtimestamp(int(payload["iat"]), UTC),
        exp=datetime.fromtimestamp(int(payload["exp"]), UTC),
        jti=jti,
    )


def new_refresh_token() -> str:
    """256 random bits: the token itself never touches the database."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    # A fast hash is enough: the token has 256 bits of entropy, so there is nothing to
    # brute-force, and lookups by hash stay a single indexed query.
    return hashlib.sha256(token.encode()).hexdigest()


def new_family_id() -> str:
    return uuid.uuid4().hex
