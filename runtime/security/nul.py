"""NUL characters are refused at the edge: PostgreSQL cannot store them in text, so an id,
query or JSON string holding one would fail deep inside (a 500, or a consumer that keeps
failing on the event), and SQLite would quietly accept what PostgreSQL cannot."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from runtime.errors import BadRequest

# A JSON string escape \u0000 after an even run of backslashes (an odd run is an escaped
# backslash followed by the text "u0000", which is fine).
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# Streamed uploads are read by their handlers, part by part; they never reach a text column
# whole, and reading them here would buffer them in memory.
_STREAMED = ("multipart/",)


def _refused(where: str) -> BadRequest:
    return BadRequest(
        "nul_character",
        "NUL character in the request",
        f"The {where} holds a NUL character (U+0000), which no text here may contain.",
    )


def without_nul(text: str, where: str) -> str:
    """``text`` unchanged, or the same 400 for the parts of streamed uploads (form fields,
    file names) that handlers read themselves and store as text."""
    if "\x00" in text:
        raise _refused(where)
    return text


async def refuse_nul_characters(request: Request[Any, Any, Any]) -> None:
    """An app-level ``before_request`` hook: it runs after the guards, before the body is
    parsed; a route or controller defining its own ``before_request`` would replace it."""
    scope = request.scope
    if "\x00" in scope["path"]:
        raise _refused("path")
    if b"%00" in scope.get("query_string", b""):
        raise _refused("query")
    headers = request.headers
    length = headers.get("content-length")
    if (length is None or length == "0") and "transfer-encoding" not in headers:
        return
    if headers.get("content-type", "").startswith(_STREAMED):
        return
    if request.route_handler.resolve_request_max_body_size() is None:
        return  # a route that streams bodies of any size; buffering here would defeat it
    # Cached by Litestar: the handler's own parsing reads the same bytes, not the socket.
    body = await request.body()
    if b"\\u0000" in body and _ESCAPED_NUL.search(body):
        raise _refused("body")
