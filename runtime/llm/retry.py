"""Send with bounded retries (backoff + jitter, Retry-After), only before any body is relayed."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from runtime.llm.errors import MAX_ERROR_BODY, error_from_exception, error_from_response
from runtime.llm.types import ProviderError

# 529 is Anthropic's "overloaded"; 408 a proxy's request timeout.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})

_RETRY_EXCEPTIONS = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    # No new attempt starts (and no wait begins) that would end past this many seconds
    # after the first attempt: a waiting user is worth more than one more try.
    deadline: float = 30.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetryPolicy:
        default = cls()
        return cls(
            max_attempts=max(1, int(settings.get("max_attempts", default.max_attempts))),
            base_delay=float(settings.get("retry_base_delay", default.base_delay)),
            max_delay=float(settings.get("retry_max_delay", default.max_delay)),
            deadline=float(settings.get("retry_deadline", default.deadline)),
        )

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Equal jitter: half fixed, half random, so retries spread without starving."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + rand() * ceiling / 2


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


async def read_capped(response: httpx.Response) -> bytes:
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= MAX_ERROR_BODY:
            break
    return body[:MAX_ERROR_BODY]


async def send_with_retry(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    secret: str | None,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> httpx.Response:
    """A 2xx response with its body unread, or ProviderError.

    Retried: connect failures, connections dropped before any response, 408/429/5xx.
    Never retried: read timeouts (the upstream may be working on it, and a second call
    would bill twice) and anything after a 2xx status.
    """
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        retry_after: float | None = None
        try:
            response = await client.send(request, stream=True)
        except httpx.TransportError as exc:
            error = error_from_exception(exc, secret=secret)
            # Nothing came back, so nothing was relayed: a refused connection, or a pooled
            # keep-alive connection the server closed just as we wrote (no response).
            retryable = isinstance(exc, _RETRY_EXCEPTIONS)
        else:
            status = response.status_code
            if 200 <= status < 300:
                return response
            try:
                body = await read_capped(response)
            except httpx.HTTPError:
                body = b""
            finally:
                await response.aclose()
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            error = error_from_response(
                status, response.headers, body, secret=secret, retry_after=retry_after
            )
            retryable = status in RETRY_STATUSES
        if not retryable or attempt >= policy.max_attempts:
            raise error
        if retry_after is not None:
            # The server's number is a floor; a little jitter keeps clients from stampeding.
            delay = retry_after + random.random() * min(1.0, retry_after * 0.1)  # noqa: S311
        else:
            delay = policy.backoff(attempt)
        if clock() - started + delay > policy.deadline:
            raise error
        await sleep(delay)


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    secret: str | None,
) -> AsyncIterator[httpx.Response]:
    """The response to stream from; closed on exit, also on cancellation or aclose().

    Closing an unfinished response drops its connection, which is how the upstream
    learns that the client went away.
    """
    response = await send_with_retry(client, request, policy=policy, secret=secret)
    try:
        yield response
    finally:
        await response.aclose()


async def fetch(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    secret: str | None,
) -> bytes:
    """The whole 2xx body of a non-streamed call, or ProviderError."""
    try:
        response = await send_with_retry(client, request, policy=policy, secret=secret)
    except ProviderError:
        raise
    except httpx.HTTPError as exc:
        raise error_from_exception(exc, secret=secret) from exc
    try:
        return await response.aread()
    except httpx.HTTPError as exc:
        raise error_from_exception(exc, secret=secret) from exc
    finally:
        await response.aclose()
