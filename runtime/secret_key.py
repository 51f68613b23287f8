"""The server secret: from LLMFORGE_SECRET_KEY, or generated once into the data directory."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path

from runtime.settings import Settings

KEY_FILE = "secret.key"


def load_or_create_secret(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must not each write their own key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def with_secret_key(settings: Settings) -> Settings:
    if settings.security.secret_key:
        return settings
    key = load_or_create_secret(settings.data_dir)
    return dataclasses.replace(
        settings, security=dataclasses.replace(settings.security, secret_key=key)
    )
