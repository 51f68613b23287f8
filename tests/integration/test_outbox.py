"""Events commit with their change and reach the bus even when it was down at commit time."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import Event
from events.auth import UserData, UserRegistered
from events.prompts import TemplateCreated, TemplateData
from runtime.db.models import OutboxEvent, User
from runtime.outbox import OutboxRelay, emit, publish_committed


class RecordingBus:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        if self.fail:
            raise ConnectionError("nats down")
        self.published.append(event)


def _registered(user_id: str) -> UserRegistered:
    return UserRegistered(
        subject=user_id, data=UserData(user_id=user_id, email=f"{user_id}@x.io", role="user")
    )


async def _outbox_count(factory: async_sessionmaker[AsyncSession]) -> int:
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


async def test_event_is_published_after_commit_and_its_row_removed(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    bus = RecordingBus()
    async with session_factory() as session:
        session.add(User(id="u1", email="u1@x.io", password_hash="h"))
        emit(session, _registered("u1"))
        await session.commit()
        assert await publish_committed(session, bus) == 1
    assert [e.subject for e in bus.published] == ["u1"]
    assert await _outbox_count(session_factory) == 0


async def test_rolled_back_change_publishes_nothing(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        emit(session, _registered("u2"))
        await session.rollback()
    assert await _outbox_count(session_factory) == 0


async def test_relay_publishes_what_the_request_could_not(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    down = RecordingBus(fail=True)
    async with session_factory() as session:
        emit(session, _registered("u3"))
        emit(session, _registered("u4"))
        await session.commit()
        assert await publish_committed(session, down) == 0
    assert await _outbox_count(session_factory) == 2

    # Still down: the relay keeps the rows and counts the attempt.
    assert await OutboxRelay(session_factory, down, grace=0).relay_once() == 0
    assert await _outbox_count(session_factory) == 2

    up = RecordingBus()
    relay = OutboxRelay(session_factory, up, grace=0)
    assert await relay.relay_once() == 2
    assert sorted(e.subject for e in up.published) == ["u3", "u4"]
    assert await _outbox_count(session_factory) == 0


async def test_relay_leaves_fresh_rows_to_their_request(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session:
        emit(session, _registered("u5"))
        await session.commit()
    bus = RecordingBus()
    assert await OutboxRelay(session_factory, bus, grace=60).relay_once() == 0
    assert bus.published == []


class OneStreamDown(RecordingBus):
    """The auth stream has no leader; every other stream takes events."""

    async def publish(self, event: Event) -> None:
        if event.nats_subject.startswith("llmforge.auth."):
            raise ConnectionError("no JetStream stream answered")
        self.published.append(event)


async def test_relay_holds_back_only_the_domain_whose_stream_fails(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    template = TemplateCreated(
        subject="t1",
        data=TemplateData(template_id="t1", owner_id=None, name="t", version=1, shared=False),
    )
    async with session_factory() as session:
        emit(session, _registered("u6"))
        emit(session, template)
        emit(session, _registered("u7"))
        await session.commit()
    bus = OneStreamDown()
    assert await OutboxRelay(session_factory, bus, grace=0).relay_once() == 1
    assert [e.id for e in bus.published] == [template.id]
    # Both auth events wait (the second is not sent ahead of the first), then both go.
    assert await _outbox_count(session_factory) == 2
    up = RecordingBus()
    assert await OutboxRelay(session_factory, up, grace=0).relay_once() == 2
    assert sorted(e.subject for e in up.published) == ["u6", "u7"]
