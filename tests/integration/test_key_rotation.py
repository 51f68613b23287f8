"""`llmforge keys rotate`: every encrypted column re-sealed in one go, crash-safe files."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.cli import main
from runtime.db.models import Provider, User, Webhook
from runtime.security.crypto import CryptoError, Keyring, MasterKey, key_id_of
from runtime.security.master_key import BACKUP_FILE, KEY_FILE, PENDING_FILE, load_keyring
from runtime.security.rotation import rotate_master_key
from runtime.settings import SecuritySettings, Settings


async def _seed(session_factory: async_sessionmaker[AsyncSession], ring: Keyring) -> None:
    async with session_factory() as session, session.begin():
        user = User(email="o@example.com", password_hash="x", role="admin")
        session.add(user)
        await session.flush()
        session.add_all(
            [
                Provider(
                    name="a",
                    type="openai-compatible",
                    base_url="http://a",
                    api_key_encrypted=ring.encrypt("sk-a"),
                ),
                Provider(
                    name="b",
                    type="anthropic",
                    base_url="http://b",
                    api_key_encrypted=ring.encrypt("sk-b"),
                ),
                Provider(name="none", type="gemini", base_url="http://c"),
                Webhook(owner_id=user.id, url="http://h", secret_encrypted=ring.encrypt("whsec_1")),
            ]
        )


async def _values(session_factory: async_sessionmaker[AsyncSession]) -> list[str]:
    async with session_factory() as session:
        keys = await session.scalars(
            select(Provider.api_key_encrypted).where(Provider.api_key_encrypted.is_not(None))
        )
        secrets = await session.scalars(select(Webhook.secret_encrypted))
        return [*keys, *secrets]


async def test_rotation_reseals_every_secret_and_swaps_the_key_file(
    tmp_path: Path, database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(data_dir=tmp_path)
    old = load_keyring(settings)
    await _seed(session_factory, old)
    done = await rotate_master_key(settings, session_factory)
    assert (done.values, done.old_key_id, done.from_env) == (3, old.primary.key_id, False)

    new = load_keyring(settings)
    assert new.primary.key_id == done.new_key_id != old.primary.key_id
    sealed = await _values(session_factory)
    assert {key_id_of(v) for v in sealed} == {done.new_key_id}
    assert sorted(Keyring(new.primary).decrypt(v) for v in sealed) == ["sk-a", "sk-b", "whsec_1"]
    assert not (tmp_path / BACKUP_FILE).exists()
    assert not (tmp_path / PENDING_FILE).exists()


async def test_an_interrupted_rotation_stays_readable_and_finishes_on_rerun(
    tmp_path: Path, database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    settings = Settings(data_dir=tmp_path)
    old = load_keyring(settings)
    await _seed(session_factory, old)
    # As if a rotation died after committing the rows but before swapping the file.
    pending = MasterKey.generate()
    (tmp_path / PENDING_FILE).write_text(pending.to_b64())
    async with session_factory() as session, session.begin():
        row = await session.scalar(select(Provider).where(Provider.name == "a"))
        assert row is not None
        assert row.api_key_encrypted is not None
        row.api_key_encrypted = Keyring(pending).encrypt("sk-a")
    assert sorted(load_keyring(settings).decrypt(v) for v in await _values(session_factory)) == [
        "sk-a",
        "sk-b",
        "whsec_1",
    ]
    with pytest.raises(CryptoError, match="another key"):
        await rotate_master_key(settings, session_factory, MasterKey.generate().to_b64())
    done = await rotate_master_key(settings, session_factory)
    assert done.new_key_id == pending.key_id
    assert (tmp_path / KEY_FILE).read_text().strip() == pending.to_b64()


async def test_cli_rotates_an_env_key_only_with_a_new_key_given(
    tmp_path: Path,
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    security = dataclasses.replace(SecuritySettings(), master_key=old.to_b64())
    await _seed(session_factory, load_keyring(Settings(data_dir=tmp_path, security=security)))
    monkeypatch.setenv("LLMFORGE_MASTER_KEY", old.to_b64())
    args = ["keys", "rotate", "--data-dir", str(tmp_path), "--database-url", database_url]
    # The CLI runs its own event loop: call it from a thread, as a shell would.
    assert await asyncio.to_thread(main, args) == 2
    assert "--new-key" in capsys.readouterr().err
    assert await asyncio.to_thread(main, [*args, "--new-key", new.to_b64()]) == 0
    out = capsys.readouterr().out
    assert f"re-encrypted 3 secret(s): key {old.key_id} -> {new.key_id}" in out
    assert "LLMFORGE_MASTER_KEY" in out
    assert new.to_b64() not in out  # the operator has it already; no key in any output
    assert {key_id_of(v) for v in await _values(session_factory)} == {new.key_id}
    assert not (tmp_path / KEY_FILE).exists()
