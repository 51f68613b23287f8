"""Upstream failures -> ProviderError: HTTP statuses, error bodies and httpx exceptions."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from runtime.llm.types import ErrorKind, ProviderError, StreamError

# Error bodies are small; a proxy that answers with a whole HTML page must not be read whole.
MAX_ERROR_BODY = 16 * 1024
_MAX_MESSAGE = 500

_AUTH_STATUSES = {"UNAUTHENTICATED", "PERMISSION_DENIED"}
# Gemini answers a bad key with 400 INVALID_ARGUMENT; only the detail's reason says so.
_AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED"}

# Error "type" strings of in-stream error events (Anthropic names; others are close).
_TYPE_KINDS: dict[str, ErrorKind] = {
    "authentication_error": "auth",
    "permission_error": "auth",
    "rate_limit_error": "rate_limited",
    "invalid_request_error": "bad_request",
    "not_found_error": "bad_request",
    "request_too_large": "bad_request",
    "overloaded_error": "upstream",
    "api_error": "upstream",
    "timeout_error": "timeout",
    "server_error": "upstream",  # OpenAI's names
    "rate_limit_exceeded": "rate_limited",
    "insufficient_quota": "rate_limited",
    "invalid_api_key": "auth",
    "RESOURCE_EXHAUSTED": "rate_limited",
    "INVALID_ARGUMENT": "bad_request",
    "UNAUTHENTICATED": "auth",
    "PERMISSION_DENIED": "auth",
}


def kind_for_status(status: int) -> ErrorKind:
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if 400 <= status < 500:
        return "bad_request"
    return "upstream"


def kind_for_type(error_type: str | None, default: ErrorKind = "upstream") -> ErrorKind:
    return _TYPE_KINDS.get(error_type or "", default)


def redact(text: str, secret: str | None) -> str:
    """Never let the API key out, even when an upstream echoes it back."""
    if secret and len(secret) >= 4 and secret in text:
        text = text.replace(secret, "***")
    return text


def _error_fields(body: bytes) -> tuple[str | None, str | None, bool]:
    """(message, type, looks like a bad key) from any of the providers' error shapes."""
    try:
        doc: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None, None, False
    if isinstance(doc, list) and doc:  # Gemini sometimes wraps the error in a list
        doc = doc[0]
    if not isinstance(doc, dict):
        return None, None, False
    err = doc.get("error", doc)
    if isinstance(err, str):  # Ollama, llama.cpp: {"error": "model not found"}
        return err, None, False
    if not isinstance(err, dict):
        return None, None, False
    message = err.get("message")
    if not isinstance(message, str):
        detail = doc.get("detail") or doc.get("message")  # FastAPI-style servers
        message = detail if isinstance(detail, str) else None
    error_type = err.get("type") or err.get("status") or err.get("code")
    details = err.get("details")
    bad_key = err.get("status") in _AUTH_STATUSES or (
        isinstance(details, list)
        and any(isinstance(d, dict) and d.get("reason") in _AUTH_REASONS for d in details)
    )
    return message, str(error_type) if error_type is not None else None, bad_key


def error_message(body: bytes, fallback: str) -> str:
    message, _, _ = _error_fields(body)
    if message is None:
        text = body.decode("utf-8", "replace").strip()
        message = text if text and not text.startswith("<") else fallback
    return message[:_MAX_MESSAGE]


def error_from_response(
    status: int,
    headers: httpx.Headers,
    body: bytes,
    *,
    secret: str | None,
    retry_after: float | None = None,
) -> ProviderError:
    message, _, bad_key = _error_fields(body)
    kind = "auth" if bad_key else kind_for_status(status)
    if message is None:
        message = error_message(body, f"upstream answered HTTP {status}")
    return ProviderError(
        kind,
        redact(message[:_MAX_MESSAGE], secret),
        status=status,
        retry_after=retry_after,
    )


def error_from_json_stream(body: bytes, *, secret: str | None) -> ProviderError:
    """A 2xx JSON body where an event stream was asked for: an error, or a server that
    ignored ``stream: true``; either way nothing can be relayed from it."""
    message, error_type, bad_key = _error_fields(body)
    if message is None:
        return ProviderError("malformed", "expected an event stream, got a JSON body")
    kind = "auth" if bad_key else kind_for_type(error_type)
    return ProviderError(kind, redact(message[:_MAX_MESSAGE], secret))


def error_from_exception(exc: Exception, *, secret: str | None) -> ProviderError:
    """An httpx failure before the stream started."""
    if isinstance(exc, ProviderError):
        return exc
    kind: ErrorKind
    if isinstance(exc, httpx.TimeoutException):
        kind = "timeout"
        label = {
            httpx.ConnectTimeout: "connect timeout",
            httpx.ReadTimeout: "read timeout: the upstream sent nothing in time",
            httpx.WriteTimeout: "write timeout",
            httpx.PoolTimeout: "no free connection in the pool in time",
        }.get(type(exc), "timeout")
    elif isinstance(exc, httpx.ConnectError):
        kind, label = "unreachable", "cannot connect"
    elif isinstance(exc, httpx.TransportError):
        kind, label = "unreachable", "connection failed"
    elif isinstance(exc, msgspec.DecodeError | msgspec.ValidationError):
        kind, label = "malformed", "the upstream sent invalid JSON"
    else:
        kind, label = "upstream", "request failed"
    detail = str(exc)
    message = f"{label}: {detail}" if detail else label
    return ProviderError(kind, redact(message[:_MAX_MESSAGE], secret))


def stream_error_from_exception(exc: Exception, *, secret: str | None) -> StreamError:
    """An httpx failure after deltas were relayed: the stream ends with this."""
    if isinstance(exc, ProviderError):
        return StreamError(error=exc.kind, message=exc.message, status=exc.status)
    kind: ErrorKind
    if isinstance(exc, httpx.TimeoutException):
        kind, label = "timeout", "read timeout mid-stream"
    elif isinstance(exc, httpx.TransportError):
        # RemoteProtocolError / ReadError: the peer closed or reset the connection.
        kind, label = "upstream", "connection lost mid-stream"
    elif isinstance(exc, msgspec.DecodeError | msgspec.ValidationError):
        kind, label = "malformed", "the upstream sent an invalid chunk"
    else:
        kind, label = "upstream", "stream failed"
    detail = str(exc)
    message = f"{label}: {detail}" if detail else label
    return StreamError(error=kind, message=redact(message[:_MAX_MESSAGE], secret))
