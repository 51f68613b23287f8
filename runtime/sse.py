"""Frames every server-sent event stream of the platform shares."""

from __future__ import annotations

from litestar.response import ServerSentEventMessage


def ping() -> ServerSentEventMessage:
    """A keep-alive: a comment line alone, which clients ignore.

    ``data=None`` because Litestar's default (``""``) adds an empty ``data:`` line, and
    per the SSE spec an ``EventSource`` dispatches that as a blank ``message`` event: one
    spurious message per idle heartbeat, read by a line parser as the previous event's.
    """
    return ServerSentEventMessage(comment="ping", data=None)
