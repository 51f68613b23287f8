"""The multiplexed comparison stream against in-memory adapters: framing, isolation, record."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

from events import Event
from events.compare import CompareRunCompleted
from handlers.compare.fanout import CompareStream, RunSpec
from handlers.compare.schemas import CompareParameters, ModelRef
from runtime.llm.clients import ClientPool
from runtime.llm.gateway import Gateway
from runtime.llm.metering import Caller
from runtime.llm.recorder import CallRecorder
from runtime.llm.resolver import ModelNotFound, ModelResolver, ResolvedModel
from runtime.llm.types import (
    ChatRequest,
    ContentDelta,
    Delta,
    Finish,
    Params,
    ProviderAdapter,
    ProviderConfig,
    ProviderError,
    ReasoningDelta,
    Usage,
)


class Bus:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> object:
        self.events.append(event)
        return None


def resolved(name: str) -> ResolvedModel:
    return ResolvedModel(
        model_config_id=name,
        alias=name,
        name=name.title(),
        upstream_model=f"up-{name}",
        provider_id="p1",
        provider_type="test",
        # The adapter factory picks the script by this URL.
        provider=ProviderConfig(type="test", base_url=f"mem://{name}"),
        parameters=Params(),
        input_price_per_mtok=1.0,
        output_price_per_mtok=1.0,
        created_at=0.0,
    )


class Resolver:
    keyring = None

    async def resolve(self, name: str) -> ResolvedModel:
        if name == "gone":
            raise ModelNotFound(name)
        return resolved(name)


class Adapter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.requests: list[ChatRequest] = []

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Delta]:
        self.requests.append(request)
        if self.name == "down":
            raise ProviderError("unreachable", "cannot connect", status=None)
        if self.name == "boom":
            raise RuntimeError("a bug in an adapter")
        yield ReasoningDelta("think ")
        yield ContentDelta(f"{self.name} ")
        yield ContentDelta("says hi")
        yield Usage(input_tokens=5, output_tokens=3)
        yield Finish("stop")


def gateway(bus: Bus) -> tuple[Gateway, dict[str, Adapter]]:
    adapters: dict[str, Adapter] = {}

    def factory(config: ProviderConfig, pool: ClientPool) -> ProviderAdapter:
        name = config.base_url.removeprefix("mem://")
        return cast("ProviderAdapter", adapters.setdefault(name, Adapter(name)))

    built = Gateway(
        cast("ModelResolver", Resolver()), ClientPool(), CallRecorder(bus), adapter_factory=factory
    )
    return built, adapters


def spec(*names: str, prompt: str = "hello") -> RunSpec:
    return RunSpec(
        run_id="run1",
        user_id="u1",
        models=[ModelRef(model_config_id=n, alias=n, name=n.title()) for n in names],
        prompt=prompt,
        system_prompt="be kind",
        parameters=CompareParameters(temperature=0.3),
    )


async def collect(stream: CompareStream) -> list[tuple[str, dict[str, Any]]]:
    out = []
    async for message in stream.messages():
        assert message.event is not None, "no pings expected here"
        out.append((message.event, json.loads(str(message.data))))
    return out


async def test_each_failure_stays_with_its_model_and_every_event_names_it() -> None:
    bus = Bus()
    gw, adapters = gateway(bus)
    stream = CompareStream(
        gw,
        spec("alpha", "down", "boom", "gone", "beta"),
        Caller("u1"),
        heartbeat=5,
        payload_limit=2**20,
    )
    events = await collect(stream)
    await gw.recorder.drain()

    assert events[-1][0] == "summary"
    ends = {d["model_config_id"]: (kind, d) for kind, d in events[:-1] if kind in ("done", "error")}
    assert {m: kind for m, (kind, _) in ends.items()} == {
        "alpha": "done",
        "beta": "done",
        "down": "error",
        "boom": "error",
        "gone": "error",
    }
    assert ends["down"][1]["error"] == "unreachable"
    assert ends["boom"][1]["error"] == "internal"
    assert ends["gone"][1]["error"] == "model_not_found"
    alpha = [(k, d) for k, d in events[:-1] if d["model_config_id"] == "alpha"]
    assert [k for k, _ in alpha] == ["start", "reasoning", "content", "content", "usage", "done"]
    assert alpha[-1][1]["metrics"]["output_tokens"] == 3
    assert alpha[-1][1]["metrics"]["cost"] == 8 / 1e6
    # The request carried the system prompt and the run's parameters.
    sent = adapters["alpha"].requests[0]
    assert [m.role for m in sent.messages] == ["system", "user"]
    assert sent.params.temperature == 0.3

    [record] = [e for e in bus.events if isinstance(e, CompareRunCompleted)]
    assert record.subject == "run1"
    assert record.actor == "u1"
    assert record.data.parameters == {"temperature": 0.3}
    answers = {a.model_config_id: a for a in record.data.models}
    assert [a.model_config_id for a in record.data.models] == [
        "alpha",
        "down",
        "boom",
        "gone",
        "beta",
    ]
    assert (answers["alpha"].answer, answers["alpha"].reasoning) == ("alpha says hi", "think ")
    assert (answers["gone"].status, answers["boom"].status) == ("error", "error")


async def test_the_record_clips_answers_to_what_the_payload_limit_leaves() -> None:
    bus = Bus()
    gw, _ = gateway(bus)
    limit = 48 * 1024 + len(b"hello") + len(b"be kind") + 2 * 8  # 8 bytes per model
    stream = CompareStream(
        gw, spec("alpha", "beta"), Caller("u1"), heartbeat=5, payload_limit=limit
    )
    await collect(stream)
    await gw.recorder.drain()
    [record] = [e for e in bus.events if isinstance(e, CompareRunCompleted)]
    for answer in record.data.models:
        assert answer.truncated
        assert len(answer.reasoning.encode()) + len(answer.answer.encode()) <= 8
