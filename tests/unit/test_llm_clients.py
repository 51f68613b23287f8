"""ClientPool (one client per origin) and the adapter registry."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from runtime.llm.anthropic import AnthropicAdapter
from runtime.llm.clients import ClientPool, PoolSettings
from runtime.llm.gemini import GeminiAdapter
from runtime.llm.openai_compat import OpenAICompatAdapter
from runtime.llm.registry import ADAPTERS, adapter_for
from runtime.llm.types import ProviderConfig

Respond = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def loopback(respond: Respond) -> AsyncIterator[str]:
    """An HTTP/1.1 server on 127.0.0.1 that runs ``respond`` for each request of a connection;
    yields its URL."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await respond(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


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


async def test_connections_are_kept_alive_and_reused_by_the_pool() -> None:
    in_flight = 0
    release = asyncio.Event()
    all_in = asyncio.Event()
    connections: set[int] = set()

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight
        await reader.readuntil(b"\r\n\r\n")
        connections.add(id(writer))
        in_flight += 1
        if in_flight == 8:
            all_in.set()
        await release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()

    async with (
        loopback(respond) as url,
        ClientPool(PoolSettings(max_connections=8, trust_env=False)) as pool,
    ):
        client = pool.client_for(url)
        tasks = [asyncio.create_task(client.get(url + "/x")) for _ in range(8)]
        await asyncio.wait_for(all_in.wait(), 5)
        release.set()
        assert all(r.text == "ok" for r in await asyncio.gather(*tasks))
        # Every connection was kept alive: more rounds open none.
        for _ in range(3):
            await asyncio.gather(*(client.get(url + "/y") for _ in range(8)))
        assert len(connections) == 8


async def test_cookies_an_upstream_sets_are_neither_kept_nor_sent() -> None:
    heads: list[bytes] = []

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(
            b"HTTP/1.1 200 OK\r\nset-cookie: __cf_bm=tenant-a; Path=/\r\n"
            b"content-length: 2\r\n\r\nok"
        )
        await writer.drain()

    async with loopback(respond) as url, ClientPool(PoolSettings(trust_env=False)) as pool:
        client = pool.client_for(url)
        first = await client.get(url + "/a")
        await client.get(url + "/b")
        assert first.headers["set-cookie"].startswith("__cf_bm=")  # seen by the caller
        assert len(client.cookies) == 0
    assert len(heads) == 2
    assert all(b"cookie" not in head.lower() for head in heads)


def test_environment_proxy_follows_httpx_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.llm.clients import environment_proxy

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert environment_proxy("https://api.example.com:443") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "internal.corp")
    assert environment_proxy("https://api.example.com:443") == "http://proxy.corp:3128"
    assert environment_proxy("http://api.example.com:80") is None
    assert environment_proxy("https://llm.internal.corp:443") is None


async def test_requests_go_through_the_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0])
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nproxied")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    for name in ("HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        async with ClientPool() as pool:
            response = await pool.client_for("http://upstream.test/v1").get(
                "http://upstream.test/v1/models"
            )
        assert response.text == "proxied"
        # The absolute form: the proxy is asked for the upstream's URL.
        assert seen == [b"GET http://upstream.test/v1/models HTTP/1.1"]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        ("connect_timeout", "ConnectTimeout"),
        ("read_timeout", "ReadTimeout"),
        ("disconnected", "RemoteProtocolError"),
        ("payload", "RemoteProtocolError"),
        ("bad_response", "RemoteProtocolError"),
        ("reset", "ReadError"),
        ("other", "TransportError"),
    ],
)
def test_aiohttp_failures_become_the_httpx_errors_the_gateway_classifies(
    raised: str, expected: str
) -> None:
    import aiohttp
    import httpx

    from runtime.llm.aiohttp_transport import _mapped

    request = httpx.Request("POST", "http://upstream.test/v1/chat/completions")
    info = aiohttp.RequestInfo(
        aiohttp.client.URL("http://upstream.test"),
        "POST",
        {},
        aiohttp.client.URL("http://upstream.test"),  # type: ignore[arg-type]
    )
    errors: dict[str, Exception] = {
        "connect_timeout": aiohttp.ConnectionTimeoutError(),
        "read_timeout": aiohttp.SocketTimeoutError(),
        "disconnected": aiohttp.ServerDisconnectedError(),
        "payload": aiohttp.ClientPayloadError("Response payload is not completed"),
        "bad_response": aiohttp.ClientResponseError(info, (), message="Bad status line"),
        "reset": ConnectionResetError(104, "reset"),
        "other": aiohttp.ClientError("odd"),
    }
    with pytest.raises(httpx.TransportError) as caught, _mapped(request):
        raise errors[raised]
    assert type(caught.value).__name__ == expected
    assert caught.value.request is request
