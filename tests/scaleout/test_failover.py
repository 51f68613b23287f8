"""An API process dies while streams are open: clients move to the other, nothing is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from handlers.events_feed.visibility import Subscriber, can_see
from tests.fakes import FakeOpenAI
from tests.fixtures.nats import eventually
from tests.scaleout.clients import CONNECTION_ERRORS, Endpoints, FeedReader, chat_turn
from tests.scaleout.deployment import Deployment

pytestmark = pytest.mark.scaleout

USERS = 4
ROUNDS = 5  # per user: one template created, one chat turn


class User:
    """One person's browser: a feed, a chat session, templates and turns, with failover."""

    def __init__(self, d: Deployment, email: str, headers: dict[str, str], user_id: str) -> None:
        self.email, self.headers, self.id = email, headers, user_id
        self.endpoints = Endpoints([d.api(0).url, d.api(1).url])
        self.feed = FeedReader(self.endpoints, headers, "chat.>,prompts.>")
        self.session_id = ""
        self.templates: list[str] = []  # acknowledged (201) creations
        self.done_turns: list[str] = []
        self.cut_turns = 0
        self.in_flight = 0

    async def post(self, http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
        """A POST retried on the next replica when the connection dies under it."""
        for _ in range(4):
            url = self.endpoints.current
            try:
                response = await http.post(f"{url}{path}", json=body, headers=self.headers)
            except CONNECTION_ERRORS:
                self.endpoints.failed(url)
                continue
            assert response.status_code == 201, response.text
            return response.json()
        raise AssertionError(f"{path}: no replica answered")

    async def work(self, http: httpx.AsyncClient) -> None:
        for i in range(ROUNDS):
            name = f"{self.email}-t{i}"
            created = await self.post(http, "/api/prompts", {"name": name, "body": f"Hello {i}"})
            self.templates.append(created["id"])
            await self.turn(http, f"question {i}")

    async def turn(self, http: httpx.AsyncClient, question: str) -> None:
        for _ in range(4):
            url = self.endpoints.current
            self.in_flight += 1
            try:
                result = await chat_turn(http, url, self.headers, self.session_id, question)
            finally:
                self.in_flight -= 1
            if result.outcome == "done":
                assert result.turn_id is not None
                self.done_turns.append(result.turn_id)
                return
            assert result.outcome is None, result
            # Cut by a dying replica: ask again elsewhere, as a person would.
            self.cut_turns += 1
            self.endpoints.failed(url)
        raise AssertionError("no replica finished the turn")


async def test_api_killed_mid_stream_clients_resume_on_the_other_and_nothing_is_lost(
    healthy: Deployment, upstream: FakeOpenAI
) -> None:
    d = healthy
    async with httpx.AsyncClient(timeout=30) as http:
        model_id = await d.chat_model(http, upstream.base_url, "failover-root@example.com")
        users = []
        for n in range(USERS):
            email = f"failover-{n}@example.com"
            user_id = await d.add_user(email)
            users.append(User(d, email, await d.token(http, email), user_id))
        feeds = [asyncio.create_task(u.feed.run(http)) for u in users]
        try:
            for user in users:
                await asyncio.wait_for(user.feed.ready.wait(), 10)
                session = await user.post(http, "/api/chat/sessions", {"model_config_id": model_id})
                user.session_id = session["id"]
            work = [asyncio.create_task(u.work(http)) for u in users]

            # Kill api-1 once every user has finished a turn and turns are open on it.
            def streaming() -> bool:
                for task in work:
                    if task.done():
                        task.result()  # a failed user fails the test now, not at the timeout
                return all(u.done_turns for u in users) and sum(u.in_flight for u in users) > 0

            await eventually(streaming, within=60, message="no turn in flight")
            d.api(0).kill()
            await asyncio.wait_for(asyncio.gather(*work), 120)

            # Every event of these users' streams reaches their feed once (the feed opened
            # before anything they did), across the kill.
            stored = await d.stream_events("LLMFORGE_CHAT", "LLMFORGE_PROMPTS")
            for user in users:
                viewer = Subscriber(user.id)
                expected = [e.id for e in stored if can_see(viewer, e)]

                async def caught_up(user: User = user, expected: list[str] = expected) -> bool:
                    fresh = await d.stream_events("LLMFORGE_CHAT", "LLMFORGE_PROMPTS")
                    viewer = Subscriber(user.id)
                    expected[:] = [e.id for e in fresh if can_see(viewer, e)]
                    return set(user.feed.ids) >= set(expected)

                await eventually(caught_up, within=30, message=f"{user.email} feed behind")
                assert len(user.feed.ids) == len(set(user.feed.ids)), "an event came twice"
                assert set(user.feed.ids) == set(expected)
                assert user.feed.reconnects >= 1
                assert not user.feed.errors, user.feed.errors
                created = {
                    e["subject"]
                    for e in user.feed.events
                    if e["type"] == "llmforge.prompts.template.created.v1"
                }
                assert set(user.templates) <= created
        finally:
            for task in feeds:
                task.cancel()
            await asyncio.gather(*feeds, return_exceptions=True)

        assert sum(u.cut_turns for u in users) >= 1, "the kill cut no stream"
        # Persisted turns: each turn with an event has both messages exactly once; each
        # turn a client saw finish is among them. A cut turn left nothing behind.
        turn_events = {
            e.data.turn_id  # type: ignore[attr-defined]
            for e in await d.stream_events("LLMFORGE_CHAT")
            if e.type.startswith("llmforge.chat.turn.")
        }
        sessions = [u.session_id for u in users]

        async def persisted() -> dict[str, int]:
            rows = await d.sql(
                "SELECT turn_id, count(*) AS n FROM chat_messages"
                " WHERE session_id = ANY($1::text[]) AND turn_id IS NOT NULL GROUP BY turn_id",
                sessions,
            )
            counts = {r["turn_id"]: r["n"] for r in rows}
            return counts if set(counts) >= turn_events else {}

        counts = await eventually(persisted, within=30, message="turns not persisted")
        assert set(counts) == turn_events
        assert all(n == 2 for n in counts.values()), counts
        done = {t for u in users for t in u.done_turns}
        assert done <= turn_events
        assert len(done) == USERS * ROUNDS

        # The supervisor brings the killed replica back; it serves again.
        d.api(0).start()
        await d.api(0).wait_ready()
