"""One pooled keep-alive ``httpx.AsyncClient`` per upstream origin, created on first use.

Each origin's client sends through a :class:`ShardedTransport`: several small httpcore
pools (``shard_size`` connections each, all of them kept alive) rather than one big one.
httpcore closes connections as they go idle whenever a pool holds more than its keep-alive
limit (so under load nearly every stream opened a new TCP connection), and its per-request
housekeeping walks every connection of the pool; small shards keep both cheap. A request
goes to the shard with the fewest requests in flight; shards are added as they fill.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urlsplit

import httpx
from httpx._utils import get_environment_proxies


@dataclass(frozen=True, slots=True)
class PoolSettings:
    connect_timeout: float = 5.0
    # Longest silence allowed between two reads: before the first byte too, so reasoning
    # models that think for a while before answering need it generous.
    read_timeout: float = 120.0
    write_timeout: float = 10.0
    pool_timeout: float = 10.0
    max_connections: int = 256
    # Kept for callers that set it; each shard keeps all of its connections alive.
    max_keepalive_connections: int = 64
    # Connections per shard of an origin's pool (see ShardedTransport).
    shard_size: int = 16
    keepalive_expiry: float = 30.0
    # Honour HTTP(S)_PROXY / NO_PROXY, as corporate networks need for outbound calls.
    trust_env: bool = True


class _Shard:
    __slots__ = ("in_flight", "transport")

    def __init__(self, transport: httpx.AsyncHTTPTransport) -> None:
        self.transport = transport
        self.in_flight = 0


class _CountedStream(httpx.AsyncByteStream):
    """The response body; gives its shard's in-flight slot back once, on close."""

    __slots__ = ("_closed", "_shard", "_stream")

    def __init__(self, stream: httpx.AsyncByteStream, shard: _Shard) -> None:
        self._stream = stream
        self._shard = shard
        self._closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        # The inner iterator itself: no extra generator layer per chunk.
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._shard.in_flight -= 1
        await self._stream.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """Spreads one origin's requests over up to ``max_shards`` small connection pools."""

    def __init__(
        self, *, shard_size: int, max_shards: int, keepalive_expiry: float, trust_env: bool
    ) -> None:
        self._shard_size = max(1, shard_size)
        self._max_shards = max(1, max_shards)
        self._limits = httpx.Limits(
            max_connections=self._shard_size,
            max_keepalive_connections=self._shard_size,
            keepalive_expiry=keepalive_expiry,
        )
        self._trust_env = trust_env
        self._shards: list[_Shard] = []

    @property
    def shards(self) -> int:
        return len(self._shards)

    def _add_shard(self) -> _Shard:
        shard = _Shard(
            httpx.AsyncHTTPTransport(
                limits=self._limits, http1=True, http2=False, trust_env=self._trust_env
            )
        )
        self._shards.append(shard)
        return shard

    def _pick(self) -> _Shard:
        shards = self._shards
        if not shards:
            return self._add_shard()
        best = shards[0]
        low = best.in_flight
        if low:
            for shard in shards:
                if shard.in_flight < low:
                    best = shard
                    low = shard.in_flight
                    if not low:
                        break
        if low >= self._shard_size and len(shards) < self._max_shards:
            return self._add_shard()
        return best

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shard = self._pick()
        shard.in_flight += 1
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            shard.in_flight -= 1
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(stream, shard)
        return response

    async def aclose(self) -> None:
        shards = self._shards
        self._shards = []
        await asyncio.gather(*(s.transport.aclose() for s in shards), return_exceptions=True)


class ClientPool:
    """Shared by every adapter; ``client_for`` is a dict hit after the first call."""

    def __init__(self, settings: PoolSettings | None = None) -> None:
        self.settings = settings or PoolSettings()
        s = self.settings
        self._timeout = httpx.Timeout(
            connect=s.connect_timeout,
            read=s.read_timeout,
            write=s.write_timeout,
            pool=s.pool_timeout,
        )
        self._limits = httpx.Limits(
            max_connections=s.max_connections,
            max_keepalive_connections=s.max_keepalive_connections,
            keepalive_expiry=s.keepalive_expiry,
        )
        self._max_shards = max(1, -(-s.max_connections // max(1, s.shard_size)))
        self._by_origin: dict[str, httpx.AsyncClient] = {}
        # base_url -> client, so the hot path never parses a URL.
        self._by_url: dict[str, httpx.AsyncClient] = {}
        self._closed = False

    @property
    def timeout(self) -> httpx.Timeout:
        return self._timeout

    def client_for(self, url: str) -> httpx.AsyncClient:
        client = self._by_url.get(url)
        if client is not None:
            return client
        if self._closed:
            raise RuntimeError("ClientPool is closed")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        origin = f"{parts.scheme}://{parts.hostname.lower()}:{port}"
        client = self._by_origin.get(origin)
        if client is None:
            trust_env = self.settings.trust_env
            transport = ShardedTransport(
                shard_size=self.settings.shard_size,
                max_shards=self._max_shards,
                keepalive_expiry=self.settings.keepalive_expiry,
                trust_env=trust_env,
            )
            # httpx skips HTTP(S)_PROXY when given a transport: mount the env's proxies
            # (None: NO_PROXY, straight through the sharded transport) as it would.
            mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
            if trust_env:
                for pattern, proxy in get_environment_proxies().items():
                    mounts[pattern] = (
                        None
                        if proxy is None
                        else httpx.AsyncHTTPTransport(
                            proxy=proxy, limits=self._limits, trust_env=trust_env
                        )
                    )
            client = httpx.AsyncClient(
                timeout=self._timeout,
                transport=transport,
                mounts=mounts,
                follow_redirects=False,
                trust_env=trust_env,
                # Clients are shared by every key on an origin: a cookie one tenant's
                # response sets (e.g. a CDN's) must not ride along on another's request.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
            self._by_origin[origin] = client
        self._by_url[url] = client
        return client

    def __len__(self) -> int:
        return len(self._by_origin)

    async def aclose(self) -> None:
        self._closed = True
        clients = list(self._by_origin.values())
        self._by_origin.clear()
        self._by_url.clear()
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
