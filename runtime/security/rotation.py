"""`llmforge keys rotate`: re-encrypt every encrypted column under a new master key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.db.models import Provider, Webhook
from runtime.security.crypto import CryptoError, Keyring, MasterKey
from runtime.security.master_key import (
    BACKUP_FILE,
    KEY_FILE,
    PENDING_FILE,
    load_keyring,
    read_key_file,
    write_key_file,
)
from runtime.settings import Settings

# Every column holding a Keyring ciphertext. A new encrypted column is one line here.
ENCRYPTED_COLUMNS: tuple[tuple[Any, str], ...] = (
    (Provider, "api_key_encrypted"),
    (Webhook, "secret_encrypted"),
)


@dataclass(frozen=True, slots=True)
class Rotation:
    values: int
    old_key_id: str
    new_key_id: str
    from_env: bool


async def reencrypt(session: AsyncSession, old: Keyring, new: Keyring) -> int:
    """Re-seal every encrypted value in the session's transaction; the caller commits."""
    count = 0
    for model, name in ENCRYPTED_COLUMNS:
        column = getattr(model, name)
        rows = (await session.execute(select(model.id, column).where(column.is_not(None)))).all()
        for row_id, token in rows:
            sealed = new.encrypt(old.decrypt(token))
            # updated_at set to itself: a rotation is not a change anyone made to the row.
            await session.execute(
                update(model)
                .where(model.id == row_id)
                .values({name: sealed, "updated_at": model.updated_at})
            )
            count += 1
    return count


async def _reencrypt_all(
    session_factory: async_sessionmaker[AsyncSession], old: Keyring, new: MasterKey
) -> int:
    async with session_factory() as session, session.begin():
        return await reencrypt(session, old, Keyring(new))


async def rotate_master_key(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    new_key_b64: str | None = None,
) -> Rotation:
    """One transaction re-encrypts everything; only then is the key file swapped."""
    old = load_keyring(settings)
    if settings.security.master_key:
        if not new_key_b64:
            raise CryptoError(
                "LLMFORGE_MASTER_KEY is set: pass --new-key (e.g. `openssl rand -base64 32`)"
            )
        new = MasterKey.from_b64(new_key_b64)
        count = await _reencrypt_all(session_factory, old, new)
        return Rotation(count, old.primary.key_id, new.key_id, from_env=True)

    data_dir = settings.data_dir
    pending = data_dir / PENDING_FILE
    wanted = MasterKey.from_b64(new_key_b64) if new_key_b64 else None
    if pending.exists():
        # An earlier rotation stopped half-way; rows may already use its key: finish it.
        new = read_key_file(pending)
        if wanted is not None and wanted.key_id != new.key_id:
            raise CryptoError(f"{pending} holds another key from an unfinished rotation")
    else:
        new = wanted or MasterKey.generate()
        write_key_file(pending, new)
    _replace_key_file(data_dir / BACKUP_FILE, old.primary)
    count = await _reencrypt_all(session_factory, old, new)
    os.replace(pending, data_dir / KEY_FILE)
    (data_dir / BACKUP_FILE).unlink()
    return Rotation(count, old.primary.key_id, new.key_id, from_env=False)


def _replace_key_file(path: Path, key: MasterKey) -> None:
    """Write ``path`` atomically (0600), replacing any older content."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    write_key_file(tmp, key)
    os.replace(tmp, path)
