"""Pick the adapter for a provider: one table entry per wire protocol."""

from __future__ import annotations

from collections.abc import Callable

from runtime.llm.anthropic import AnthropicAdapter
from runtime.llm.clients import ClientPool
from runtime.llm.dify import DifyAdapter
from runtime.llm.gemini import GeminiAdapter
from runtime.llm.openai_compat import OpenAICompatAdapter
from runtime.llm.types import ProviderAdapter, ProviderConfig

AdapterFactory = Callable[[ProviderConfig, ClientPool], ProviderAdapter]

ADAPTERS: dict[str, AdapterFactory] = {
    "openai-compatible": OpenAICompatAdapter,
    "anthropic": AnthropicAdapter,
    "gemini": GeminiAdapter,
    "dify": DifyAdapter,
}


def adapter_for(config: ProviderConfig, pool: ClientPool) -> ProviderAdapter:
    """A ready adapter; cheap enough to build per request (clients come from the pool)."""
    factory = ADAPTERS.get(config.type)
    if factory is None:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"unknown provider type {config.type!r} (known: {known})")
    return factory(config, pool)
