"""The gateway's database side: alias resolution, usage rows, the outbox fallback."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from events.llm import LlmCallCompleted, LlmCallData
from handlers.usage import write_usage_rows
from runtime.db.models import ModelConfig, OutboxEvent, Provider
from runtime.db.models.providers import LlmCall
from runtime.llm.recorder import CallRecorder
from runtime.llm.resolver import ModelNotFound, ModelResolver
from runtime.llm.types import ProviderError
from runtime.security.crypto import Keyring, MasterKey


async def _seed(session_factory: async_sessionmaker[AsyncSession], ring: Keyring) -> str:
    async with session_factory() as session, session.begin():
        provider = Provider(
            name="p",
            type="openai-compatible",
            base_url="http://p/v1",
            api_key_encrypted=ring.encrypt("sk-p"),
            settings={"max_attempts": 1},
        )
        session.add(provider)
        await session.flush()
        model = ModelConfig(
            provider_id=provider.id,
            model_id="up",
            alias="fast",
            name="Fast",
            parameters={"temperature": 0.3},
            input_price_per_mtok=1.5,
        )
        session.add_all(
            [
                model,
                ModelConfig(
                    provider_id=provider.id, model_id="x", alias="off", name="Off", enabled=False
                ),
            ]
        )
        await session.flush()
        return model.id


async def test_resolves_aliases_and_ids_and_caches_for_the_ttl(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ring = Keyring(MasterKey.generate())
    model_id = await _seed(session_factory, ring)
    now = [0.0]
    resolver = ModelResolver(session_factory, ring, ttl=2.0, clock=lambda: now[0])
    resolved = await resolver.resolve("fast")
    assert (resolved.model_config_id, resolved.upstream_model) == (model_id, "up")
    assert resolved.provider.api_key == "sk-p"
    assert resolved.provider.settings == {"max_attempts": 1}
    assert resolved.parameters.temperature == 0.3
    assert "sk-p" not in repr(resolved)
    assert (await resolver.resolve(model_id)).alias == "fast"
    with pytest.raises(ModelNotFound):
        await resolver.resolve("off")

    async with session_factory() as session, session.begin():
        provider = await session.scalar(select(Provider))
        assert provider is not None
        provider.enabled = False
    assert (await resolver.resolve("fast")).alias == "fast"  # cached: no query
    now[0] = 2.5
    with pytest.raises(ModelNotFound):
        await resolver.resolve("fast")

    async with session_factory() as session, session.begin():
        provider = await session.scalar(select(Provider))
        assert provider is not None
        provider.enabled = True
    other = ModelResolver(session_factory, Keyring(MasterKey.generate()))
    with pytest.raises(ProviderError) as unreadable:
        await other.resolve("fast")
    assert unreadable.value.kind == "auth"


async def test_usage_rows_are_written_once_per_event(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    data = LlmCallData(
        call_id="c1",
        model_alias="fast",
        model_config_id="m",
        provider_id="p",
        provider_type="openai-compatible",
        upstream_model="up",
        input_tokens=3,
        cost=0.5,
    )
    event = LlmCallCompleted(subject="c1", data=data)
    for _ in range(2):  # a redelivery changes nothing
        async with session_factory() as session, session.begin():
            assert await write_usage_rows(session, [event]) == 1
    async with session_factory() as session:
        rows = (await session.scalars(select(LlmCall))).all()
    assert [(r.id, r.call_id, r.input_tokens, r.cost) for r in rows] == [(event.id, "c1", 3, 0.5)]


class _DownBus:
    async def publish(self, event: object) -> object:
        raise ConnectionError("nats is down")


async def test_a_call_event_that_cannot_be_published_waits_in_the_outbox(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    data = LlmCallData(
        call_id="c2",
        model_alias="fast",
        model_config_id="m",
        provider_id="p",
        provider_type="openai-compatible",
        upstream_model="up",
    )
    event = LlmCallCompleted(subject="c2", data=data)
    recorder = CallRecorder(_DownBus(), session_factory)
    recorder.record(event)
    await recorder.drain()
    assert recorder.pending == 0
    async with session_factory() as session:
        ids = (await session.scalars(select(OutboxEvent.id))).all()
    assert ids == [event.id]  # the relay publishes it once NATS is back
