"""Incremental Server-Sent Events parser over raw byte chunks (the per-token hot path)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import msgspec


class SSEEvent(msgspec.Struct, gc=False):
    """One dispatched event. ``data`` stays bytes so a msgspec decoder reads it directly."""

    data: bytes
    event: str = "message"
    id: str | None = None


class SSEParser:
    """Feed raw chunks as they arrive; get back every event they complete.

    Follows the WHATWG event-stream rules: lines end in LF, CRLF or CR; ``:`` starts a
    comment; multi-line ``data:`` fields join with LF; a blank line dispatches. Work is
    done with bytes methods on whole chunks because this runs once per streamed token.
    """

    __slots__ = ("_buf", "_data", "_event", "_id")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # A CR at the very end may be the first half of a CRLF split across chunks.
            held = b"\r" if buf.endswith(b"\r") else b""
            if held:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buf.split(b"\n")
            self._buf = lines.pop() + held
        else:
            lines = buf.split(b"\n")
            self._buf = lines.pop()
        if not lines:
            return []
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(
                        SSEEvent(
                            data[0] if len(data) == 1 else b"\n".join(data),
                            self._event or "message",
                            self._id,
                        )
                    )
                    data.clear()
                self._event = None
                continue
            if line[:5] == b"data:":
                data.append(line[6:] if line[5:6] == b" " else line[5:])
                continue
            if line[:1] == b":":
                continue  # comment, e.g. a keep-alive
            name, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if name == b"event":
                self._event = value.decode()
            elif name == b"data":  # "data" without a colon: an empty data line
                data.append(value)
            elif name == b"id" and b"\0" not in value:
                self._id = value.decode()
            # "retry" and unknown fields are ignored, as the spec says.
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: a trailing event without its blank line is still delivered.

        The spec would drop it; servers that forget the final blank line are common enough
        that being lenient is worth more than being strict.
        """
        events = self.feed(b"\n\n") if (self._buf or self._data) else []
        self._buf = b""
        return events


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEEvent]:
    """Events from an async byte stream (e.g. ``httpx.Response.aiter_bytes()``)."""
    parser = SSEParser()
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
    for event in parser.flush():
        yield event
