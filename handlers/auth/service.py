"""Auth domain logic: accounts, logins and refresh-token families (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, Protocol, cast

import structlog
from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from events import SYSTEM_ACTOR, Event
from events.auth import (
    LoginFailed,
    LoginFailedData,
    LoginSucceeded,
    LoginSucceededData,
    PasswordChanged,
    PasswordChangedData,
    RefreshTokenReused,
    TokenReuseData,
    UserUpdated,
    UserUpdatedData,
)
from handlers.auth import keys
from handlers.auth.accounts import check_password_policy, create_user, normalize_email
from handlers.auth.keys import NewApiKey
from handlers.auth.principal import (
    ANONYMOUS_ACTOR,
    forget_api_keys,
    resolve_api_key,
    unauthorized,
)
from runtime.db.models import ApiKey, RefreshToken, User, new_id, utcnow
from runtime.errors import BadRequest, Forbidden, ProblemError, TooManyRequests
from runtime.outbox import emit, publish_committed
from runtime.security import (
    LoginRateLimiter,
    Passwords,
    RateLimited,
    hash_refresh_token,
    issue_access_token,
    new_family_id,
    new_refresh_token,
)
from runtime.settings import SecuritySettings

log = structlog.get_logger(__name__)

__all__ = ["AuthService", "EventPublisher", "IssuedTokens", "create_user", "require_secret"]


class EventPublisher(Protocol):
    async def publish(self, event: Event) -> object: ...


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: User

    def __repr__(self) -> str:
        return f"IssuedTokens(user_id={self.user.id!r})"  # tokens stay out of logs


def require_secret(security: SecuritySettings) -> str:
    if not security.secret_key:
        raise RuntimeError("security.secret_key is not set; resolve it before serving")
    return security.secret_key


def invalid_credentials() -> ProblemError:
    # One body for every login failure, so the answer never says which part was wrong.
    return unauthorized("invalid_credentials", "The e-mail or password is incorrect.")


def _invalid_refresh() -> ProblemError:
    return unauthorized("invalid_refresh_token", "The refresh token is invalid or expired.")


class AuthService:
    """Use cases behind /api/auth, bound to one request's session.

    The session's transaction is committed by the caller, except where noted: a detected
    refresh-token reuse commits the family's revocation itself before answering 401.
    """

    def __init__(
        self,
        session: AsyncSession,
        security: SecuritySettings,
        *,
        passwords: Passwords,
        publisher: EventPublisher | None = None,
        limiter: LoginRateLimiter | None = None,
    ) -> None:
        self.session = session
        self.security = security
        self.passwords = passwords
        self.publisher = publisher
        self.limiter = limiter
        self._secret = require_secret(security)

    async def register(self, email: str, password: str) -> User:
        if not self.security.registration_open:
            raise Forbidden(
                "registration_closed",
                "Registration is closed",
                "Ask an administrator for an account.",
            )
        return await create_user(
            self.session, email, password, passwords=self.passwords, actor=None
        )

    async def login(
        self,
        email: str,
        password: str,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
    ) -> IssuedTokens:
        email = normalize_email(email)
        await self._check_rate(email, client_ip)
        user = await self.session.scalar(select(User).where(User.email == email))
        if user is None:
            # Unknown account: spend the same argon2 time as a real check.
            await self.passwords.verify_dummy(password)
            await self._login_failed(email, "invalid_credentials", client_ip)
            raise invalid_credentials()
        # Verified even for disabled accounts, so they answer at the same speed.
        if not await self.passwords.verify(user.password_hash, password):
            await self._login_failed(email, "invalid_credentials", client_ip)
            raise invalid_credentials()
        if not user.is_active:
            await self._login_failed(email, "disabled", client_ip)
            raise invalid_credentials()
        if self.passwords.needs_rehash(user.password_hash):
            # The only moment the clear password is at hand to upgrade the hash.
            user.password_hash = await self.passwords.hash(password)
            log.info("password_rehashed", user_id=user.id)
        user.last_login_at = utcnow()
        emit(
            self.session,
            LoginSucceeded(
                subject=user.id,
                actor=user.id,
                data=LoginSucceededData(user_id=user.id, client_ip=client_ip),
            ),
        )
        return await self._issue(user, new_family_id(), client_ip, user_agent)

    async def refresh(
        self,
        refresh_token: str | None,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
    ) -> IssuedTokens:
        """Rotate: the presented token is spent and a new one of the same family issued."""
        if not refresh_token:
            raise _invalid_refresh()
        row = await self._find_refresh(refresh_token)
        if row is None:
            raise _invalid_refresh()
        if row.used_at is not None:
            await self._revoke_reused_family(row)
        now = utcnow()
        if row.revoked_at is not None or row.expires_at <= now:
            raise _invalid_refresh()
        # Claimed with a conditional UPDATE, so of two concurrent uses only one wins;
        # the loser is treated as a reuse.
        claimed = await self._execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == row.id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
        )
        if claimed.rowcount != 1:
            await self._revoke_reused_family(row)
        user = await self.session.get(User, row.user_id)
        if user is None or not user.is_active:
            raise _invalid_refresh()
        return await self._issue(user, row.family_id, client_ip, user_agent)

    async def logout(self, refresh_token: str | None) -> None:
        """Revoke the family of the presented token; unknown tokens are silently fine."""
        if not refresh_token:
            return
        row = await self._find_refresh(refresh_token)
        if row is not None:
            await self._revoke_family(row.family_id)

    async def change_password(
        self,
        user_id: str,
        current_password: str,
        new_password: str,
        *,
        client_ip: str | None = None,
    ) -> None:
        user = await self.session.get(User, user_id)
        if user is None or not user.is_active:
            raise unauthorized("invalid_token", "The account no longer exists or is disabled.")
        # Shares the login counter: a stolen access token must not become a password oracle.
        await self._check_rate(user.email, client_ip)
        if not await self.passwords.verify(user.password_hash, current_password):
            raise BadRequest(
                "invalid_current_password",
                "Current password is incorrect",
                errors=[{"field": "current_password", "message": "does not match"}],
            )
        check_password_policy(new_password)
        user.password_hash = await self.passwords.hash(new_password)
        # Every access token carries the old version and stops working; every session ends.
        user.token_version += 1
        forget_api_keys(user_id=user.id)
        await self._execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        emit(
            self.session,
            PasswordChanged(
                subject=user.id, actor=user.id, data=PasswordChangedData(user_id=user.id)
            ),
        )

    async def shares_conversations(self, user_id: str) -> bool:
        """The caller's opt-in. Only read: who may call stays the guard's decision (and its
        caches'), so ``/me`` still answers as every other route does."""
        value = await self.session.scalar(
            select(User.share_conversations_for_training).where(User.id == user_id)
        )
        return bool(value)

    async def account(self, user_id: str) -> User:
        """The caller's own row (settings that the access token does not carry)."""
        user = await self.session.get(User, user_id)
        if user is None or not user.is_active:
            raise unauthorized("invalid_token", "The account no longer exists or is disabled.")
        return user

    async def update_settings(self, user_id: str, share_conversations: bool | None) -> User:
        """The caller's own settings; ``user.updated`` names what changed (not the values)."""
        user = await self.account(user_id)
        changed: list[str] = []
        if share_conversations is not None and (
            share_conversations != user.share_conversations_for_training
        ):
            user.share_conversations_for_training = share_conversations
            changed.append("share_conversations_for_training")
        if changed:
            data = UserUpdatedData(
                user_id=user.id, changed=changed, role=user.role, is_active=user.is_active
            )
            emit(self.session, UserUpdated(subject=user.id, actor=user.id, data=data))
        return user

    async def create_api_key(
        self, user_id: str, name: str, expires_in_days: int | None = None
    ) -> NewApiKey:
        return await keys.create_api_key(self.session, user_id, name, expires_in_days)

    async def list_api_keys(
        self, user_id: str, *, limit: int, offset: int
    ) -> tuple[list[ApiKey], int]:
        return await keys.list_api_keys(self.session, user_id, limit=limit, offset=offset)

    async def revoke_api_key(self, user_id: str, key_id: str) -> None:
        await keys.revoke_api_key(self.session, user_id, key_id)

    async def resolve_api_key(self, key: str) -> tuple[User, ApiKey]:
        """The key's owner; 401 for unknown, revoked or expired keys and disabled owners."""
        return await resolve_api_key(self.session, key)

    async def _issue(
        self, user: User, family_id: str, client_ip: str | None, user_agent: str | None
    ) -> IssuedTokens:
        access, _ = issue_access_token(
            user_id=user.id,
            role=user.role,
            token_version=user.token_version,
            secret=self._secret,
            ttl_seconds=self.security.access_token_ttl_seconds,
        )
        refresh = new_refresh_token()
        ttl = self.security.refresh_token_ttl_seconds
        self.session.add(
            RefreshToken(
                id=new_id(),
                user_id=user.id,
                family_id=family_id,
                token_hash=hash_refresh_token(refresh),
                # Sliding: an idle family dies after one TTL without use.
                expires_at=utcnow() + timedelta(seconds=ttl),
                client_ip=client_ip,
                user_agent=user_agent[:500] if user_agent else None,
            )
        )
        await self.session.flush()
        return IssuedTokens(
            access_token=access,
            expires_in=self.security.access_token_ttl_seconds,
            refresh_token=refresh,
            refresh_expires_in=ttl,
            user=user,
        )

    async def _find_refresh(self, token: str) -> RefreshToken | None:
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token))
        )

    async def _revoke_family(self, family_id: str) -> int:
        result = await self._execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return result.rowcount

    async def _revoke_reused_family(self, row: RefreshToken) -> NoReturn:
        """A spent token came back: someone holds a copy. End the whole family."""
        revoked = await self._revoke_family(row.family_id)
        emit(
            self.session,
            RefreshTokenReused(
                subject=row.user_id,
                actor=SYSTEM_ACTOR,
                data=TokenReuseData(
                    user_id=row.user_id, family_id=row.family_id, revoked_tokens=revoked
                ),
            ),
        )
        log.warning("refresh_token_reused", user_id=row.user_id, family_id=row.family_id)
        # The answer is an error, which rolls the request's transaction back: the
        # revocation and its event must be committed here, before raising.
        await self.session.commit()
        if self.publisher is not None:
            await publish_committed(self.session, self.publisher)
        raise unauthorized("refresh_token_reused", "The refresh token was already used.")

    async def _check_rate(self, email: str, client_ip: str | None) -> None:
        if self.limiter is None:
            return
        try:
            await self.limiter.hit(email, client_ip)
        except RateLimited as exc:
            await self._login_failed(email, "rate_limited", client_ip)
            raise TooManyRequests(
                "too_many_login_attempts",
                exc.retry_after,
                f"Too many attempts; retry in {exc.retry_after} s.",
            ) from exc

    async def _login_failed(self, email: str, reason: str, client_ip: str | None) -> None:
        """Published at once, not via the outbox: the request fails and rolls back."""
        log.info("login_failed", reason=reason)
        if self.publisher is None:
            return
        event = LoginFailed(
            subject=email,
            actor=ANONYMOUS_ACTOR,
            data=LoginFailedData(email=email, reason=reason, client_ip=client_ip),
        )
        try:
            await self.publisher.publish(event)
        except Exception as exc:  # best effort: the 401 matters more than the event
            log.warning("login_failed_event_dropped", error=type(exc).__name__)

    async def _execute(self, statement: Any) -> CursorResult[Any]:
        return cast("CursorResult[Any]", await self.session.execute(statement))
