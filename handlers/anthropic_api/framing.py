"""Server-sent events in Anthropic's exact framing: ``message_start``, a ``ping``, per
content block ``content_block_start`` / ``content_block_delta`` (``thinking_delta`` or
``text_delta``) / ``content_block_stop``, then ``message_delta`` (stop reason, usage)
and ``message_stop``; a failure after the first byte is an ``error`` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import msgspec

from handlers.anthropic_api.convert import message_usage, stop_reason
from handlers.anthropic_api.errors import error_body
from handlers.openai_api.compat_errors import upstream_failure
from runtime.llm.stream import ChatStream
from runtime.llm.types import ContentDelta, Finish, ProviderError, ReasoningDelta, StreamError

_encode = msgspec.json.encode
Kind = Literal["thinking", "text"]
_DELTA_FIELD = {"thinking": b"thinking_delta", "text": b"text_delta"}
_START_BLOCK = {
    "thinking": b'{"type":"thinking","thinking":"","signature":""}',
    "text": b'{"type":"text","text":""}',
}


def event(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


class BlockFramer:
    """Numbers the content blocks and opens and closes them as the delta kind changes."""

    def __init__(self) -> None:
        self.index = -1
        self.open: Kind | None = None

    def delta(self, kind: Kind, text: str) -> bytes:
        frames = b""
        if self.open != kind:
            frames += self.close()
            self.index += 1
            self.open = kind
            start = b'{"type":"content_block_start","index":%d,"content_block":%s}' % (
                self.index,
                _START_BLOCK[kind],
            )
            frames += event("content_block_start", start)
        body = b'{"type":"content_block_delta","index":%d,"delta":{"type":"%s","%s":%s}}' % (
            self.index,
            _DELTA_FIELD[kind],
            kind.encode(),
            _encode(text),
        )
        return frames + event("content_block_delta", body)

    def close(self) -> bytes:
        if self.open is None:
            return b""
        self.open = None
        return event("content_block_stop", b'{"type":"content_block_stop","index":%d}' % self.index)


def message_start(stream: ChatStream) -> bytes:
    head = {
        "type": "message_start",
        "message": {
            "id": f"msg_{stream.call_id}",
            "type": "message",
            "role": "assistant",
            "model": stream.model.alias,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # Most upstreams report usage only at the end: message_delta carries it.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        },
    }
    return event("message_start", _encode(head)) + event("ping", b'{"type":"ping"}')


def error_event(error: StreamError) -> bytes:
    failure = upstream_failure(ProviderError(error.error, error.message))
    return event("error", _encode(error_body(failure)))


async def sse_events(stream: ChatStream) -> AsyncIterator[bytes]:
    """The response body; closing it early (client gone) closes the upstream call."""
    blocks = BlockFramer()
    pending = message_start(stream)
    reason: str | None = None
    relay = aiter(stream)
    try:
        async for delta in relay:
            if isinstance(delta, ContentDelta):
                frame = blocks.delta("text", delta.text)
            elif isinstance(delta, ReasoningDelta):
                frame = blocks.delta("thinking", delta.text)
            elif isinstance(delta, Finish):
                reason = delta.reason
                continue
            elif isinstance(delta, StreamError):
                yield pending + blocks.close() + error_event(delta)
                return
            else:
                continue
            if pending:
                frame = pending + frame
                pending = b""
            yield frame
    finally:
        await relay.aclose()
    if reason in ("error", "cancelled"):
        return
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason(reason), "stop_sequence": None},
        "usage": message_usage(stream.meter.usage),
    }
    timing = stream.meter.server_timing().encode()
    yield (
        pending
        + blocks.close()
        + event("message_delta", _encode(end))
        + b": server-timing "
        + timing
        + b"\n\n"
        + event("message_stop", b'{"type":"message_stop"}')
    )
