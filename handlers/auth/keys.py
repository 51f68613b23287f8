"""Personal API keys: create (shown once), list, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from events.auth import ApiKeyCreated, ApiKeyData, ApiKeyRevoked
from handlers.auth.principal import forget_api_keys
from runtime.db.models import ApiKey, new_id, utcnow
from runtime.db.paging import page_of
from runtime.errors import NotFound
from runtime.outbox import emit
from runtime.security import generate_api_key


@dataclass(frozen=True, slots=True)
class NewApiKey:
    row: ApiKey
    key: str

    def __repr__(self) -> str:
        return f"NewApiKey(id={self.row.id!r}, prefix={self.row.prefix!r})"


async def create_api_key(
    session: AsyncSession, user_id: str, name: str, expires_in_days: int | None = None
) -> NewApiKey:
    generated = generate_api_key()
    now = utcnow()
    row = ApiKey(
        id=new_id(),
        user_id=user_id,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.key_hash,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(row)
    await session.flush()
    emit(session, ApiKeyCreated(subject=row.id, actor=user_id, data=_data(row)))
    return NewApiKey(row=row, key=generated.key)


async def list_api_keys(
    session: AsyncSession, user_id: str, *, limit: int, offset: int
) -> tuple[list[ApiKey], int]:
    """The user's keys that are not revoked (expired ones stay listed), newest first."""
    live = (ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
    query = select(ApiKey).where(*live).order_by(ApiKey.created_at.desc(), ApiKey.id)
    rows, total = await page_of(session, query, limit=limit, offset=offset)
    return list(rows), total


async def revoke_api_key(session: AsyncSession, user_id: str, key_id: str) -> None:
    """Revoke one of the user's keys; revoking twice is a no-op, others' keys are 404."""
    row = await session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
    if row is None:
        raise NotFound("api_key_not_found", "API key not found")
    if row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    forget_api_keys(key_id=row.id)
    emit(session, ApiKeyRevoked(subject=row.id, actor=user_id, data=_data(row)))


def _data(row: ApiKey) -> ApiKeyData:
    return ApiKeyData(key_id=row.id, user_id=row.user_id, name=row.name, prefix=row.prefix)
