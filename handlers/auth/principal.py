"""Who is calling: resolve a Bearer access token or personal API key to a user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime.db.models import ApiKey, User, utcnow
from runtime.errors import ProblemError, Unauthorized
from runtime.security import (
    TokenError,
    decode_access_token,
    hash_api_key,
    looks_like_api_key,
)

ROLE_USER = "user"
ROLE_ADMIN = "admin"
ROLES = (ROLE_USER, ROLE_ADMIN)
ANONYMOUS_ACTOR = "anonymous"

# last_used_at is advisory; writing it on every call would turn each read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="llmforge"'}


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """A snapshot of the authenticated user, detached from any database session."""

    id: str
    email: str
    display_name: str | None
    role: str
    is_active: bool
    created_at: datetime
    auth_method: Literal["jwt", "api_key"]
    api_key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @classmethod
    def of(
        cls, user: User, auth_method: Literal["jwt", "api_key"], api_key_id: str | None = None
    ) -> CurrentUser:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
            auth_method=auth_method,
            api_key_id=api_key_id,
        )


def actor(user: CurrentUser | None) -> str:
    """The ``actor`` of an event caused by this request."""
    return user.id if user is not None else ANONYMOUS_ACTOR


def unauthorized(code: str, detail: str) -> ProblemError:
    return Unauthorized(code, detail=detail, headers=dict(_BEARER_CHALLENGE))


async def authenticate_bearer(session: AsyncSession, token: str, *, secret: str) -> CurrentUser:
    """Resolve a Bearer credential; raise a 401 problem when it does not name a live user."""
    if looks_like_api_key(token):
        owner, key = await resolve_api_key(session, token)
        return CurrentUser.of(owner, "api_key", key.id)
    try:
        claims = decode_access_token(token, secret=secret)
    except TokenError as exc:
        raise unauthorized(exc.code, str(exc)) from exc
    user = await session.get(User, claims.sub)
    if user is None or not user.is_active:
        raise unauthorized("invalid_token", "The account no longer exists or is disabled.")
    # A password change or disabling bumps token_version: older tokens die at once.
    if user.token_version != claims.ver:
        raise unauthorized("token_revoked", "The access token was revoked; log in again.")
    return CurrentUser.of(user, "jwt")


async def resolve_api_key(session: AsyncSession, key: str) -> tuple[User, ApiKey]:
    """Find the live key and its active owner, and note when the key was last used."""
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == hash_api_key(key))
        )
    ).first()
    now = utcnow()
    if row is None:
        raise unauthorized("invalid_api_key", "Unknown API key.")
    api_key, user = row
    if api_key.revoked_at is not None:
        raise unauthorized("invalid_api_key", "The API key was revoked.")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise unauthorized("invalid_api_key", "The API key has expired.")
    if not user.is_active:
        raise unauthorized("invalid_api_key", "The account is disabled.")
    if api_key.last_used_at is None or now - api_key.last_used_at >= _LAST_USED_RESOLUTION:
        api_key.last_used_at = now
    return user, api_key
