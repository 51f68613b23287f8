"""The function host against a real nats-server: delivery, acks, bindings, concurrency."""

from __future__ import annotations

import asyncio

import pytest
import structlog

from events import Event
from runtime.bus import Consumer, EventBus
from runtime.bus.puller import Puller
from tests.fixtures.nats import HostFactory, eventually, user_registered


async def _settled(bus: EventBus, durable: str, stream: str = "LLMFORGE_AUTH") -> bool:
    """True once every message of the stream was delivered to ``durable`` and acked."""
    info = await bus.js.consumer_info(stream, durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def test_consumer_receives_each_event_and_acks_it(
    bus: EventBus, start_host: HostFactory
) -> None:
    seen: list[str] = []

    async def handle(event: Event) -> None:
        seen.append(event.id)

    events = [user_registered(f"u{i}") for i in range(3)]
    await start_host([Consumer(name="basic", subjects=["llmforge.auth.>"], handler=handle)])
    await bus.publish_many(events)
    await eventually(lambda: len(seen) == 3, message="events not handled")
    assert seen == [e.id for e in events]
    await eventually(lambda: _settled(bus, "test-basic"), message="events not acked")


async def test_handler_runs_with_event_context_bound_for_logs(
    bus: EventBus, start_host: HostFactory
) -> None:
    contexts: list[dict[str, object]] = []

    async def handle(event: Event) -> None:
        contexts.append(structlog.contextvars.get_contextvars())

    await start_host([Consumer(name="ctx", subjects=["llmforge.auth.>"], handler=handle)])
    event = user_registered()
    await bus.publish(event)
    await eventually(lambda: contexts, message="handler not called")
    assert contexts[0] == {
        "event_id": event.id,
        "event_type": "llmforge.auth.user.registered.v1",
        "consumer": "test-ctx",
    }


async def test_batch_consumer_gets_many_events_per_call_and_acks_them_all(
    bus: EventBus, start_host: HostFactory
) -> None:
    calls: list[int] = []

    async def handle(events: list[Event]) -> None:
        calls.append(len(events))

    await bus.publish_many([user_registered(f"u{i}") for i in range(300)])
    consumer = Consumer(
        name="batch", subjects=["llmforge.>"], handler=handle, batch=True, fetch_batch=100
    )
    await start_host([consumer])
    await eventually(lambda: sum(calls) == 300, message="batch events not handled")
    assert max(calls) <= 100
    assert len(calls) < 300
    await eventually(lambda: _settled(bus, "test-batch"), message="batch not acked")


async def test_a_lingering_batch_gathers_events_that_trickle_in(
    bus: EventBus, start_host: HostFactory
) -> None:
    calls: list[int] = []

    async def handle(events: list[Event]) -> None:
        calls.append(len(events))

    consumer = Consumer(
        name="linger", subjects=["llmforge.auth.>"], handler=handle, batch=True, linger=1.0
    )
    await start_host([consumer])
    for i in range(5):  # one at a time, well inside the linger
        await bus.publish(user_registered(f"t{i}"))
        await asyncio.sleep(0.02)
    await eventually(lambda: sum(calls) == 5, message="lingering batch not handled")
    # Without the linger each would have been a batch of its own.
    assert calls == [5]
    await eventually(lambda: _settled(bus, "test-linger"), message="batch not acked")


async def test_wildcard_consumer_binds_a_durable_on_every_domain_stream(
    bus: EventBus, start_host: HostFactory
) -> None:
    async def handle(event: Event) -> None:
        return None

    await start_host([Consumer(name="wide", subjects=["llmforge.>"], handler=handle)])
    for stream in ("LLMFORGE_AUTH", "LLMFORGE_CHAT", "LLMFORGE_ADMIN"):
        info = await bus.js.consumer_info(stream, "test-wide")
        assert info.config.filter_subject in (None, "")
    assert await bus.js.consumers_info("LLMFORGE_DLQ") == []


async def test_narrow_consumer_filters_inside_its_stream(
    bus: EventBus, start_host: HostFactory
) -> None:
    seen: list[str] = []

    async def handle(event: Event) -> None:
        seen.append(event.type)

    consumer = Consumer(name="narrow", subjects=["llmforge.auth.user.>"], handler=handle)
    await start_host([consumer])
    info = await bus.js.consumer_info("LLMFORGE_AUTH", "test-narrow")
    assert info.config.filter_subject == "llmforge.auth.user.>"
    await bus.publish(user_registered())
    await eventually(lambda: seen == ["llmforge.auth.user.registered.v1"])


async def test_changed_settings_update_the_live_durable(
    bus: EventBus, start_host: HostFactory
) -> None:
    async def handle(event: Event) -> None:
        return None

    first = await start_host(
        [Consumer(name="tuned", subjects=["llmforge.auth.>"], handler=handle, ack_wait=30)]
    )
    await first.stop()
    await start_host(
        [Consumer(name="tuned", subjects=["llmforge.auth.>"], handler=handle, ack_wait=12)]
    )
    info = await bus.js.consumer_info("LLMFORGE_AUTH", "test-tuned")
    assert info.config.ack_wait == 12


async def test_concurrency_caps_the_handlers_in_flight(
    bus: EventBus, start_host: HostFactory
) -> None:
    gate = asyncio.Event()
    active = 0
    peak = 0
    done = 0

    async def handle(event: Event) -> None:
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1
        done += 1

    consumer = Consumer(name="para", subjects=["llmforge.auth.>"], handler=handle, concurrency=3)
    await start_host([consumer])
    await bus.publish_many([user_registered(f"u{i}") for i in range(10)])
    await eventually(lambda: active == 3, message="three handlers not running together")
    gate.set()
    await eventually(lambda: done == 10, message="events not all handled")
    assert peak == 3
    await eventually(lambda: _settled(bus, "test-para"))


async def test_restarted_host_resumes_where_it_left_off(
    bus: EventBus, start_host: HostFactory
) -> None:
    first_seen: list[str] = []
    second_seen: list[str] = []

    async def first_handler(event: Event) -> None:
        first_seen.append(event.subject)

    async def second_handler(event: Event) -> None:
        second_seen.append(event.subject)

    subjects = ["llmforge.auth.>"]
    first = await start_host([Consumer(name="resume", subjects=subjects, handler=first_handler)])
    await bus.publish_many([user_registered(f"old{i}") for i in range(3)])
    await eventually(lambda: len(first_seen) == 3)
    await eventually(lambda: _settled(bus, "test-resume"))
    await first.stop()

    await bus.publish_many([user_registered(f"new{i}") for i in range(2)])
    await start_host([Consumer(name="resume", subjects=subjects, handler=second_handler)])
    await eventually(lambda: len(second_seen) == 2)
    await eventually(lambda: _settled(bus, "test-resume"))
    assert second_seen == ["new0", "new1"]


async def test_expired_pull_requests_are_renewed_so_late_events_still_arrive(
    bus: EventBus, start_host: HostFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = 0
    original = Puller._request

    async def counting(self: Puller, batch: int) -> None:
        nonlocal requests
        requests += 1
        await original(self, batch)

    monkeypatch.setattr(Puller, "_request", counting)
    seen: list[str] = []

    async def handle(event: Event) -> None:
        seen.append(event.subject)

    consumer = Consumer(name="patient", subjects=["llmforge.auth.>"], handler=handle)
    await start_host([consumer], pull_expires=0.4, idle_heartbeat=0.1)
    # Each expiry ends a request (408) and the puller opens a new one.
    await eventually(lambda: requests >= 3, message="pull requests not renewed")
    await bus.publish(user_registered("late"))
    await eventually(lambda: seen == ["late"], within=2.0)
