"""GET /api/events over real HTTP: resume without gaps or repeats, visibility, heartbeats."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from runtime.platform import Platform
from runtime.settings import EventFeedSettings
from tests.fixtures.nats import user_registered
from tests.integration.test_webhooks_api import login

# The feed never touches the database: one backend is enough.
pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"])


@dataclass
class Sse:
    event: str | None = None
    id: str | None = None
    data: str = ""
    comment: str | None = None
    data_lines: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class SseReader:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> Sse:
        message = Sse()
        async for line in self._lines:
            if not line:
                return message
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                message.comment = value
            elif name == "data":
                message.data += value
                message.data_lines += 1
            elif name in ("event", "id"):
                setattr(message, name, value)
        raise AssertionError("the stream ended")

    async def events(self, count: int) -> list[Sse]:
        """The next ``count`` events, skipping heartbeats."""
        got: list[Sse] = []
        while len(got) < count:
            message = await self.next()
            if message.comment is None:
                got.append(message)
        return got


@pytest.fixture
async def feed_platform(platform_factory: Any) -> Platform:
    settings = EventFeedSettings(heartbeat_seconds=0.3)
    platform: Platform = await platform_factory(overrides={"event_feed": settings})
    return platform


@pytest.fixture
async def http(feed_platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=feed_platform.url, timeout=10.0) as client:
        yield client


@asynccontextmanager
async def open_feed(
    http: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> AsyncIterator[SseReader]:
    async with http.stream("GET", "/api/events", headers=headers, params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SseReader(response)
        ready = await reader.next()
        assert ready.event == "ready"
        yield reader


async def test_resuming_with_last_event_id_sees_every_event_once_in_order(
    feed_platform: Platform, http: httpx.AsyncClient
) -> None:
    _, headers = await login(feed_platform, http, "root@example.com", "admin")
    published = [user_registered(f"u{i}") for i in range(6)]
    types = {"types": "auth.user.registered"}
    async with open_feed(http, headers, **types) as feed:
        for event in published:
            await feed_platform.services.bus.publish(event)
        first = await feed.events(3)
    assert [m.json["id"] for m in first] == [e.id for e in published[:3]]
    assert all(m.event == "llmforge.auth.user.registered.v1" for m in first)

    resume = {**headers, "Last-Event-ID": first[-1].id or ""}
    async with open_feed(http, resume, **types) as feed:
        rest = await feed.events(3)
        assert [m.json["id"] for m in rest] == [e.id for e in published[3:]]
        # Nothing else is owed: the next thing on the wire is a heartbeat.
        assert (await feed.next()).comment == "ping"

    async with open_feed(http, headers, last_event_id=first[0].id or "", **types) as feed:
        again = await feed.events(5)
        assert [m.json["id"] for m in again] == [e.id for e in published[1:]]


async def test_a_user_sees_only_events_about_themselves(
    feed_platform: Platform, http: httpx.AsyncClient
) -> None:
    ann_id, ann = await login(feed_platform, http, "ann@example.com")
    bob_id, _ = await login(feed_platform, http, "bob@example.com")
    bus = feed_platform.services.bus
    async with open_feed(http, ann) as feed:
        # Idle: heartbeats keep it open. A comment alone: any `data:` line, even an empty
        # one, would reach an EventSource as a blank message.
        heartbeat = await feed.next()
        assert (heartbeat.comment, heartbeat.data_lines) == ("ping", 0)
        await bus.publish(user_registered(bob_id))
        await bus.publish(user_registered("someone", actor=ann_id))
        await bus.publish(user_registered(ann_id))
        seen = await feed.events(2)
    assert [m.json["subject"] for m in seen] == ["someone", ann_id]


async def test_bad_queries_are_refused_before_streaming(
    feed_platform: Platform, http: httpx.AsyncClient
) -> None:
    _, headers = await login(feed_platform, http, "ann@example.com")
    for params, header in [
        ({"types": "auth.>.x"}, {}),
        ({"types": "nosuchdomain.>"}, {}),
        ({}, {"Last-Event-ID": "not a token"}),
    ]:
        response = await http.get("/api/events", params=params, headers={**headers, **header})
        assert response.status_code == 400, params
        assert response.json()["code"] == "invalid_feed_query"
    assert (await http.get("/api/events")).status_code == 401
