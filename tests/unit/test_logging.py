"""No secret reaches a log line, whoever logged it."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from runtime.logging import configure_logging, redact_secrets
from runtime.settings import LogSettings


def test_secret_fields_and_shapes_are_masked() -> None:
    out = redact_secrets(
        None,
        "info",
        {
            "event": "x",
            "password": "hunter22",
            "api_key": "sk-live-123456789",
            "headers": "Authorization: Bearer eyJhbGciOi.abc.def",
            "note": "key lf_abcdefghijklmnop and whsec_abcdefghijkl",
            "url": "https://x/v1beta/models?key=AIzaSyA1234567890abcdefghij",
            "token_type": "bearer",
        },
    )
    assert out["password"] == "***"
    assert out["api_key"] == "***"
    assert "eyJ" not in out["headers"]
    assert "abcdefghijklmnop" not in out["note"]
    assert "whsec_***" in out["note"]
    assert "AIza***" in out["url"]
    assert "1234567890" not in out["url"]
    assert out["token_type"] == "bearer"


def test_json_logs_carry_bound_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(level="INFO", format="json"))
    with structlog.contextvars.bound_contextvars(request_id="r1"):
        structlog.get_logger("t").info("hello", password="p4ss")
    logging.getLogger("plain").warning("stdlib too")
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert lines[0]["event"] == "hello"
    assert lines[0]["request_id"] == "r1"
    assert lines[0]["password"] == "***"
    assert lines[1]["event"] == "stdlib too"
    assert lines[1]["level"] == "warning"


def test_json_lines_write_odd_values_as_their_repr() -> None:
    import datetime as dt
    import json

    from runtime.logging import dumps_json

    class Odd:
        def __repr__(self) -> str:
            return "<odd>"

    line = json.loads(dumps_json({"event": "x", "value": Odd(), "n": 1}))
    assert line == {"event": "x", "value": "<odd>", "n": 1}
    when = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    assert json.loads(dumps_json({"at": when}))["at"].startswith("2026-12-06T00:00:00")
    assert json.loads(dumps_json({"event": "y", "k": {(1, 2): 3}})) == {
        "event": "y",
        "k": {"(1, 2)": 3},
    }
    # What msgspec refuses goes through the standard library.
    assert json.loads(dumps_json({"big": 2**70})) == {"big": 2**70}


def test_values_without_a_key_shape_are_left_alone() -> None:
    from runtime.logging import redact_secrets

    event = {"event": "call", "path": "/v1/chat/completions", "auth": "Bearer abc.def"}
    out = redact_secrets(None, "info", event)
    assert out["path"] == "/v1/chat/completions"
    assert out["auth"] == "Bearer ***"


def test_httpx_request_lines_are_not_logged_but_its_warnings_are() -> None:
    import logging

    configure_logging(LogSettings(level="INFO", format="json"))
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    configure_logging(LogSettings(level="ERROR", format="json"))
    assert not logging.getLogger("httpx").isEnabledFor(logging.WARNING)
