"""Dependency providers of the auth domain: the service, the limiter, the current user."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth.principal import (
    AuthCaches,
    CurrentUser,
    authenticate_bearer,
    cached_user,
    unauthorized,
    use_caches,
)
from handlers.auth.service import AuthService, require_secret
from handlers.deps import services_of
from runtime.bus import EventBus  # at runtime: Litestar reads provider annotations
from runtime.security import (
    Argon2Params,
    LoginLimits,
    LoginRateLimiter,
    Passwords,
    get_passwords,
    hash_api_key,
)
from runtime.settings import SecuritySettings, Settings

_LIMITER_KEY = "auth_login_limiter"
_CACHES_KEY = "auth_caches"
# A shared office or NAT puts many honest users behind one address; the per-IP budget
# only has to stop one host from spraying passwords over many accounts.
IP_LIMIT_FACTOR = 5


def argon2_params(security: SecuritySettings) -> Argon2Params:
    return Argon2Params(
        time_cost=security.argon2_time_cost,
        memory_kib=security.argon2_memory_kib,
        parallelism=security.argon2_parallelism,
    )


def provide_passwords(settings: Settings) -> Passwords:
    return get_passwords(argon2_params(settings.security))


def provide_login_limiter(state: State, bus: EventBus, settings: Settings) -> LoginRateLimiter:
    """One limiter per app: it only caches the KV bucket handle, the counters live in NATS."""
    limiter = state.get(_LIMITER_KEY)
    if not isinstance(limiter, LoginRateLimiter):
        per_minute = settings.security.login_attempts_per_minute
        limiter = LoginRateLimiter(
            bus.js, LoginLimits(per_email=per_minute, per_ip=per_minute * IP_LIMIT_FACTOR)
        )
        state[_LIMITER_KEY] = limiter
    return limiter


def caches_of(state: State) -> AuthCaches:
    """The app's API-key and role caches, made on first use."""
    caches = state.get(_CACHES_KEY)
    if not isinstance(caches, AuthCaches):
        caches = AuthCaches()
        state[_CACHES_KEY] = caches
    return caches


def provide_auth_service(
    db_session: AsyncSession, settings: Settings, bus: EventBus, state: State
) -> AuthService:
    return AuthService(
        db_session,
        settings.security,
        passwords=provide_passwords(settings),
        publisher=bus,
        limiter=provide_login_limiter(state, bus, settings),
    )


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    """Resolve the caller once per request (guards and handlers share the result).

    Uses its own short session rather than the handler's: guards run before dependency
    injection, and the API key's ``last_used_at`` must not ride on a transaction that the
    handler may roll back. A recently resolved API key needs no session at all
    (``ApiKeyCache``: a short TTL, dropped on revocation in every HTTP process).
    """
    caches = caches_of(connection.app.state)
    # What the handler revokes is then forgotten in this app's caches (forget_api_keys).
    use_caches(caches)
    cached = connection.scope.get("user")
    if isinstance(cached, CurrentUser):
        return cached
    headers = connection.headers
    # x-api-key: the header Anthropic's SDKs send the key in (/v1/messages).
    token = bearer_token(headers.get("authorization")) or headers.get("x-api-key") or None
    if token is None:
        raise unauthorized("not_authenticated", "Send 'Authorization: Bearer <token or key>'.")
    services = services_of(connection.app.state)
    secret = require_secret(services.settings.security)
    user = cached_user(token, caches, secret=secret)
    if user is None:

        async def look_up() -> CurrentUser:
            async with services.session_factory() as session:
                found = await authenticate_bearer(session, token, secret=secret, caches=caches)
                await session.commit()
                return found

        user = await caches.lookups.run(hash_api_key(token), look_up)
    connection.scope["user"] = user
    connection.scope["auth"] = user.auth_method
    return user


async def provide_current_user(request: Request[Any, Any, Any]) -> CurrentUser:
    return await authenticate(request)


# Registered app-wide by runtime/app.py so every route family can ask for ``current_user``.
AUTH_DEPENDENCIES = {"current_user": Provide(provide_current_user)}
