"""Shared helpers of the adapter tests: build an adapter on a fake, a request, collect deltas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from runtime.llm.clients import ClientPool
from runtime.llm.registry import adapter_for
from runtime.llm.types import ChatRequest, Delta, Message, Params, ProviderAdapter, ProviderConfig

KEY = "test-key"
MULTI_TURN = [
    Message(role="system", content="Be brief."),
    Message(role="user", content="Hi"),
    Message(role="assistant", content="Hello"),
    Message(role="user", content="Again"),
]


def build_adapter(
    kind: str, base_url: str, pool: ClientPool, key: str | None = KEY, **settings: Any
) -> ProviderAdapter:
    # Fast retries keep the retry tests quick; each test may still override it.
    settings.setdefault("retry_base_delay", 0.01)
    config = ProviderConfig(type=kind, base_url=base_url, api_key=key, settings=settings)
    return adapter_for(config, pool)


def build_chat(model: str, messages: list[Message], **params: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=list(messages), params=Params(**params))


async def collect(stream: AsyncIterator[Delta]) -> list[Delta]:
    return [delta async for delta in stream]
