"""The gateway's domain logic against in-memory adapters: metering, events, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from events import Event
from events.llm import LlmCallCompleted
from runtime.llm.clients import ClientPool
from runtime.llm.gateway import Gateway, merge_params
from runtime.llm.metering import Caller
from runtime.llm.recorder import CallRecorder
from runtime.llm.resolver import ModelNotFound, ModelResolver, ResolvedModel
from runtime.llm.types import (
    ChatRequest,
    ChatResult,
    ConnectionCheck,
    ContentDelta,
    Delta,
    Finish,
    Message,
    Params,
    ProviderAdapter,
    ProviderConfig,
    ProviderError,
    ReasoningDelta,
    StreamError,
    UpstreamModel,
    Usage,
)

HELLO = [Message(role="user", content="hi")]
MODEL = ResolvedModel(
    model_config_id="mc1",
    alias="fast",
    name="Fast",
    upstream_model="up-1",
    provider_id="p1",
    provider_type="openai-compatible",
    provider=ProviderConfig(type="openai-compatible", base_url="http://x", api_key="k"),
    parameters=Params(temperature=0.2, max_tokens=64, extra={"a": 1}),
    input_price_per_mtok=1.0,
    output_price_per_mtok=4.0,
    created_at=0.0,
)


class Bus:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[Event] = []
        self.fail = fail

    async def publish(self, event: Event) -> object:
        if self.fail:
            raise ConnectionError("nats down")
        self.events.append(event)
        return None


class Resolver:
    keyring = None

    async def resolve(self, name: str) -> ResolvedModel:
        if name != "fast":
            raise ModelNotFound(name)
        return MODEL


class Adapter:
    """Scripted deltas; ``closed`` tells whether the stream was closed early."""

    def __init__(self, deltas: list[Delta], *, fail: ProviderError | None = None) -> None:
        self.deltas = deltas
        self.fail = fail
        self.requests: list[ChatRequest] = []
        self.closed = False
        self.gate = asyncio.Event()

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        self.requests.append(request)
        if self.fail:
            raise self.fail
        done = False
        try:
            for i, delta in enumerate(self.deltas):
                if i == 3:
                    await self.gate.wait()  # a slow upstream, for the cancellation test
                yield delta
            done = True
        finally:
            # Closed or cancelled before its end: what an HTTP adapter's `async with` sees.
            self.closed = not done

    async def complete_chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        if self.fail:
            raise self.fail
        return ChatResult(
            content="ok",
            reasoning="",
            usage=Usage(input_tokens=3, output_tokens=2),
            finish_reason="stop",
            model="up-1",
        )

    async def list_models(self) -> list[UpstreamModel]:
        return []

    async def check_connection(self) -> ConnectionCheck:
        return ConnectionCheck(ok=True, latency_ms=1.0)

    async def embed(self, model: str, inputs: list[str]) -> tuple[list[list[float]], Usage]:
        return [[1.0] for _ in inputs], Usage(input_tokens=len(inputs))


def _gateway(adapter: Adapter, bus: Bus) -> Gateway:
    def factory(config: ProviderConfig, pool: ClientPool) -> ProviderAdapter:
        return cast("ProviderAdapter", adapter)

    return Gateway(
        cast("ModelResolver", Resolver()),
        ClientPool(),
        CallRecorder(bus),
        adapter_factory=factory,
    )


async def _events(gateway: Gateway, bus: Bus) -> list[LlmCallCompleted]:
    await gateway.recorder.drain()
    return [e for e in bus.events if isinstance(e, LlmCallCompleted)]


STREAM = [
    ReasoningDelta("hm"),
    ContentDelta("a"),
    ContentDelta("b"),
    Usage(input_tokens=10, output_tokens=5, reasoning_tokens=1),
    Finish("stop"),
]


def test_request_parameters_override_the_model_presets_field_by_field() -> None:
    merged = merge_params(MODEL.parameters, Params(temperature=0.9, extra={"b": 2}))
    assert (merged.temperature, merged.max_tokens) == (0.9, 64)
    assert merged.extra == {"a": 1, "b": 2}
    assert merge_params(MODEL.parameters, Params()) is MODEL.parameters


async def test_a_stream_is_relayed_metered_and_recorded() -> None:
    bus, adapter = Bus(), Adapter(STREAM)
    adapter.gate.set()
    gateway = _gateway(adapter, bus)
    caller = Caller(user_id="u1", api_key_id="k1")
    stream = await gateway.open_stream("fast", HELLO, Params(top_p=0.5), caller)
    assert [d async for d in stream] == STREAM
    assert adapter.requests[0].model == "up-1"
    assert adapter.requests[0].params.top_p == 0.5
    [event] = await _events(gateway, bus)
    data = event.data
    assert (event.subject, event.actor, data.call_id) == (stream.call_id, "u1", stream.call_id)
    assert (data.status, data.finish_reason, data.stream, data.api_key_id) == (
        "ok",
        "stop",
        True,
        "k1",
    )
    assert (data.input_tokens, data.output_tokens, data.reasoning_tokens) == (10, 5, 1)
    assert data.cost == pytest.approx((10 * 1.0 + 5 * 4.0) / 1e6)
    assert data.ttft_ms is not None
    assert 0 <= data.ttft_ms <= data.latency_ms
    assert data.gateway_overhead_ms == pytest.approx(data.latency_ms - data.upstream_ms, abs=0.01)
    await gateway.aclose()


async def test_failures_before_the_first_delta_raise_and_are_recorded() -> None:
    bus = Bus()
    refused = _gateway(Adapter([], fail=ProviderError("auth", "bad key", status=401)), bus)
    with pytest.raises(ProviderError) as exc:
        await refused.open_stream("fast", HELLO, Params(), Caller())
    assert exc.value.kind == "auth"
    early = _gateway(Adapter([StreamError(error="rate_limited", message="slow down")]), bus)
    with pytest.raises(ProviderError) as first:
        await early.open_stream("fast", HELLO, Params(), Caller())
    assert first.value.kind == "rate_limited"
    with pytest.raises(ModelNotFound):
        await early.open_stream("nope", HELLO, Params(), Caller())
    await refused.recorder.drain()
    events = await _events(early, bus)
    assert [(e.data.status, e.data.error_kind) for e in events] == [
        ("error", "auth"),
        ("error", "rate_limited"),
    ]


async def test_a_mid_stream_error_ends_the_stream_as_an_error() -> None:
    bus = Bus()
    gateway = _gateway(
        Adapter([ContentDelta("a"), StreamError(error="upstream", message="x")]), bus
    )
    stream = await gateway.open_stream("fast", HELLO, Params(), Caller())
    assert [type(d).__name__ async for d in stream] == ["ContentDelta", "StreamError"]
    [event] = await _events(gateway, bus)
    assert (event.data.status, event.data.error_kind) == ("error", "upstream")


async def test_closing_the_stream_early_closes_the_upstream_and_records_a_cancel() -> None:
    bus, adapter = Bus(), Adapter(STREAM)
    gateway = _gateway(adapter, bus)
    stream = await gateway.open_stream("fast", HELLO, Params(), Caller())
    relay = aiter(stream)
    assert await anext(relay) == STREAM[0]

    async def consume() -> list[Delta]:
        return [d async for d in relay]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)  # parked on the slow upstream
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert adapter.closed
    [event] = await _events(gateway, bus)
    assert event.data.status == "cancelled"
    with pytest.raises(RuntimeError):
        aiter(stream)


async def test_an_unread_stream_can_be_abandoned() -> None:
    bus, adapter = Bus(), Adapter(STREAM)
    gateway = _gateway(adapter, bus)
    stream = await gateway.open_stream("fast", HELLO, Params(), Caller())
    await stream.aclose()
    assert adapter.closed
    assert [e.data.status for e in await _events(gateway, bus)] == ["cancelled"]


async def test_complete_and_embed_are_recorded_and_a_down_bus_never_fails_a_call() -> None:
    bus = Bus(fail=True)
    gateway = _gateway(Adapter([]), bus)
    done = await gateway.complete("fast", HELLO, Params(), Caller(origin="chat"))
    assert done.result.content == "ok"
    assert done.meter.server_timing().startswith("gateway;dur=")
    embedded = await gateway.embed("fast", ["a", "b"], Caller())
    assert embedded.vectors == [[1.0], [1.0]]
    await gateway.recorder.drain()
    assert bus.events == []  # publishing failed; with a database it would go to the outbox
    bus.fail = False
    await gateway.complete("fast", HELLO, Params(), Caller(origin="chat"))
    [event] = await _events(gateway, bus)
    assert (event.data.origin, event.data.operation, event.data.stream) == ("chat", "chat", False)
    assert event.data.ttft_ms is None
    failing = _gateway(Adapter([], fail=ProviderError("timeout", "slow")), bus)
    with pytest.raises(ProviderError):
        await failing.complete("fast", HELLO, Params(), Caller())
    events: list[Any] = await _events(failing, bus)
    assert events[-1].data.error_kind == "timeout"
