"""Role name -> permissions: built-in roles from code, custom roles from the ``roles`` table."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.auth.permissions import Permission, builtin_permissions, parse_permissions
from runtime.db.models import Role

# A safety net only: every role change drops the whole cache in every HTTP process at once
# (locally, and through the auth event subscription elsewhere). The TTL bounds the damage
# when such an event is late, e.g. while NATS was down and the outbox relay still holds it.
ROLE_CACHE_TTL = 30.0


class RoleCache:
    """Custom role name -> its permissions (an empty set for a name with no row)."""

    def __init__(self, ttl: float = ROLE_CACHE_TTL) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, frozenset[Permission]]] = {}
        # As in ApiKeyCache: a lookup that began before a clear must not store what it read.
        self.generation = 0

    def get(self, name: str) -> frozenset[Permission] | None:
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._entries.pop(name, None)
            return None
        return entry[1]

    def put(self, name: str, permissions: frozenset[Permission], *, generation: int) -> None:
        if generation == self.generation:
            self._entries[name] = (time.monotonic() + self.ttl, permissions)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


async def load_role(session: AsyncSession, name: str, *, lock: bool = False) -> Role | None:
    """The custom role's row; ``lock`` holds it (PostgreSQL) until the transaction ends."""
    query = select(Role).where(Role.name == name)
    return await session.scalar(query.with_for_update() if lock else query)


async def role_exists(session: AsyncSession, name: str) -> bool:
    """For assigning a role: the row stays locked, so a concurrent delete waits and then
    sees the new holder (and refuses) instead of leaving a user with a dangling role."""
    if builtin_permissions(name) is not None:
        return True
    return await load_role(session, name, lock=True) is not None


async def permissions_of(
    session: AsyncSession, role: str, cache: RoleCache
) -> frozenset[Permission]:
    """What a user with this role may do; a name without a role (deleted) grants nothing."""
    builtin = builtin_permissions(role)
    if builtin is not None:
        return builtin
    cached = cache.get(role)
    if cached is not None:
        return cached
    generation = cache.generation
    row = await load_role(session, role)
    # Unknown stored values are skipped, not fatal: a permission removed from the code
    # must not lock every user of an old role out of everything else.
    granted = parse_permissions(row.permissions)[0] if row is not None else frozenset()
    cache.put(role, granted, generation=generation)
    return granted
