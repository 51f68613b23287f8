"""Server-sent events in OpenAI's exact framing, from pre-encoded bytes.

Per token the only encoding work is one ``msgspec.json.encode`` of the text: the
constant part of the chunk is encoded once per stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec

from handlers.openai_api.convert import completion_usage, finish_reason
from handlers.openai_api.errors import ErrorBody, ErrorDetail
from handlers.openai_api.schemas import ChunkHead, UsageChunk
from runtime.llm.stream import ChatStream
from runtime.llm.types import ContentDelta, Finish, ReasoningDelta, StreamError

DONE = b"data: [DONE]\n\n"
_encode = msgspec.json.encode


class ChunkFramer:
    def __init__(self, call_id: str, created: int, model: str, *, include_usage: bool) -> None:
        self.head = ChunkHead(id=call_id, created=created, model=model)
        # b'{"id":…,"model":"…"}' → b'data: {"id":…,"model":"…","choices":[{"index":0,"delta":{'
        self._prefix = b"data: " + _encode(self.head)[:-1] + b',"choices":[{"index":0,"delta":{'
        tail = b',"usage":null' if include_usage else b""
        self._open = b'},"logprobs":null,"finish_reason":null}]' + tail + b"}\n\n"
        self._tail = tail

    def role(self) -> bytes:
        return self._prefix + b'"role":"assistant","content":""' + self._open

    def content(self, text: str) -> bytes:
        return self._prefix + b'"content":' + _encode(text) + self._open

    def reasoning(self, text: str) -> bytes:
        return self._prefix + b'"reasoning_content":' + _encode(text) + self._open

    def finish(self, reason: str | None) -> bytes:
        end = b'},"logprobs":null,"finish_reason":' + _encode(finish_reason(reason)) + b"}]"
        return self._prefix + end + self._tail + b"}\n\n"

    def usage(self, stream: ChatStream) -> bytes:
        h = self.head
        chunk = UsageChunk(
            id=h.id,
            created=h.created,
            model=h.model,
            choices=[],
            usage=completion_usage(stream.meter.usage),
        )
        return b"data: " + _encode(chunk) + b"\n\n"


def error_event(error: StreamError) -> bytes:
    # The SDKs raise an APIError when a data line carries an "error" object.
    code = "rate_limit_exceeded" if error.error == "rate_limited" else f"upstream_{error.error}"
    detail = ErrorDetail(message=error.message, type="upstream_error", code=code)
    return b"data: " + _encode(ErrorBody(error=detail)) + b"\n\n"


async def sse_chunks(
    stream: ChatStream, framer: ChunkFramer, *, include_usage: bool
) -> AsyncIterator[bytes]:
    """The response body; closing it early (client gone) closes the upstream call.

    One write per token: the role chunk rides with the first delta (already at hand when
    the stream opens), and the finish chunk is held back to leave with the usage, the
    server-timing comment and ``[DONE]`` in one last write.
    """
    finished = False
    pending = framer.role()
    relay = aiter(stream)
    content = framer.content
    try:
        async for delta in relay:
            if isinstance(delta, ContentDelta):
                frame = content(delta.text)
            elif isinstance(delta, ReasoningDelta):
                frame = framer.reasoning(delta.text)
            elif isinstance(delta, Finish):
                if delta.reason not in ("error", "cancelled"):
                    finished = True
                    pending += framer.finish(delta.reason)
                continue
            elif isinstance(delta, StreamError):
                finished = True
                frame = error_event(delta)
            else:
                continue
            if pending:
                frame = pending + frame
                pending = b""
            yield frame
    finally:
        # Closed while suspended at a yield: end the relay now (it closes the upstream
        # and records the call as cancelled) rather than whenever it is collected.
        await relay.aclose()
    if not finished:
        pending += framer.finish(None)
    if include_usage:
        pending += framer.usage(stream)
    timing = stream.meter.server_timing().encode()
    yield pending + b": server-timing " + timing + b"\n\n" + DONE
