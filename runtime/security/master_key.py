"""Where the master key lives: LLMFORGE_MASTER_KEY, or ``master.key`` in the data dir."""

from __future__ import annotations

import os
from pathlib import Path

from runtime.security.crypto import Keyring, MasterKey
from runtime.settings import Settings

KEY_FILE = "master.key"
# During `llmforge keys rotate`: the old key is kept as .bak and the new one written
# as .new before any row changes, so a crash at any step leaves every value readable.
BACKUP_FILE = KEY_FILE + ".bak"
PENDING_FILE = KEY_FILE + ".new"


def write_key_file(path: Path, key: MasterKey) -> bool:
    """Create ``path`` (0600) holding ``key``; False when it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting together must not each write their own key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key.to_b64() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return True


def read_key_file(path: Path) -> MasterKey:
    return MasterKey.from_b64(path.read_text(encoding="utf-8"))


def load_or_create_key_file(data_dir: Path) -> MasterKey:
    path = data_dir / KEY_FILE
    if not path.exists():
        write_key_file(path, MasterKey.generate())
    return read_key_file(path)


def _file_keys(data_dir: Path) -> tuple[MasterKey, list[MasterKey]]:
    primary = load_or_create_key_file(data_dir)
    extras = [data_dir / BACKUP_FILE, data_dir / PENDING_FILE]
    return primary, [read_key_file(p) for p in extras if p.exists()]


def load_keyring(settings: Settings) -> Keyring:
    """The process's keyring: env-provided keys, else the key files (created if absent)."""
    security = settings.security
    previous = [MasterKey.from_b64(k) for k in security.master_key_previous]
    if security.master_key:
        return Keyring(MasterKey.from_b64(security.master_key), previous)
    data_dir = settings.data_dir

    def reload() -> tuple[MasterKey, list[MasterKey]]:
        primary, extras = _file_keys(data_dir)
        return primary, extras + previous

    primary, extras = reload()
    return Keyring(primary, extras, reload=reload)
