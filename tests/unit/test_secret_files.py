"""Secrets come from the environment or from the file ``<NAME>_FILE`` names, never both."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli import main
from runtime.settings import SECRET_SETTINGS, Settings, SettingsError, load_settings

# Where each secret setting lands, read back from the loaded settings.
READ_BACK = {
    "LLMFORGE_SECRET_KEY": lambda s: s.security.secret_key,
    "LLMFORGE_MASTER_KEY": lambda s: s.security.master_key,
    "LLMFORGE_MASTER_KEY_PREVIOUS": lambda s: ",".join(s.security.master_key_previous),
    "DATABASE_URL": lambda s: s.database.url,
    "NATS_URL": lambda s: s.nats.url,
    "QDRANT_API_KEY": lambda s: s.knowledge.qdrant_api_key,
    "SWANLAB_API_KEY": lambda s: s.training.swanlab_api_key,
    "LLMFORGE_METRICS_TOKEN": lambda s: s.observability.metrics_token,
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_SETTINGS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def test_every_secret_setting_has_a_read_back() -> None:
    assert set(READ_BACK) == set(SECRET_SETTINGS)


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_each_secret_is_read_from_its_file_without_the_trailing_newline(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file-0123456789\n", encoding="utf-8")
    monkeypatch.setenv(f"{name}_FILE", str(secret))
    settings: Settings = load_settings()
    assert READ_BACK[name](settings) == "from-a-file-0123456789"


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_each_secret_is_still_read_from_the_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "from-the-environment")
    assert READ_BACK[name](load_settings()) == "from-the-environment"


def test_a_secret_set_both_ways_is_refused_naming_both_and_not_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("file-value", encoding="utf-8")
    monkeypatch.setenv("LLMFORGE_SECRET_KEY", "env-value")
    monkeypatch.setenv("LLMFORGE_SECRET_KEY_FILE", str(secret))
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert "LLMFORGE_SECRET_KEY and LLMFORGE_SECRET_KEY_FILE" in message
    assert "env-value" not in message
    assert "file-value" not in message


def test_a_missing_file_is_refused_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope"
    monkeypatch.setenv("LLMFORGE_MASTER_KEY_FILE", str(missing))
    with pytest.raises(SettingsError, match=r"LLMFORGE_MASTER_KEY_FILE=.*nope: cannot read"):
        load_settings()


def test_an_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A directory stands for a file the process may not read: root ignores file modes.
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path))
    with pytest.raises(SettingsError, match=r"DATABASE_URL_FILE=.*cannot read"):
        load_settings()


def test_a_file_that_is_not_text_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00secret")
    monkeypatch.setenv("LLMFORGE_METRICS_TOKEN_FILE", str(binary))
    with pytest.raises(SettingsError, match=r"LLMFORGE_METRICS_TOKEN_FILE=.*cannot read"):
        load_settings()


def test_an_empty_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    monkeypatch.setenv("QDRANT_API_KEY_FILE", str(empty))
    with pytest.raises(SettingsError, match=r"QDRANT_API_KEY_FILE=.*empty"):
        load_settings()


def test_a_command_line_option_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("file-value", encoding="utf-8")
    monkeypatch.setenv("LLMFORGE_SECRET_KEY_FILE", str(secret))
    settings = load_settings({"LLMFORGE_SECRET_KEY": "option-value"})
    assert settings.security.secret_key == "option-value"


def test_master_key_previous_from_a_file_splits_on_commas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "previous"
    keys.write_text("a2V5LW9uZQ==, a2V5LXR3bw==\n", encoding="utf-8")
    monkeypatch.setenv("LLMFORGE_MASTER_KEY_PREVIOUS_FILE", str(keys))
    assert load_settings().security.master_key_previous == ("a2V5LW9uZQ==", "a2V5LXR3bw==")


def test_the_cli_reports_a_bad_secret_file_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLMFORGE_SECRET_KEY_FILE", str(tmp_path / "absent"))
    assert main(["migrate"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("llmforge: LLMFORGE_SECRET_KEY_FILE=")
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("samesite", "secure", "expected"),
    [
        (None, "on", "strict"),
        ("Lax", "on", "lax"),
        ("none", "on", "none"),
    ],
)
def test_cookie_samesite_setting(
    samesite: str | None, secure: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMFORGE_COOKIE_SAMESITE", raising=False)
    if samesite is not None:
        monkeypatch.setenv("LLMFORGE_COOKIE_SAMESITE", samesite)
    monkeypatch.setenv("LLMFORGE_COOKIE_SECURE", secure)
    assert load_settings().security.cookie_samesite == expected


def test_samesite_none_without_secure_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Browsers drop such a cookie: refusing at start beats a login that silently never sticks.
    monkeypatch.setenv("LLMFORGE_COOKIE_SAMESITE", "none")
    monkeypatch.setenv("LLMFORGE_COOKIE_SECURE", "off")
    with pytest.raises(SettingsError, match="needs LLMFORGE_COOKIE_SECURE"):
        load_settings()


def test_an_unknown_samesite_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMFORGE_COOKIE_SAMESITE", "sometimes")
    with pytest.raises(SettingsError, match="strict, lax or none"):
        load_settings()


@pytest.mark.parametrize("origin", ["https://app.example.com/", "app.example.com", "ftp://x.y"])
def test_cors_origins_that_no_browser_sends_are_refused(
    origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMFORGE_CORS_ORIGINS", f"https://ok.example.com, {origin}")
    with pytest.raises(SettingsError, match="LLMFORGE_CORS_ORIGINS"):
        load_settings()


def test_cors_origins_accept_ports_and_wildcards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMFORGE_CORS_ORIGINS", "http://localhost:5173, https://*.example.com")
    assert load_settings().server.cors_origins == ("http://localhost:5173", "https://*.example.com")


def test_hsts_is_off_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMFORGE_HSTS_MAX_AGE", raising=False)
    assert load_settings().server.hsts_max_age == 0
    monkeypatch.setenv("LLMFORGE_HSTS_MAX_AGE", "31536000")
    assert load_settings().server.hsts_max_age == 31536000
