"""The keep-alive frame shared by every SSE stream."""

from __future__ import annotations

from runtime.sse import ping


def test_a_ping_is_a_comment_line_and_nothing_a_client_would_dispatch() -> None:
    # An empty `data:` line (Litestar's default) would make an EventSource fire a blank
    # `message` event on every heartbeat.
    assert ping().encode() == b": ping\r\n\r\n"
