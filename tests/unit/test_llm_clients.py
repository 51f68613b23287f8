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
        with pytest.raises(ValueError, match="smoke-signals"):
            adapter_for(ProviderConfig(type="smoke-signals", base_url="https://x.test"), pool)
    assert set(ADAPTERS) == {"openai-compatible", "anthropic", "gemini", "dify"}


async def test_origin_requests_spread_over_small_kept_alive_shards() -> None:
    import asyncio

    from runtime.llm.clients import ShardedTransport

    in_flight = 0
    release = asyncio.Event()
    all_in = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    return
                in_flight += 1
                if in_flight == 8:
                    all_in.set()
                await release.wait()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    connections = 0

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await serve(reader, writer)

    server = await asyncio.start_server(counted, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = PoolSettings(max_connections=8, shard_size=2, trust_env=False)
    try:
        async with ClientPool(settings) as pool:
            client = pool.client_for(url)
            transport = client._transport
            assert isinstance(transport, ShardedTransport)
            tasks = [asyncio.create_task(client.get(url + "/x")) for _ in range(8)]
            await asyncio.wait_for(all_in.wait(), 5)
            assert transport.shards == 4
            release.set()
            assert all(r.text == "ok" for r in await asyncio.gather(*tasks))
            # Every connection was kept alive: a second round opens none.
            for _ in range(3):
                await asyncio.gather(*(client.get(url + "/y") for _ in range(8)))
            assert connections == 8
            assert all(s.in_flight == 0 for s in transport._shards)
    finally:
        server.close()
        await server.wait_closed()
