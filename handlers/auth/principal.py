"""Who is calling: resolve a Bearer access token or personal API key to a user."""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth.permissions import ROLE_ADMIN, Permission, builtin_permissions
from handlers.auth.roles import RoleCache, permissions_of
from runtime.db.models import ApiKey, User, utcnow
from runtime.errors import ProblemError, Unauthorized
from runtime.security import (
    AccessClaims,
    TokenError,
    decode_access_token,
    hash_api_key,
    looks_like_api_key,
)
from runtime.singleflight import SingleFlight

ANONYMOUS_ACTOR = "anonymous"

# last_used_at is advisory; writing it on every call would turn each read into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="llmforge"'}
# Resolved API keys, and the users behind access tokens (by id and token version), are
# reused this long without a database round trip. Revoking a key or changing a user (or any
# role) drops the entries in this process at once, and in every
# other HTTP process when the change's event arrives (``handlers/auth/invalidation.py``);
# the TTL only bounds an event that comes late (docs/architecture.md, auth flow).
API_KEY_CACHE_TTL = 2.0
API_KEY_CACHE_MAX = 4096


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
    # Resolved from the role when the caller is authenticated (custom roles included).
    permissions: frozenset[Permission] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @classmethod
    def of(
        cls,
        user: User,
        auth_method: Literal["jwt", "api_key"],
        api_key_id: str | None = None,
        *,
        permissions: frozenset[Permission] | None = None,
    ) -> CurrentUser:
        """``permissions``: the role's, resolved by the caller (built-in roles need none)."""
        if permissions is None:
            permissions = builtin_permissions(user.role) or frozenset()
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            is_active=user.is_active,
            created_at=user.created_at,
            auth_method=auth_method,
            api_key_id=api_key_id,
            permissions=permissions,
        )


class ApiKeyCache:
    """Credential -> resolved ``CurrentUser``, for a short TTL: an API key's hash, or
    ``jwt:<user id>:<token version>`` for access tokens. Never holds a clear key."""

    def __init__(self, ttl: float = API_KEY_CACHE_TTL, max_size: int = API_KEY_CACHE_MAX) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: dict[str, tuple[float, CurrentUser]] = {}
        # Bumped by every invalidation: a lookup that began before one must not store
        # what it read (it may predate the revocation).
        self.generation = 0

    def get(self, key_hash: str) -> CurrentUser | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._entries.pop(key_hash, None)
            return None
        return entry[1]

    def put(
        self, key_hash: str, user: CurrentUser, *, generation: int, expires_at: datetime | None
    ) -> None:
        if generation != self.generation:
            return
        ttl = self.ttl
        if expires_at is not None:
            ttl = min(ttl, (expires_at - utcnow()).total_seconds())
        if ttl <= 0:
            return
        entries = self._entries
        if len(entries) >= self.max_size and key_hash not in entries:
            now = time.monotonic()
            for stale in [k for k, (deadline, _) in entries.items() if deadline <= now]:
                del entries[stale]
            while len(entries) >= self.max_size:
                del entries[next(iter(entries))]  # the oldest insertion
        entries[key_hash] = (time.monotonic() + ttl, user)

    def forget(self, *, user_id: str | None = None, key_id: str | None = None) -> None:
        """Drop the entries of one user or one key (of everything when neither is given)."""
        self.generation += 1
        if user_id is None and key_id is None:
            self._entries.clear()
            return
        for key_hash, (_, user) in list(self._entries.items()):
            if user.id == user_id or (key_id is not None and user.api_key_id == key_id):
                self._entries.pop(key_hash, None)

    def __len__(self) -> int:
        return len(self._entries)

    def users(self) -> list[CurrentUser]:
        """The resolutions held now, one per credential (tests, diagnostics)."""
        return [user for _, user in self._entries.values()]


