"""A tiny HTTP/1.1 server on asyncio (keep-alive, chunked streaming) that the fakes build on.

Built on ``asyncio.Protocol`` rather than a web framework: it starts in a millisecond,
costs little per token (a benchmark paces tokens through it), and it sees the socket, so
it can tell when a client hung up mid-stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Scenario:
    """How the fake answers; set ``fake.scenario`` or queue several with ``fake.enqueue``."""

    tokens: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "!"])
    reasoning: list[str] = field(default_factory=list)
    # OpenAI-compatible: "field" sends reasoning in reasoning_field, "inline" as <think> text.
    # Anthropic always uses thinking blocks and Gemini thought parts.
    reasoning_mode: Literal["field", "inline"] = "field"
    reasoning_field: str = "reasoning_content"
    first_byte_delay: float = 0.0  # before the status line
    token_delay: float = 0.0  # between two streamed tokens: a fixed token rate
    status: int = 200  # non-200: the provider's error body, on every route
    error_message: str = "scripted failure"
    retry_after: str | None = None  # Retry-After header on an error status
    malformed_after: int | None = None  # after N tokens, send a chunk that is not JSON
    error_event_after: int | None = None  # after N tokens, the provider's in-stream error
    drop_after: int | None = None  # after N tokens, close the connection mid-body
    finish_reason: str = "stop"  # normalized; each fake sends its own name for it
    input_tokens: int = 11
    cached_tokens: int = 0
    send_done: bool = True  # OpenAI [DONE] / Anthropic message_stop
    ignore_stream: bool = False  # OpenAI-compatible: answer stream=true with plain JSON
    models: list[str] = field(default_factory=lambda: ["model-a", "model-b"])
    page_size: int = 1000  # models per page of the listing
    embedding_dim: int = 4

    @property
    def output_tokens(self) -> int:
        return len(self.tokens) + len(self.reasoning)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Disconnect:
    """The client went away before the fake finished its answer."""

    path: str
    tokens_sent: int
    at: float = field(default_factory=time.monotonic)


class Exchange:
    """One request on one connection; the handler answers through it."""

    def __init__(self, conn: _Connection, request: RecordedRequest) -> None:
        self._conn = conn
        self.request = request
        self.tokens_sent = 0

    @property
    def closed(self) -> bool:
        return self._conn.closed.is_set()

    async def pause(self, seconds: float) -> bool:
        """Sleep, waking early if the client hangs up; False when it did."""
        if seconds > 0 and not self.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._conn.closed.wait(), seconds)
        return not self.closed

    def _head(self, status: int, headers: dict[str, str]) -> None:
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self._conn.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self._head(
            status,
            {"content-type": content_type, "content-length": str(len(body)), **(headers or {})},
        )
        self._conn.write(body)

    def respond_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.respond(status, json.dumps(obj).encode(), headers=headers)

    def start_stream(self, content_type: str = "text/event-stream; charset=utf-8") -> None:
        self._head(
            200,
            {
                "content-type": content_type,
                "transfer-encoding": "chunked",
                "cache-control": "no-cache",
            },
        )

    def send(self, data: bytes) -> bool:
        """One chunk of the body; False once the client has gone."""
        if self.closed:
            return False
        self._conn.write(b"%x\r\n%s\r\n" % (len(data), data))
        return True

    def end_stream(self) -> None:
        self._conn.write(b"0\r\n\r\n")

    def drop(self) -> None:
        """Close the connection mid-body: the client sees an incomplete chunked read."""
        self._conn.drop()


class _Connection(asyncio.Protocol):
    def __init__(self, server: FakeServer) -> None:
        self._server = server
        self._buf = b""
        self._busy = False
        self.closed = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._server._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._next()

    def eof_received(self) -> bool:
        self.closed.set()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self._server._connections.discard(self)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed.is_set():
            self.transport.write(data)

    def drop(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed.set()

    def _next(self) -> None:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self._buf[:end].decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self._buf) < end + 4 + length:
            return  # the body is still arriving
        body = self._buf[end + 4 : end + 4 + length]
        self._buf = self._buf[end + 4 + length :]
        url = urlsplit(target)
        request = RecordedRequest(
            method=method,
            path=url.path,
            query=dict(parse_qsl(url.query)),
            headers=headers,
            body=body,
        )
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._run(request))
        self._server._tasks.add(task)
        task.add_done_callback(self._server._tasks.discard)

    async def _run(self, request: RecordedRequest) -> None:
        exchange = Exchange(self, request)
        try:
            await self._server._dispatch(exchange)
        except Exception as exc:  # a bug in a fake must show, not hang the client
            if not self.closed.is_set():
                exchange.respond_json(500, {"error": {"message": f"fake crashed: {exc!r}"}})
            raise
        finally:
            self._busy = False
        if request.headers.get("connection", "").lower() == "close":
            self.drop()
        elif not self.closed.is_set():
            self._next()


class FakeServer:
    """Base of the provider fakes: routing, records, scenarios, start/stop."""

    version_prefix = ""

    def __init__(self, api_key: str | None = "test-key") -> None:
        self.api_key = api_key
        self.scenario = Scenario()
        self._queue: deque[Scenario] = deque()
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[Disconnect] = []
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What a user would enter as the provider's base_url."""
        return self.origin

    def enqueue(self, *scenarios: Scenario) -> None:
        """Answer the next requests with these, in order; then fall back to ``scenario``."""
        self._queue.extend(scenarios)

    def next_scenario(self) -> Scenario:
        return self._queue.popleft() if self._queue else self.scenario

    async def wait_for_disconnect(self, count: int = 1, within: float = 2.0) -> list[Disconnect]:
        """Bounded poll until ``count`` disconnects are recorded."""
        deadline = time.monotonic() + within
        while len(self.disconnects) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no client disconnect seen within {within}s")
            await asyncio.sleep(0.005)
        return self.disconnects

    async def start(self) -> Self:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.drop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _dispatch(self, exchange: Exchange) -> None:
        self.requests.append(exchange.request)
        scenario = self.next_scenario()
        if not await exchange.pause(scenario.first_byte_delay):
            self.disconnects.append(Disconnect(exchange.request.path, 0))
            return
        await self.handle(exchange, scenario)

    async def handle(self, exchange: Exchange, scenario: Scenario) -> None:
        raise NotImplementedError

    # --- shared streaming helpers -------------------------------------------------------

    async def stream_tokens(
        self,
        exchange: Exchange,
        scenario: Scenario,
        events: Sequence[bytes],
        *,
        malformed: bytes,
        error_event: bytes,
        prologue: Sequence[bytes] = (),
        epilogue: Sequence[bytes] = (),
    ) -> None:
        """Prologue, one event per token (paced, with the scripted faults), epilogue."""
        exchange.start_stream()
        for data in prologue:
            exchange.send(data)
        n = len(events)
        for i in range(n + 1):
            # Index n is the end of the stream, so faults can also hit after the last token.
            if 0 < i < n and not await exchange.pause(scenario.token_delay):
                break
            if i == scenario.drop_after:
                exchange.drop()
                return
            if i == scenario.malformed_after:
                exchange.send(malformed)
            if i == scenario.error_event_after:
                exchange.send(error_event)
                exchange.end_stream()
                return
            if i == n:
                for data in epilogue:
                    exchange.send(data)
                if exchange.closed:
                    break
                exchange.end_stream()
                return
            if not exchange.send(events[i]):
                break
            exchange.tokens_sent += 1
        self.disconnects.append(Disconnect(exchange.request.path, exchange.tokens_sent))
