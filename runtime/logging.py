"""structlog set-up: JSON lines in production, a console renderer on a terminal."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from runtime.settings import LogSettings

_SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|authorization|cookie|credential", re.IGNORECASE
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")
# Personal keys, OpenAI/Anthropic-style keys, webhook secrets, Google (Gemini) API keys.
_KEY_SHAPES = re.compile(r"\b(lf_|sk-|whsec_|AIza)[A-Za-z0-9_-]{6,}")


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _KEY_SHAPES.sub(r"\1***", _BEARER.sub(r"\1***", value))
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Last line of defence: no secret reaches a log line, whoever logged it."""
    for key in list(event_dict):
        if _SECRET_KEYS.search(key) and key not in {"token_type", "event"}:
            event_dict[key] = "***"
        else:
            event_dict[key] = _mask(event_dict[key])
    return event_dict


def configure_logging(settings: LogSettings) -> None:
    use_console = settings.format == "console" or (
        settings.format == "auto" and sys.stderr.isatty()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    # uvicorn's own access log would duplicate ours, and without the request id.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
