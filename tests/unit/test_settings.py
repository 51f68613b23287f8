"""Settings come from the environment, with the embedded defaults when unset."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.secret_key import load_or_create_secret, with_secret_key
from runtime.settings import Settings, load_settings, normalize_database_url


def test_defaults_are_the_embedded_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLMFORGE_DATA_DIR", "DATABASE_URL", "NATS_URL", "LLMFORGE_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8000
    assert settings.nats.url is None
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("data/llmforge.db")
    assert settings.webhooks_allow_private is False


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db:5432/llm")
    monkeypatch.setenv("NATS_URL", "nats://n1:4222")
    monkeypatch.setenv("LLMFORGE_PORT", "9000")
    monkeypatch.setenv("LLMFORGE_REGISTRATION_OPEN", "off")
    monkeypatch.setenv("LLMFORGE_WEBHOOKS_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("LLMFORGE_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://u@db:5432/llm"
    assert settings.nats.url == "nats://n1:4222"
    assert settings.server.port == 9000
    assert settings.security.registration_open is False
    assert settings.webhooks_allow_private is True
    assert settings.server.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://h/db", "postgresql+asyncpg://h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
    ],
)
def test_database_urls_get_async_drivers(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_secret_key_is_generated_once_with_private_mode(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    assert len(first) >= 48
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(tmp_path) == first
    settings = with_secret_key(Settings(data_dir=tmp_path))
    assert settings.security.secret_key == first


@pytest.mark.parametrize("given", ["0", "-2", "two"])
def test_api_processes_must_be_a_whole_number_of_at_least_one(given: str) -> None:
    from runtime.settings import SettingsError

    with pytest.raises(SettingsError, match="LLMFORGE_API_PROCESSES must be a whole number"):
        load_settings({"LLMFORGE_API_PROCESSES": given})
    assert load_settings({"LLMFORGE_API_PROCESSES": "3"}).server.processes == 3