@dataclass(slots=True)
class AuthCaches:
    """The caches of one app (one per process in production; tests run several)."""

    api_keys: ApiKeyCache = field(default_factory=ApiKeyCache)
    roles: RoleCache = field(default_factory=RoleCache)
    # Cache misses for one token share one lookup: a burst right after the entry expired
    # would otherwise read (and stamp last_used_at on) the same key once per request.
    lookups: SingleFlight[str, CurrentUser] = field(default_factory=SingleFlight)

    def forget_roles(self) -> None:
        """A role changed: cached resolutions hold permissions, so every one goes too."""
        self.roles.clear()
        self.api_keys.forget()


# The caches of the app serving the current request, set by ``authenticate``: domain code
# that revokes something (``forget_api_keys``) needs no handle on the app. Outside a
# request (CLI, consumers) it is a process default that no app reads; the other processes
# hear of such a change from its event.
_ACTIVE: ContextVar[AuthCaches | None] = ContextVar("llmforge_auth_caches", default=None)
_DETACHED = AuthCaches()


def use_caches(caches: AuthCaches) -> None:
    _ACTIVE.set(caches)


def active_caches() -> AuthCaches:
    return _ACTIVE.get() or _DETACHED


def forget_api_keys(*, user_id: str | None = None, key_id: str | None = None) -> None:
    """Call wherever a key is revoked or its owner disabled, re-roled or re-passworded."""
    active_caches().api_keys.forget(user_id=user_id, key_id=key_id)


def forget_roles() -> None:
    """Call wherever a custom role is created, changed or deleted."""
    active_caches().forget_roles()


def cached_user(token: str, caches: AuthCaches, *, secret: str) -> CurrentUser | None:
    """The cached resolution of a credential, or None (not cached, stale).

    An access token is verified here (signature, expiry) whether cached or not: only the
    database read of its user is saved. Raises the 401 problem for a bad token.
    """
    if looks_like_api_key(token):
        return caches.api_keys.get(hash_api_key(token))
    claims = _access_claims(token, secret)
    return caches.api_keys.get(_jwt_cache_key(claims.sub, claims.ver))


def actor(user: CurrentUser | None) -> str:
    """The ``actor`` of an event caused by this request."""
    return user.id if user is not None else ANONYMOUS_ACTOR


def unauthorized(code: str, detail: str) -> ProblemError:
    return Unauthorized(code, detail=detail, headers=dict(_BEARER_CHALLENGE))


async def authenticate_bearer(
    session: AsyncSession, token: str, *, secret: str, caches: AuthCaches | None = None
) -> CurrentUser:
    """Resolve a Bearer credential; raise a 401 problem when it does not name a live user."""
    caches = caches or active_caches()
    if looks_like_api_key(token):
        key_hash = hash_api_key(token)
        cached = caches.api_keys.get(key_hash)
        if cached is not None:
            return cached
        # Read before the lookups: an invalidation of either cache while they run
        # changes it, and then nothing read here is stored.
        generation = caches.api_keys.generation
        owner, key = await resolve_api_key(session, token)
        permissions = await permissions_of(session, owner.role, caches.roles)
        current = CurrentUser.of(owner, "api_key", key.id, permissions=permissions)
        caches.api_keys.put(key_hash, current, generation=generation, expires_at=key.expires_at)
        return current
    claims = _access_claims(token, secret)
    cache_key = _jwt_cache_key(claims.sub, claims.ver)
    cached = caches.api_keys.get(cache_key)
    if cached is not None:
        return cached
    generation = caches.api_keys.generation
    user = await session.get(User, claims.sub)
    if user is None or not user.is_active:
        raise unauthorized("invalid_token", "The account no longer exists or is disabled.")
    # A password change or disabling bumps token_version: older tokens die at once.
    if user.token_version != claims.ver:
        raise unauthorized("token_revoked", "The access token was revoked; log in again.")
    permissions = await permissions_of(session, user.role, caches.roles)
    current = CurrentUser.of(user, "jwt", permissions=permissions)
    caches.api_keys.put(cache_key, current, generation=generation, expires_at=None)
    return current


def _access_claims(token: str, secret: str) -> AccessClaims:
    try:
        return decode_access_token(token, secret=secret)
    except TokenError as exc:
        raise unauthorized(exc.code, str(exc)) from exc


def _jwt_cache_key(user_id: str, version: int) -> str:
    return f"jwt:{user_id}:{version}"


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
