"""structlog set-up: JSON lines in production, a console renderer on a terminal."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import msgspec
import structlog

from runtime.settings import LogSettings

_SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|api[_-]?key|authorization|cookie|credential", re.IGNORECASE
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")
# Personal keys, OpenAI/Anthropic-style keys, webhook secrets, Google (Gemini) API keys.
_KEY_SHAPES = re.compile(r"\b(lf_|sk-|whsec_|AIza)[A-Za-z0-9_-]{6,}")


# Substrings every match of _BEARER or _KEY_SHAPES contains: most values hold none of them,
# and five substring scans cost less than two regex passes (every request logs a line).
_SHAPE_HINTS = ("Bearer", "lf_", "sk-", "whsec_", "AIza")


def _mask(value: Any) -> Any:
    if isinstance(value, str) and any(hint in value for hint in _SHAPE_HINTS):
        return _KEY_SHAPES.sub(r"\1***", _BEARER.sub(r"\1***", value))
    return value


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return bool(_SECRET_KEYS.search(key)) and key not in {"token_type", "event"}


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Last line of defence: no secret reaches a log line, whoever logged it."""
    for key in list(event_dict):
        if _secret_key(key):
            event_dict[key] = "***"
        else:
            event_dict[key] = _mask(event_dict[key])
    return event_dict


_encoder = msgspec.json.Encoder(enc_hook=repr)


def dumps_json(obj: Any, **_: Any) -> str:
    """JSONRenderer's serializer: msgspec, a few times faster than json.dumps per line.

    Values JSON has no type for are written as their repr, as structlog's default does.
    """
    try:
        return _encoder.encode(obj).decode()
    except (TypeError, ValueError, OverflowError):  # e.g. an int beyond 64 bits
        return json.dumps(obj, default=repr, skipkeys=True)


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
        structlog.dev.ConsoleRenderer()
        if use_console
        else structlog.processors.JSONRenderer(serializer=dumps_json)
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
    # httpx logs a line per upstream request at INFO: the gateway's call events already
    # record each call, and at 800 calls/s that line was 3 % of the process's CPU.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
