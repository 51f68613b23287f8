"""Publishing: acks, dedupe by event id, pipelining, readiness and a broker that is down."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from events import encode_event
from runtime.bus import BusUnavailable, EventBus
from runtime.nats_server import EmbeddedNatsServer
from tests.fixtures.nats import eventually, stream_messages, user_registered


async def test_first_publish_is_acked_with_its_sequence(bus: EventBus) -> None:
    ack = await bus.publish(user_registered())
    assert ack.stream == "LLMFORGE_AUTH"
    assert ack.seq == 1
    assert ack.duplicate is None  # not False: the server omits the flag on a first publish


async def test_publish_carries_event_id_header_on_the_event_subject(bus: EventBus) -> None:
    event = user_registered("u42")
    await bus.publish(event)
    stored = await bus.js.get_msg("LLMFORGE_AUTH", 1)
    assert stored.subject == "llmforge.auth.user.registered"
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == event.id
    assert stored.data == encode_event(event)


async def test_publish_retried_with_same_id_is_stored_once(bus: EventBus) -> None:
    event = user_registered()
    first = await bus.publish(event)
    retry = await bus.publish(event)
    assert retry.duplicate is True
    assert retry.seq == first.seq
    assert await stream_messages(bus, "LLMFORGE_AUTH") == 1


async def test_publish_many_pipelines_and_returns_acks_in_order(bus: EventBus) -> None:
    events = [user_registered(f"u{i}") for i in range(500)]
    acks = await bus.publish_many(events)
    assert [ack.seq for ack in acks] == list(range(1, 501))
    assert await stream_messages(bus, "LLMFORGE_AUTH") == 500
    resent = await bus.publish_many(events[:10])
    assert all(ack.duplicate for ack in resent)
    assert await stream_messages(bus, "LLMFORGE_AUTH") == 500


async def test_publish_many_of_nothing_sends_nothing(bus: EventBus) -> None:
    assert await bus.publish_many([]) == []


async def test_publish_to_a_subject_no_stream_holds_is_unavailable(bus: EventBus) -> None:
    with pytest.raises(BusUnavailable, match="no JetStream stream"):
        await bus.publish_raw("nowhere.at.all", b"{}")


async def test_ready_when_connected_and_every_stream_exists(bus: EventBus) -> None:
    readiness = await bus.ready()
    assert readiness
    assert readiness.connected
    assert readiness.missing_streams == ()


async def test_ready_names_the_missing_streams(bus: EventBus) -> None:
    await bus.js.delete_stream("LLMFORGE_CHAT")
    readiness = await bus.ready()
    assert not readiness
    assert readiness.missing_streams == ("LLMFORGE_CHAT",)
    assert "LLMFORGE_CHAT" in readiness.detail


async def test_publish_when_nats_is_down_raises_bus_unavailable_fast(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats")
    await server.start()
    # A long ack timeout: failing fast and failing by the timeout are then far apart, so
    # the bound below holds on a busy machine too.
    down_bus = await EventBus.connect(server.url, name="down-test", publish_timeout=20.0)
    try:
        await down_bus.provision()
        await down_bus.publish(user_registered())
        await server.stop()
        # Fast once the client has seen the socket close; until then a publish can
        # only fail by its ack timeout (still BusUnavailable, just slower).
        await eventually(lambda: not down_bus.is_connected, message="disconnect unnoticed")
        started = time.monotonic()
        with pytest.raises(BusUnavailable):
            await down_bus.publish(user_registered("u2"))
        with pytest.raises(BusUnavailable):
            await down_bus.publish_many([user_registered("u3")])
        # Well under publish_timeout (20 s): it failed fast, not by waiting for an ack.
        assert time.monotonic() - started < 10.0
        readiness = await down_bus.ready()
        assert not readiness
        assert not readiness.connected
    finally:
        await down_bus.close()
        await server.stop()


async def test_publish_after_close_raises_bus_unavailable(clean_jetstream: str) -> None:
    closed = await EventBus.connect(clean_jetstream, name="closed-test")
    await closed.close()
    with pytest.raises(BusUnavailable, match="closed"):
        await closed.publish(user_registered())


async def test_connecting_to_no_server_raises_bus_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BusUnavailable, match="cannot connect"):
        await EventBus.connect(f"nats://127.0.0.1:{port}", connect_timeout=0.5)
