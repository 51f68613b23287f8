"""A broker restart: the bus reconnects and the host keeps consuming, nothing lost."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from events import STREAMS, Event
from runtime.bus import Consumer, EventBus, FunctionHost
from runtime.nats_server import EmbeddedNatsServer
from tests.fixtures.nats import eventually, user_registered


async def test_host_keeps_consuming_after_the_broker_restarts(tmp_path: Path) -> None:
    store = tmp_path / "nats"
    server = EmbeddedNatsServer(store)
    await server.start()
    port = urlparse(server.url).port
    assert port is not None
    bus = await EventBus.connect(server.url, name="restart-test", reconnect_wait=0.1)
    seen: list[str] = []

    async def handle(event: Event) -> None:
        seen.append(event.subject)

    consumer = Consumer(name="survivor", subjects=["llmforge.auth.>"], handler=handle)
    host = FunctionHost(bus, [consumer], prefix="test", idle_heartbeat=1.0)
    try:
        await bus.provision(STREAMS)
        await host.start()
        await bus.publish(user_registered("before"))
        await eventually(lambda: seen == ["before"])

        await server.stop()
        await eventually(lambda: not bus.is_connected, message="bus did not notice")
        server = EmbeddedNatsServer(store, port=port)
        await server.start()
        await eventually(lambda: bus.is_connected, message="bus did not reconnect")

        await bus.publish(user_registered("after"))
        await eventually(lambda: seen == ["before", "after"], message="nothing after restart")
    finally:
        await host.stop(timeout=1)
        await bus.close()
        await server.stop()
