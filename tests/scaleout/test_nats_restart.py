"""NATS loses a node, then restarts whole: writes answer 201 or a clean 503, none is lost.

Writes here are prompt templates: the row and its event commit together (outbox), the
request publishes right after, and a relay in every API process re-publishes what could
not be sent; the event id is the ``Nats-Msg-Id``, so a re-publish is stored once. The
audit consumer (in the worker) writes one row per event id: it shows the consumers read
every event once after the broker came back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import httpx
import nats
import pytest

from tests.fakes import FakeOpenAI
from tests.fixtures.nats import eventually
from tests.scaleout.clients import CONNECTION_ERRORS, Endpoints, FeedReader, chat_turn
from tests.scaleout.deployment import Deployment

pytestmark = pytest.mark.scaleout

CREATED = "llmforge.prompts.template.created.v1"


class Writers:
    """Concurrent template creations spread over both API processes."""

    def __init__(self, d: Deployment, headers: dict[str, str], prefix: str) -> None:
        self.urls = [d.api(0).url, d.api(1).url]
        self.headers = headers
        self.prefix = prefix
        self.acknowledged: list[str] = []
        self.statuses: Counter[int] = Counter()
        self._names = itertools.count()

    async def write(self, http: httpx.AsyncClient, url: str) -> None:
        name = f"{self.prefix}-{next(self._names)}"
        try:
            response = await http.post(
                f"{url}/api/prompts", json={"name": name, "body": "Hello"}, headers=self.headers
            )
        except CONNECTION_ERRORS as exc:  # no replica died here: this would be a bug
            raise AssertionError(f"connection failed: {exc!r}") from exc
        self.statuses[response.status_code] += 1
        if response.status_code == 201:
            self.acknowledged.append(response.json()["id"])
        else:
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "bus_unavailable"

    async def run(self, http: httpx.AsyncClient, count: int, lanes: int = 4) -> None:
        async def lane(n: int) -> None:
            for i in range(count):
                await self.write(http, self.urls[(n + i) % 2])

        await asyncio.gather(*(lane(n) for n in range(lanes)))


async def stored_once(d: Deployment, ids: list[str]) -> bool:
    """Each id's creation event is in the stream once, and in the audit log once."""
    events = Counter(
        e.subject for e in await d.stream_events("LLMFORGE_PROMPTS") if e.type == CREATED
    )
    if any(events[i] != 1 for i in ids):
        assert all(events[i] <= 1 for i in ids), "an event was stored twice"
        return False
    rows = await d.sql(
        "SELECT subject, count(*) AS n FROM audit_log WHERE type = $1 AND subject = ANY($2::text[])"
        " GROUP BY subject",
        CREATED,
        ids,
    )
    audited = {r["subject"]: r["n"] for r in rows}
    assert all(n == 1 for n in audited.values()), audited
    return set(audited) == set(ids)


async def stream_leader(d: Deployment, stream: str) -> str:
    nc = await nats.connect(servers=d.cluster.url.split(","))
    try:
        info = await nc.jetstream(timeout=10).stream_info(stream)
        assert info.cluster is not None
        assert info.cluster.leader
        return str(info.cluster.leader)
    finally:
        await nc.close()


async def test_losing_the_stream_leader_node_loses_no_acknowledged_write(
    healthy: Deployment,
) -> None:
    d = healthy
    async with httpx.AsyncClient(timeout=30) as http:
        headers = await d.login(http, "node-loss@example.com")
        feed = FeedReader(Endpoints([d.api(0).url, d.api(1).url]), headers, "prompts.>")
        reading = asyncio.create_task(feed.run(http))
        try:
            await asyncio.wait_for(feed.ready.wait(), 10)
            writers = Writers(d, headers, "node-loss")
            await writers.run(http, 3)
            victim = d.cluster.node(await stream_leader(d, "LLMFORGE_PROMPTS"))
            d.cluster.kill_node(victim)
            await writers.run(http, 6)
            d.cluster.start_node(victim)
            await d.cluster.wait_formed()
            await writers.run(http, 3)

            assert set(writers.statuses) <= {201, 503}, writers.statuses
            ids = writers.acknowledged
            assert len(ids) >= 24  # most writes went through on the two nodes left
            await eventually(lambda: stored_once(d, ids), within=60, message="writes lost")

            def seen_all() -> bool:
                return {e["subject"] for e in feed.events if e["type"] == CREATED} >= set(ids)

            await eventually(seen_all, within=30, message="the feed missed events")
            assert len(feed.ids) == len(set(feed.ids)), "the feed repeated an event"
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)


async def test_whole_broker_restart_answers_503_where_it_must_and_catches_up(
    healthy: Deployment, upstream: FakeOpenAI
) -> None:
    d = healthy
    async with httpx.AsyncClient(timeout=30) as http:
        model_id = await d.chat_model(http, upstream.base_url, "restart-root@example.com")
        headers = await d.login(http, "restart@example.com")
        session = await http.post(
            f"{d.api(0).url}/api/chat/sessions",
            json={"model_config_id": model_id},
            headers=headers,
        )
        assert session.status_code == 201, session.text
        session_id = session.json()["id"]
        writers = Writers(d, headers, "restart")
        await writers.run(http, 2)
        for node in d.cluster.nodes:
            d.cluster.stop_node(node)

        # Down: readiness says so, the feed cannot open, writes still commit (outbox).
        for api in (d.api(0), d.api(1)):

            async def not_ready(url: str = api.url) -> dict[str, Any] | None:
                response = await http.get(f"{url}/health/ready")
                return response.json() if response.status_code == 503 else None

            body = await eventually(not_ready, within=15, message="still ready without NATS")
            assert body["checks"]["nats"]["ok"] is False
        feed = await http.get(f"{d.api(0).url}/api/events", headers=headers)
        assert feed.status_code == 200
        assert "bus_unavailable" in feed.text
        await writers.run(http, 3)
        assert writers.statuses[201] >= 8
        pending = await d.sql("SELECT count(*) AS n FROM outbox_events")
        assert pending[0]["n"] > 0
        # Stopping a generation needs the broker (it reaches the replica streaming it).
        stop = await http.post(
            f"{d.api(1).url}/api/chat/sessions/{session_id}/stop", headers=headers
        )
        assert stop.status_code == 503, stop.text
        assert stop.json()["code"] == "bus_unavailable"
        # A turn streams from the provider without the broker; its event waits in the outbox.
        turn = await chat_turn(http, d.api(1).url, headers, session_id, "during the outage")
        assert turn.outcome == "done", turn

        for node in d.cluster.nodes:
            d.cluster.start_node(node)
        await d.cluster.wait_formed(within=60)
        for api in (d.api(0), d.api(1)):
            await api.wait_ready(within=60)
        await writers.run(http, 2)

        assert set(writers.statuses) <= {201, 503}, writers.statuses
        ids = writers.acknowledged
        await eventually(lambda: stored_once(d, ids), within=90, message="writes lost")

        async def relayed() -> bool:
            return (await d.sql("SELECT count(*) AS n FROM outbox_events"))[0]["n"] == 0

        await eventually(relayed, within=30, message="outbox not drained")

        # The worker persisted the turn made while the broker was down, once.
        async def persisted() -> list[Any]:
            rows = await d.sql(
                "SELECT role FROM chat_messages WHERE turn_id = $1 ORDER BY role", turn.turn_id
            )
            return [r["role"] for r in rows]

        assert await eventually(persisted, within=30) == ["assistant", "user"]
