"""The audit consumer: every event written once to audit_log, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events import STREAMS, encode_event
from handlers.audit import audit_consumer
from runtime.bus import BatchHandler, EventBus
from runtime.db.models import AuditLog
from tests.fixtures.nats import HostFactory, eventually, user_registered

Sessions = async_sessionmaker[AsyncSession]


async def _rows(session_factory: Sessions) -> int:
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditLog)) or 0)


async def test_every_event_becomes_one_audit_row(
    bus: EventBus, start_host: HostFactory, session_factory: Sessions
) -> None:
    await start_host([audit_consumer(session_factory)])
    events = [user_registered(f"u{i}", actor="admin-1") for i in range(20)]
    await bus.publish_many(events)
    await eventually(lambda: _rows_equal(session_factory, 20), message="rows missing")

    async with session_factory() as session:
        row = await session.get(AuditLog, events[3].id)
    assert row is not None
    assert row.type == "llmforge.auth.user.registered.v1"
    assert row.subject == "u3"
    assert row.actor == "admin-1"
    assert row.source == "llmforge"
    assert row.time == events[3].time
    assert row.data == {"user_id": "u3", "email": "u3@example.com", "role": "user"}


async def _rows_equal(session_factory: Sessions, expected: int) -> bool:
    return await _rows(session_factory) == expected


async def test_applying_the_same_event_twice_changes_nothing(session_factory: Sessions) -> None:
    handler = cast("BatchHandler", audit_consumer(session_factory).handler)
    event = user_registered()
    await handler([event])
    await handler([event])
    await handler([event, event, user_registered("other")])
    assert await _rows(session_factory) == 2


async def test_event_republished_after_the_duplicate_window_is_stored_once(
    bus: EventBus, start_host: HostFactory, session_factory: Sessions
) -> None:
    event = user_registered()
    await bus.publish(event)
    # A different Nats-Msg-Id is what a resend after the dedupe window looks like:
    # JetStream stores it again, so only the consumer's idempotency can catch it.
    ack = await bus.publish_raw(
        event.nats_subject, encode_event(event), msg_id=f"{event.id}-late-resend"
    )
    assert ack.seq == 2
    await start_host([audit_consumer(session_factory)])

    async def both_acked() -> bool:
        info = await bus.js.consumer_info("LLMFORGE_AUTH", "test-audit")
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await eventually(both_acked, message="audit consumer did not ack both copies")
    assert await _rows(session_factory) == 1


async def test_audit_consumer_listens_on_every_domain_stream(
    bus: EventBus, start_host: HostFactory, session_factory: Sessions
) -> None:
    consumer = audit_consumer(session_factory)
    assert consumer.batch
    await start_host([consumer])
    for spec in STREAMS:
        names = [c.name for c in await bus.js.consumers_info(spec.name)]
        assert names == ([] if spec.name == "LLMFORGE_DLQ" else ["test-audit"])
