"""Log context: request ids and route templates on HTTP lines, event ids on consumer lines."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import structlog
from litestar import Litestar, get

from events import Event, encode_event
from runtime.bus import Consumer, EventBus
from runtime.bus.dispatch import Delivery, Dispatcher
from runtime.logging import configure_logging
from runtime.observability import instrument
from runtime.settings import LogSettings, ObservabilitySettings
from tests.fixtures.nats import user_registered

Lines = list[dict[str, Any]]
log = structlog.get_logger("tests.observability")


class _Collect(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.lines: Lines = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Every line logged during the test, as the JSON the production formatter writes."""
    configure_logging(LogSettings(level="INFO", format="json"))
    root = logging.getLogger()
    handler = _Collect(root.handlers[0].formatter)
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)


@get("/things/{thing_id:str}")
async def thing(thing_id: str) -> dict[str, str]:
    log.info("looking_up_thing", thing_id=thing_id)
    return {"id": thing_id}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = Litestar([thing])
    instrument(app, ObservabilitySettings())
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        yield client


async def test_every_line_of_a_request_carries_its_id_and_the_access_line_its_route(
    http: httpx.AsyncClient, log_lines: Lines
) -> None:
    response = await http.get("/things/t-42", headers={"X-Request-ID": "req-abc-123"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-abc-123"
    mine = [line for line in log_lines if line["logger"] != "httpx"]
    assert [line["event"] for line in mine] == ["looking_up_thing", "request"]
    assert all(line["request_id"] == "req-abc-123" for line in mine)
    access = mine[-1]
    assert access["route"] == "/things/{thing_id}"
    assert access["path"] == "/things/t-42"
    assert access["status"] == 200

    missing = await http.get("/nowhere")
    assert missing.status_code == 404
    access = next(line for line in reversed(log_lines) if line["event"] == "request")
    # A request no route matched still gets an id and an access line.
    assert access["route"] == "unmatched"
    assert access["request_id"] == missing.headers["x-request-id"]


class _Msg:
    """Just enough of a JetStream message for the dispatcher."""

    def __init__(self, event: Event, delivered: int = 1) -> None:
        self.data = encode_event(event)
        self.subject = f"llmforge.auth.user.{event.subject}.registered"
        self.headers = None
        self.metadata = SimpleNamespace(
            num_delivered=delivered, stream="LLMFORGE_AUTH", sequence=SimpleNamespace(stream=1)
        )
        self.settled: list[str] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")

    async def term(self) -> None:
        self.settled.append("term")


class _Puller:
    def release(self) -> None:
        pass


def _delivery(event: Event) -> tuple[Delivery, _Msg]:
    msg = _Msg(event)
    return Delivery(cast("Any", msg), cast("Any", _Puller()), 0.0), msg


async def test_every_line_while_a_consumer_handles_an_event_names_the_event(
    log_lines: Lines,
) -> None:
    async def handler(event: Event) -> None:
        log.info("handling", subject=event.subject)
        if event.subject == "bad":
            raise RuntimeError("try again later")

    consumer = Consumer(name="unit", subjects=["llmforge.auth.>"], handler=handler)
    dispatcher = Dispatcher(cast("EventBus", None), consumer, "test-unit", set())
    good, bad = user_registered("good"), user_registered("bad")
    good_delivery, good_msg = _delivery(good)
    bad_delivery, bad_msg = _delivery(bad)
    await dispatcher.process([good_delivery])
    await dispatcher.process([bad_delivery])
    assert (good_msg.settled, bad_msg.settled) == (["ack"], ["nak"])

    lines = [line for line in log_lines if line["logger"] != "asyncio"]
    assert [line["event"] for line in lines] == [
        "handling",
        "handling",
        "handler_failed_will_retry",
    ]
    for line, event in zip(lines, [good, bad, bad], strict=True):
        assert line["event_id"] == event.id
        assert line["event_type"] == "llmforge.auth.user.registered.v1"
        assert line["consumer"] == "test-unit"


async def test_a_batch_names_all_its_events(log_lines: Lines) -> None:
    async def handler(events: list[Event]) -> None:
        log.info("handling_batch", size=len(events))

    consumer = Consumer(name="unitb", subjects=["llmforge.auth.>"], handler=handler, batch=True)
    dispatcher = Dispatcher(cast("EventBus", None), consumer, "test-unitb", set())
    events = [user_registered("a"), user_registered("b")]
    await dispatcher.process([_delivery(e)[0] for e in events])
    line = next(line for line in log_lines if line["event"] == "handling_batch")
    assert line["consumer"] == "test-unitb"
    assert line["event_ids"] == [e.id for e in events]
    assert line["event_types"] == ["llmforge.auth.user.registered.v1"]
