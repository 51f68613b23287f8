"""Clients that behave as a browser behind a load balancer: fail over, resume, retry.

``Endpoints`` is the client's view of the API replicas (a dead one is skipped); the feed
reader resumes ``GET /api/events`` on another replica from its ``Last-Event-ID``; a chat
turn cut by a dying replica is asked again elsewhere. Also used by bench/scaleout.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

# What a dying server looks like from the client: refused, reset, or cut mid-body.
CONNECTION_ERRORS = (httpx.TransportError,)


@dataclass
class Sse:
    event: str | None = None
    id: str | None = None
    data: str = ""


async def sse_events(response: httpx.Response) -> AsyncIterator[Sse]:
    """The events of an SSE body (comments skipped)."""
    buffer = ""
    async for chunk in response.aiter_text():
        buffer += chunk.replace("\r\n", "\n")
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            sse, data = Sse(), []
            for line in block.split("\n"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    sse.event = value
                elif name == "id":
                    sse.id = value
                elif name == "data":
                    data.append(value)
            if sse.event or data:
                sse.data = "\n".join(data)
                yield sse


class Endpoints:
    """The API replicas in order of preference; ``failed`` moves a client to the next."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self._index = 0

    @property
    def current(self) -> str:
        return self.urls[self._index % len(self.urls)]

    def failed(self, url: str) -> None:
        if url == self.current:
            self._index += 1


@dataclass
class FeedReader:
    """Follows one user's event feed across replicas; every event once, in order."""

    endpoints: Endpoints
    headers: dict[str, str]
    types: str
    events: list[dict[str, Any]] = field(default_factory=list)
    last_id: str | None = None
    reconnects: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    errors: list[str] = field(default_factory=list)

    async def run(self, http: httpx.AsyncClient) -> None:
        """Until cancelled; a cut stream is resumed on the next replica from ``last_id``."""
        while True:
            url = self.endpoints.current
            headers = dict(self.headers)
            if self.last_id:
                headers["Last-Event-ID"] = self.last_id
            try:
                async with http.stream(
                    "GET", f"{url}/api/events", params={"types": self.types}, headers=headers
                ) as response:
                    if response.status_code != 200:
                        self.errors.append(f"{response.status_code} {await response.aread()!r}")
                        self.endpoints.failed(url)
                        await asyncio.sleep(0.2)
                        continue
                    async for sse in sse_events(response):
                        self._take(sse)
            except CONNECTION_ERRORS:
                pass
            # The stream ended or broke: that replica is gone (or going); resume elsewhere.
            self.endpoints.failed(url)
            self.reconnects += 1
            await asyncio.sleep(0.05)

    def _take(self, sse: Sse) -> None:
        if sse.event == "ready":
            self.last_id = self.last_id or sse.id
            self.ready.set()
        elif sse.event == "error":
            self.errors.append(sse.data)
        elif sse.event and sse.id:
            self.events.append(json.loads(sse.data))
            self.last_id = sse.id

    @property
    def ids(self) -> list[str]:
        return [str(e["id"]) for e in self.events]


@dataclass
class TurnResult:
    url: str
    turn_id: str | None = None
    outcome: str | None = None  # done | error; None: the stream was cut
    events: list[str] = field(default_factory=list)


async def chat_turn(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], session_id: str, content: str
) -> TurnResult:
    """Send one message and read its SSE answer to the end (or until the replica dies)."""
    result = TurnResult(url)
    try:
        async with http.stream(
            "POST",
            f"{url}/api/chat/sessions/{session_id}/messages",
            json={"content": content},
            headers=headers,
        ) as response:
            if response.status_code != 200:
                body = await response.aread()
                raise AssertionError(f"chat send: {response.status_code} {body!r}")
            async for sse in sse_events(response):
                result.events.append(sse.event or "")
                if sse.event == "start":
                    result.turn_id = json.loads(sse.data)["turn_id"]
                elif sse.event in ("done", "error"):
                    result.outcome = sse.event
    except CONNECTION_ERRORS:
        result.outcome = None
    return result
