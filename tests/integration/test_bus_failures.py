"""Failure paths: backoff, dead letters, undecodable messages, shutdown and long handlers."""

from __future__ import annotations

import asyncio
import itertools
import time

from events import Event, encode_event
from events.dead_letter import DeadLetter
from runtime.bus import Consumer, EventBus, PermanentError
from tests.fixtures.nats import HostFactory, dead_letters, eventually, user_registered

SUBJECTS = ["llmforge.auth.>"]


async def _settled(bus: EventBus, durable: str) -> bool:
    info = await bus.js.consumer_info("LLMFORGE_AUTH", durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_failing_consumer_is_retried_with_backoff_then_dead_lettered_with_its_error(
    bus: EventBus, start_host: HostFactory
) -> None:
    attempts: list[float] = []

    async def handle(event: Event) -> None:
        attempts.append(time.monotonic())
        raise RuntimeError(f"database is down (attempt {len(attempts)})")

    consumer = Consumer(
        name="flaky", subjects=SUBJECTS, handler=handle, max_deliver=3, backoff=(0.2, 0.4)
    )
    await start_host([consumer])
    event = user_registered()
    await bus.publish(event)

    [record] = await eventually(lambda: dead_letters(bus), message="no dead letter")
    assert len(attempts) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.18
    assert gaps[1] >= 0.38
    assert record.reason == "retries_exhausted"
    assert record.consumer == "test-flaky"
    assert record.delivered == 3
    assert record.error == "database is down (attempt 3)"
    assert record.error_type == "builtins.RuntimeError"
    assert record.event_id == event.id
    assert record.event_type == "llmforge.auth.user.registered.v1"
    assert record.original_subject == "llmforge.auth.user.registered"
    assert (record.stream, record.stream_seq) == ("LLMFORGE_AUTH", 1)
    assert record.payload == encode_event(event)
    stored = await bus.js.get_msg("LLMFORGE_DLQ", 1)
    assert stored.subject == "llmforge_dlq.test-flaky.llmforge.auth.user.registered"
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == f"test-flaky:{event.id}"
    # Terminated, not left pending: nothing more will be delivered.
    await eventually(lambda: _settled(bus, "test-flaky"))


async def test_consumer_that_recovers_acks_on_a_later_attempt(
    bus: EventBus, start_host: HostFactory
) -> None:
    attempts = 0

    async def handle(event: Event) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 2:
            raise ConnectionError("transient")

    consumer = Consumer(name="recover", subjects=SUBJECTS, handler=handle, backoff=(0.05,))
    await start_host([consumer])
    await bus.publish(user_registered())
    await eventually(lambda: attempts == 2)
    await eventually(lambda: _settled(bus, "test-recover"))
    assert await dead_letters(bus) == []


async def test_permanent_error_is_dead_lettered_without_retries(
    bus: EventBus, start_host: HostFactory
) -> None:
    attempts = 0

    async def handle(event: Event) -> None:
        nonlocal attempts
        attempts += 1
        raise PermanentError("user belongs to no tenant")

    await start_host([Consumer(name="strict", subjects=SUBJECTS, handler=handle)])
    await bus.publish(user_registered())
    [record] = await eventually(lambda: dead_letters(bus))
    assert attempts == 1
    assert (record.reason, record.delivered) == ("permanent_error", 1)
    assert record.error == "user belongs to no tenant"
    await eventually(lambda: _settled(bus, "test-strict"))


async def test_undecodable_message_goes_straight_to_dead_letter_with_its_exact_bytes(
    bus: EventBus, start_host: HostFactory
) -> None:
    handled: list[Event] = []

    async def handle(event: Event) -> None:
        handled.append(event)

    await start_host([Consumer(name="picky", subjects=SUBJECTS, handler=handle)])
    garbage = b"\xff\xfenot json at all"
    unknown = b'{"type":"llmforge.auth.user.teleported.v1","subject":"u1"}'
    await bus.publish_raw("llmforge.auth.user.registered", garbage, msg_id="junk-1")
    await bus.publish_raw("llmforge.auth.user.registered", unknown)

    records = await eventually(lambda: _dead_letters(bus, 2), message="no dead letters")
    assert [r.reason for r in records] == ["undecodable", "undecodable"]
    assert [r.payload for r in records] == [garbage, unknown]
    assert [r.delivered for r in records] == [1, 1]
    assert records[0].event_id == "junk-1"  # taken from Nats-Msg-Id
    assert records[1].event_id is None
    assert handled == []
    stored = await bus.js.get_msg("LLMFORGE_DLQ", 2)
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == "test-picky:LLMFORGE_AUTH.2"


async def _dead_letters(bus: EventBus, count: int) -> list[DeadLetter] | None:
    records = await dead_letters(bus)
    return records if len(records) >= count else None


async def test_one_bad_event_in_a_batch_does_not_take_its_neighbours_down(
    bus: EventBus, start_host: HostFactory
) -> None:
    written: list[str] = []

    async def handle(events: list[Event]) -> None:
        if any(e.subject == "bad" for e in events):
            raise PermanentError("bad row")
        written.extend(e.subject for e in events)

    subjects = ["good1", "good2", "bad", "good3"]
    await bus.publish_many([user_registered(s) for s in subjects])
    consumer = Consumer(name="rows", subjects=SUBJECTS, handler=handle, batch=True)
    await start_host([consumer])
    [record] = await eventually(lambda: dead_letters(bus))
    await eventually(lambda: len(written) == 3)
    assert sorted(written) == ["good1", "good2", "good3"]
    assert record.reason == "permanent_error"
    await eventually(lambda: _settled(bus, "test-rows"))


async def test_shutdown_mid_handler_hands_the_event_back_for_the_next_host(
    bus: EventBus, start_host: HostFactory
) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def stuck(event: Event) -> None:
        started.set()
        await asyncio.Event().wait()

    async def working(event: Event) -> None:
        finished.append(event.id)

    first = await start_host([Consumer(name="drain", subjects=SUBJECTS, handler=stuck)])
    event = user_registered()
    await bus.publish(event)
    await asyncio.wait_for(started.wait(), 5)
    await first.stop(timeout=0.2)

    await start_host([Consumer(name="drain", subjects=SUBJECTS, handler=working)])
    await eventually(lambda: finished == [event.id], within=3.0, message="event lost")
    await eventually(lambda: _settled(bus, "test-drain"))


async def test_shutdown_lets_a_running_handler_finish_and_ack(
    bus: EventBus, start_host: HostFactory
) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(event.id)

    host = await start_host([Consumer(name="finish", subjects=SUBJECTS, handler=slow)])
    await bus.publish(user_registered())
    await asyncio.wait_for(started.wait(), 5)
    await host.stop(timeout=5)
    assert len(finished) == 1
    await eventually(lambda: _settled(bus, "test-finish"))


async def test_heartbeats_keep_a_handler_longer_than_ack_wait_from_redelivery(
    bus: EventBus, start_host: HostFactory
) -> None:
    calls = 0
    done = asyncio.Event()

    async def long_job(event: Event) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(1.8)  # three times the ack wait
        done.set()

    consumer = Consumer(name="long", subjects=SUBJECTS, handler=long_job, ack_wait=0.6)
    await start_host([consumer])
    await bus.publish(user_registered())
    await asyncio.wait_for(done.wait(), 5)
    await eventually(lambda: _settled(bus, "test-long"))
    info = await bus.js.consumer_info("LLMFORGE_AUTH", "test-long")
    assert info.num_redelivered == 0
    assert calls == 1


async def test_dead_letter_for_a_huge_message_points_at_the_original(
    bus: EventBus, start_host: HostFactory
) -> None:
    async def handle(event: Event) -> None:
        return None

    await start_host([Consumer(name="huge", subjects=SUBJECTS, handler=handle)])
    blob = b"\x00" * (bus.nc.max_payload - 4096)
    ack = await bus.publish_raw("llmforge.auth.user.registered", blob, msg_id="blob-1")
    [record] = await eventually(lambda: dead_letters(bus))
    assert record.reason == "undecodable"
    assert record.payload_omitted
    assert record.payload == b""
    original = await bus.js.get_msg(record.stream, record.stream_seq)
    assert (record.stream_seq, original.data) == (ack.seq, blob)
