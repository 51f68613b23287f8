"""What every HTTP adapter shares: config, pooled client, retries and the stream relay loop."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx
import msgspec

from runtime.llm.clients import ClientPool
from runtime.llm.errors import (
    error_from_exception,
    error_from_json_stream,
    stream_error_from_exception,
)
from runtime.llm.retry import NO_RETRY, RetryPolicy, fetch, open_stream, read_capped
from runtime.llm.sse import SSEEvent, SSEParser
from runtime.llm.types import (
    ConnectionCheck,
    Delta,
    ErrorKind,
    ProviderConfig,
    ProviderError,
    UpstreamModel,
)

_encode = msgspec.json.Encoder().encode
_JSON = {"content-type": "application/json"}
# Compressed event streams get buffered by the compressor: each token would wait for more.
_SSE_ACCEPT = {"accept": "text/event-stream", "accept-encoding": "identity"}


_URLS: dict[str, httpx.URL] = {}


def _url(url: str) -> httpx.URL:
    """Parsed once: httpx re-parsing the same string costs tens of µs per request."""
    parsed = _URLS.get(url)
    if parsed is None:
        if len(_URLS) >= 4096:  # bounded: URLs embed model names, which users choose
            _URLS.clear()
        parsed = _URLS[url] = httpx.URL(url)
    return parsed


class Translator(Protocol):
    """Turns one provider's SSE events into deltas; one instance per stream."""

    done: bool

    def on_event(self, event: SSEEvent) -> Sequence[Delta]:
        """Deltas for one event; raises ProviderError for an in-stream error event."""
        ...

    def finish(self) -> Sequence[Delta]:
        """The closing Usage/Finish; raises ProviderError when the stream was cut short."""
        ...


def _timeout_override(settings: Mapping[str, Any], default: httpx.Timeout) -> httpx.Timeout | None:
    keys = ("connect_timeout", "read_timeout", "write_timeout", "pool_timeout")
    if not any(k in settings for k in keys):
        return None
    return httpx.Timeout(
        connect=float(settings.get("connect_timeout", default.connect or 5.0)),
        read=float(settings.get("read_timeout", default.read or 120.0)),
        write=float(settings.get("write_timeout", default.write or 10.0)),
        pool=float(settings.get("pool_timeout", default.pool or 10.0)),
    )


class HttpAdapter:
    """Base for the wire-protocol adapters; subclasses set headers and translate bodies."""

    def __init__(self, config: ProviderConfig, pool: ClientPool) -> None:
        self.config = config
        self.base_url = self.api_root(config.base_url.rstrip("/"))
        self._client = pool.client_for(config.base_url)
        self._secret = config.api_key
        settings = config.settings
        self._policy = RetryPolicy.from_settings(settings)
        timeout = _timeout_override(settings, pool.timeout)
        self._timeout: Any = timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT
        extra = settings.get("headers")
        self._headers = {**_JSON, **self.auth_headers(config.api_key)}
        if isinstance(extra, dict):
            self._headers.update({str(k): str(v) for k, v in extra.items()})
        self._stream_headers = {**self._headers, **_SSE_ACCEPT}

    # --- for subclasses ------------------------------------------------------------------

    def api_root(self, base_url: str) -> str:
        return base_url

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        raise NotImplementedError

    def build(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str | int] | None = None,
        stream: bool = False,
    ) -> httpx.Request:
        return self._client.build_request(
            method,
            _url(self.base_url + path),
            content=_encode(body) if body is not None else None,
            params=params,
            headers=self._stream_headers if stream else self._headers,
            timeout=self._timeout,
        )

    async def fetch(self, request: httpx.Request, *, retry: bool = True) -> bytes:
        policy = self._policy if retry else NO_RETRY
        return await fetch(self._client, request, policy=policy, secret=self._secret)

    def decode(self, decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
        try:
            return decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProviderError(
                "malformed", f"the upstream sent an unexpected body: {exc}"
            ) from exc

    async def relay(self, request: httpx.Request, translator: Translator) -> AsyncIterator[Delta]:
        """Open the stream and yield deltas; errors follow the ProviderAdapter contract.

        The response is opened with ``async with`` inside this generator, so a consumer
        that stops early (aclose, cancellation) closes the upstream connection at once.
        """
        relayed = False
        try:
            async with open_stream(
                self._client, request, policy=self._policy, secret=self._secret
            ) as response:
                if response.headers.get("content-type", "").startswith("application/json"):
                    body = await read_capped(response)
                    raise error_from_json_stream(body, secret=self._secret)
                parser = SSEParser()
                feed = parser.feed
                on_event = translator.on_event
                chunks = response.aiter_bytes()
                async for chunk in chunks:
                    for event in feed(chunk):
                        for delta in on_event(event):
                            relayed = True
                            yield delta
                        if translator.done:
                            break
                    if translator.done:
                        break
                else:
                    for event in parser.flush():
                        for delta in on_event(event):
                            relayed = True
                            yield delta
                tail = translator.finish()
                # Yield the end before draining: the consumer gets Finish without waiting.
                for delta in tail:
                    yield delta
                # Read the body to its end so the connection goes back to the pool.
                if translator.done:
                    try:
                        async for _ in chunks:
                            pass
                    except httpx.HTTPError:
                        pass
        except ProviderError as exc:
            if not relayed:
                raise
            yield stream_error_from_exception(exc, secret=self._secret)
        except (httpx.HTTPError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            if not relayed:
                raise error_from_exception(exc, secret=self._secret) from exc
            yield stream_error_from_exception(exc, secret=self._secret)

    async def check(
        self, list_models: Callable[..., Awaitable[list[UpstreamModel]]]
    ) -> ConnectionCheck:
        """Time one model listing; never raises for upstream trouble."""
        started = time.perf_counter()
        try:
            models = await list_models(retry=False)
        except ProviderError as exc:
            kind: ErrorKind = exc.kind
            return ConnectionCheck(
                ok=False,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
                error=kind,
                message=exc.message,
            )
        return ConnectionCheck(
            ok=True,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            models=len(models),
        )
