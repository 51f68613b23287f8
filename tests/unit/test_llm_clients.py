"""ClientPool (one client per origin) and the adapter registry."""

from __future__ import annotations

import pytest

from runtime.llm.anthropic import AnthropicAdapter
from runtime.llm.clients import ClientPool, PoolSettings
from runtime.llm.gemini import GeminiAdapter
from runtime.llm.openai_compat import OpenAICompatAdapter
from runtime.llm.registry import ADAPTERS, adapter_for
from runtime.llm.types import ProviderConfig


async def test_one_client_per_origin() -> None:
    async with ClientPool() as pool:
        a = pool.client_for("https://api.example.com/v1")
        assert pool.client_for("https://API.example.com:443/other") is a
        assert pool.client_for("http://api.example.com/v1") is not a
        assert pool.client_for("https://api.example.com:8443/v1") is not a
        assert len(pool) == 3


async def test_clients_carry_explicit_timeouts_and_limits() -> None:
    settings = PoolSettings(
        connect_timeout=1.0, read_timeout=2.0, write_timeout=3.0, pool_timeout=4.0
    )
    async with ClientPool(settings) as pool:
        client = pool.client_for("https://api.example.com")
        assert (client.timeout.connect, client.timeout.read) == (1.0, 2.0)
        assert (client.timeout.write, client.timeout.pool) == (3.0, 4.0)


async def test_closed_pool_and_bad_urls_are_refused() -> None:
    pool = ClientPool()
    with pytest.raises(ValueError, match="http"):
        pool.client_for("ftp://example.com")
    client = pool.client_for("https://api.example.com")
    await pool.aclose()
    assert client.is_closed
    with pytest.raises(RuntimeError):
        pool.client_for("https://api.example.com")


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("openai-compatible", OpenAICompatAdapter),
        ("anthropic", AnthropicAdapter),
        ("gemini", GeminiAdapter),
    ],
)
async def test_registry_picks_the_adapter_by_type(kind: str, cls: type) -> None:
    async with ClientPool() as pool:
        config = ProviderConfig(type=kind, base_url="https://api.example.com", api_key="k")
        assert isinstance(adapter_for(config, pool), cls)


async def test_unknown_type_is_a_value_error() -> None:
    async with ClientPool() as pool:
        with pytest.raises(ValueError, match="dify"):
            adapter_for(ProviderConfig(type="dify", base_url="https://x.test"), pool)
    assert set(ADAPTERS) == {"openai-compatible", "anthropic", "gemini"}
