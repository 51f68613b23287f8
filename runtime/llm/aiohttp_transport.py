"""An httpx transport that sends through aiohttp's connection pool.

The gateway keeps httpx's client API (requests, responses, exceptions, timeouts) and swaps
what is under it. httpcore reads through anyio streams and opens a cancel scope with a
timeout for every read, and h11 parses in pure Python; aiohttp parses with its C parser
and reads straight off the event loop's protocol. ``python -m bench.upstream_client``
(20 SSE tokens per stream, 600 streams, 30 at once, uvloop, one run): 2.76 ms of client
CPU per stream through httpcore, 0.94 ms through this transport.

aiohttp's exceptions are mapped to the httpx ones that the retry policy and the error
classification (``runtime/llm/errors.py``) already tell apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx


@contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    """Raise aiohttp's failures as the httpx exception of the same meaning."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
    except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except aiohttp.ServerDisconnectedError as exc:
        raise httpx.RemoteProtocolError(
            "server disconnected without sending a complete response", request=request
        ) from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.RemoteProtocolError(
            f"peer closed connection without sending complete message body: {exc}",
            request=request,
        ) from exc
    except aiohttp.ClientResponseError as exc:
        # What aiohttp raises for a response it cannot parse (bad status line, headers).
        raise httpx.RemoteProtocolError(exc.message, request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
    except (aiohttp.ClientOSError, ConnectionError) as exc:
        raise httpx.ReadError(str(exc), request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.TransportError(str(exc), request=request) from exc


class _Body(httpx.AsyncByteStream):
    """A response body: chunks as they arrive; closing an unread body drops the connection."""

    __slots__ = ("_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        with _mapped(self._request):
            while chunk := await content.readany():
                yield chunk

    async def aclose(self) -> None:
        response = self._response
        if response.content.at_eof():
            response.release()  # back to the pool
        else:
            # Stopped early (client gone, error): the upstream must see the disconnect.
            response.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (its own pool of kept-alive connections) behind an httpx client.

    The session is made on the first request: aiohttp binds it to the running loop.
    """

    def __init__(
        self,
        *,
        max_connections: int,
        keepalive_expiry: float,
        trust_env: bool,
        proxy: str | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._trust_env = trust_env
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            # The CA bundle httpx would use (certifi, or SSL_CERT_FILE when trusted).
            ssl=httpx.create_ssl_context(trust_env=self._trust_env),
        )
        return aiohttp.ClientSession(
            connector=connector,
            # The proxy comes from the caller (resolved once per origin). aiohttp's own
            # trust_env would also read ~/.netrc on a thread for every request.
            trust_env=False,
            # One session serves every key on an origin: a cookie one tenant's response
            # sets (e.g. a CDN's) must not ride along on another's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # httpx decodes the body by its Content-Encoding, as with its own transport.
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None:
            session = self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        # Bodies built from bytes (all of the gateway's) are read already.
        body = request.content if isinstance(request.stream, httpx.ByteStream) else None
        if body is None:
            body = await request.aread()
        with _mapped(request):
            response = await session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                compress=False,
                proxy=self._proxy,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("ascii", "replace"),
            },
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            # Lets the closed connections' transports finish (aiohttp's advice), so no
            # "unclosed transport" warning fires at interpreter exit.
            await asyncio.sleep(0)
