"""Chat turns end to end: real HTTP, real NATS, fake providers, both databases where it counts."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from nats.js.errors import NotFoundError

from events import decode_event, encode_event
from events.chat import TurnCompleted, turn_subjects
from handlers.chat.consumer import persist_turn
from handlers.chat.stop import stop_subject
from handlers.chat.view import CHAT_STREAM
from runtime.db.models import ChatMessage
from runtime.platform import Platform, Roles
from runtime.settings import EventFeedSettings
from tests.fakes import FakeOpenAI, Scenario
from tests.fixtures.app import PlatformFactory
from tests.integration.gateway_support import eventually
from tests.integration.test_chat_support import (
    chat_env,
    new_session,
    persisted,
    rows,
    send,
    session_row,
    upstream_chats,
)

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"])


async def test_turn_streams_named_events_in_order_and_is_persisted_exactly_once(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(platform, client, fake_openai)
    fake_openai.scenario = Scenario(
        tokens=["Paris", " is", " the", " capital", "."], reasoning=["Geography", " question"]
    )
    chat = await new_session(client, env.user, env.model_id, system_prompt="Be brief.")

    turn = await send(client, env, chat["id"], "What is the capital of France?")
    assert turn.status == 200
    names = turn.names
    assert names[0] == "start"
    assert names[-2:] == ["usage", "done"]
    assert names.index("content") > max(i for i, n in enumerate(names) if n == "reasoning")
    start = turn.start
    turn_id = start["turn_id"]
    assert [e.id for e in turn.events if e.event] == [f"{turn_id}:{i}" for i in range(len(names))]
    assert turn.text("reasoning") == "Geography question"
    assert turn.text() == "Paris is the capital."
    assert turn.named("usage")[0].data["output_tokens"] == 7
    done = turn.named("done")[0].data
    assert (done["status"], done["finish_reason"], done["model"]) == ("completed", "stop", "chat")
    assert done["assistant_message_id"] == start["assistant_message_id"]
    assert done["ttft_ms"] is not None
    assert done["latency_ms"] >= done["ttft_ms"]

    # A second message right away: its history must hold the first turn, whether or not
    # the consumer has written it yet.
    second = await send(client, env, chat["id"], "And of Italy?")
    assert second.start["parent_id"] == start["assistant_message_id"]
    history = upstream_chats(fake_openai)[-1]
    assert history == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris is the capital."},
        {"role": "user", "content": "And of Italy?"},
    ]

    answer = await persisted(platform, start["assistant_message_id"])
    question = await persisted(platform, start["user_message_id"])
    assert (question.role, question.content, question.parent_id) == (
        "user",
        "What is the capital of France?",
        None,
    )
    assert (answer.role, answer.status, answer.parent_id) == ("assistant", "completed", question.id)
    assert answer.content == "Paris is the capital."
    assert answer.thinking_content == "Geography question"
    meta = answer.meta_info
    assert (meta["model"], meta["finish_reason"], meta["output_tokens"]) == ("chat", "stop", 7)
    assert meta["input_tokens"] == 11
    assert meta["ttft_ms"] is not None
    assert meta["latency_ms"] > 0

    # Exactly once: the same event delivered again (a new publish id, so JetStream keeps
    # it) and applied again directly change nothing.
    await persisted(platform, second.start["assistant_message_id"])
    before = [(r.id, r.content, r.superseded_at) for r in await rows(platform, chat["id"])]
    assert len(before) == 4
    bus = platform.services.bus
    raw = await bus.js.get_msg(CHAT_STREAM, subject=turn_subjects(chat["id"]))  # the first
    event = decode_event(raw.data)
    assert isinstance(event, TurnCompleted)
    ack = await bus.publish_raw(raw.subject, encode_event(event), msg_id=event.id + "-again")
    assert not ack.duplicate

    async def consumer_passed() -> bool:
        info = await bus.js.consumer_info(CHAT_STREAM, "llmforge-chat")
        return info.ack_floor.stream_seq >= ack.seq

    await eventually(consumer_passed)
    async with platform.services.session_factory() as session, session.begin():
        assert await persist_turn(session, event) == 0
    after = [(r.id, r.content, r.superseded_at) for r in await rows(platform, chat["id"])]
    assert after == before

    # The consumer named the session from the first exchange.
    async def titled() -> str | None:
        row = await session_row(platform, chat["id"])
        return row.title if row and row.title_source == "generated" else None

    assert await eventually(titled) == "Paris is the capital"
    listed = (
        await client.get(f"/api/chat/sessions/{chat['id']}/messages", headers=env.user)
    ).json()
    assert [m["role"] for m in listed["items"]] == ["user", "assistant", "user", "assistant"]
    assert all(m["current"] and m["persisted"] for m in listed["items"])


@sqlite_only
async def test_inline_think_tags_become_reasoning(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(platform, client, fake_openai)
    fake_openai.scenario = Scenario(
        tokens=["4"], reasoning=["2+2", " is 4"], reasoning_mode="inline"
    )
    chat = await new_session(client, env.user, env.model_id)
    turn = await send(client, env, chat["id"], "2+2?")
    assert turn.text("reasoning") == "2+2 is 4"
    assert turn.text() == "4"
    assert "<think>" not in turn.text() + turn.text("reasoning")
    row = await persisted(platform, turn.start["assistant_message_id"])
    assert (row.content, row.thinking_content) == ("4", "2+2 is 4")


@sqlite_only
async def test_history_comes_from_turn_events_while_no_consumer_runs(
    platform_factory: PlatformFactory, fake_openai: FakeOpenAI
) -> None:
    api = await platform_factory(Roles(consumers=False))
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
        env = await chat_env(api, client, fake_openai)
        chat = await new_session(client, env.user, env.model_id)
        for word in ("one", "two", "three"):
            await send(client, env, chat["id"], word)
        # The third turn's history needs the first two: both only on the stream so far.
        hello = {"role": "assistant", "content": "Hello, world!"}
        assert upstream_chats(fake_openai)[-1] == [
            {"role": "user", "content": "one"},
            hello,
            {"role": "user", "content": "two"},
            hello,
            {"role": "user", "content": "three"},
        ]
        assert await rows(api, chat["id"]) == []
        url = f"/api/chat/sessions/{chat['id']}/messages"
        listed = (await client.get(url, headers=env.user)).json()["items"]
        assert [m["content"] for m in listed[::2]] == ["one", "two", "three"]
        assert not any(m["persisted"] for m in listed)


@sqlite_only
async def test_client_disconnect_cancels_upstream_and_stores_the_partial_answer(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(platform, client, fake_openai)
    fake_openai.scenario = Scenario(tokens=[f"t{i} " for i in range(200)], token_delay=0.02)
    chat = await new_session(client, env.user, env.model_id)
    async with httpx.AsyncClient(base_url=platform.url, timeout=10) as own:
        turn = await send(own, env, chat["id"], "count", stop_after=3)
    seen = turn.text()
    gone = await fake_openai.wait_for_disconnect(within=5.0)
    assert gone[0].tokens_sent < 100

    answer = await persisted(platform, turn.start["assistant_message_id"])
    assert answer.status == "cancelled"
    assert answer.meta_info["cancel_reason"] == "client_disconnected"
    assert answer.content.startswith(seen)
    assert len(answer.content) < 200 * 4
    question = await persisted(platform, turn.start["user_message_id"])
    assert question.content == "count"


@sqlite_only
async def test_stop_from_another_replica_ends_the_turn_as_cancelled(
    platform_factory: PlatformFactory, fake_openai: FakeOpenAI
) -> None:
    # Keep-alive pings every 50 ms, and the first token only after 300 ms.
    feed = dataclasses.replace(EventFeedSettings(), heartbeat_seconds=0.05)
    one = await platform_factory(overrides={"event_feed": feed})
    two = await platform_factory(Roles(consumers=False))
    fake_openai.scenario = Scenario(
        tokens=[f"w{i} " for i in range(300)], token_delay=0.02, first_byte_delay=0.3
    )
    async with (
        httpx.AsyncClient(base_url=one.url, timeout=10) as a,
        httpx.AsyncClient(base_url=two.url, timeout=10) as b,
    ):
        env = await chat_env(one, a, fake_openai)
        chat = await new_session(a, env.user, env.model_id)
        stop_url = f"/api/chat/sessions/{chat['id']}/stop"
        assert (await b.post(stop_url, headers=env.user)).json() == {
            "stopped": False,
            "turn_id": None,
        }

        url = f"/api/chat/sessions/{chat['id']}/messages"
        async with a.stream("POST", url, json={"content": "go"}, headers=env.user) as response:
            raw = ""
            stopped = None
            async for chunk in response.aiter_text():
                raw += chunk
                if stopped is None and raw.count("event: content") >= 3:
                    stopped = (await b.post(stop_url, headers=env.user)).json()
        assert stopped is not None
        assert stopped["stopped"] is True
        assert ": ping" in raw.split("event: content")[0]  # while waiting for the first token
        assert "data: \r\n" not in raw  # a ping is a comment alone, not a blank message
        assert "event: done" in raw
        assert '"status":"cancelled"' in raw
        assert "event: error" not in raw

    gone = await fake_openai.wait_for_disconnect(within=5.0)
    assert gone[0].tokens_sent < 150
    turn_id = stopped["turn_id"]
    chat_rows = await eventually(lambda: _answers(one, chat["id"]))
    answer = chat_rows[0]
    assert (answer.turn_id, answer.status) == (turn_id, "cancelled")
    assert answer.meta_info["cancel_reason"] == "stopped"
    assert answer.content.startswith("w0 w1 w2 ")
    # The stop signal is not an event: no stream stores its subject.
    with pytest.raises(NotFoundError):
        await one.services.bus.js.find_stream_name_by_subject(stop_subject(chat["id"]))


async def _answers(platform: Platform, session_id: str) -> list[ChatMessage]:
    return [r for r in await rows(platform, session_id) if r.role == "assistant"]


async def test_upstream_failures_end_with_an_error_event_and_a_failed_turn(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(platform, client, fake_openai)
    chat = await new_session(client, env.user, env.model_id)

    fake_openai.scenario = Scenario(tokens=["a", "b", "c", "d"], error_event_after=2)
    mid = await send(client, env, chat["id"], "first")
    assert mid.names == ["start", "content", "content", "usage", "error"]
    error = mid.named("error")[0].data
    assert error["code"] == "upstream_upstream"
    assert "scripted failure" in error["message"]
    failed = await persisted(platform, mid.start["assistant_message_id"])
    assert (failed.status, failed.content) == ("failed", "ab")
    assert failed.meta_info["error"] == "upstream"

    fake_openai.scenario = Scenario(status=500)
    before = await send(client, env, chat["id"], "second")
    assert before.names == ["start", "usage", "error"]
    assert before.named("error")[0].data["code"] == "upstream_upstream"
    empty = await persisted(platform, before.start["assistant_message_id"])
    assert (empty.status, empty.content) == ("failed", "")
    question = await persisted(platform, before.start["user_message_id"])
    assert question.parent_id == failed.id

    # The failed answers are not sent back to the model as history.
    fake_openai.scenario = Scenario(tokens=["ok"])
    await send(client, env, chat["id"], "third")
    assert upstream_chats(fake_openai)[-1] == [
        {"role": "user", "content": "first"},
        {"role": "user", "content": "second"},
        {"role": "user", "content": "third"},
    ]
