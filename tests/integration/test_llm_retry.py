"""Retries: backoff, Retry-After, bounds and deadline, only before any body is relayed."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from runtime.llm.clients import ClientPool
from runtime.llm.errors import error_from_response
from runtime.llm.registry import adapter_for
from runtime.llm.retry import RetryPolicy, parse_retry_after, send_with_retry
from runtime.llm.types import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    ProviderAdapter,
    ProviderConfig,
    ProviderError,
    StreamError,
)
from tests.fakes import FakeServer, Scenario

TYPES = {"fake_openai": "openai-compatible", "fake_anthropic": "anthropic", "fake_gemini": "gemini"}
CHAT = ChatRequest(model="m", messages=[Message(role="user", content="hi")])


def adapter_on(fake: FakeServer, kind: str, pool: ClientPool, **settings: Any) -> ProviderAdapter:
    settings.setdefault("retry_base_delay", 0.01)
    config = ProviderConfig(
        type=kind, base_url=fake.base_url, api_key="test-key", settings=settings
    )
    return adapter_for(config, pool)


@pytest.fixture(params=list(TYPES))
def provider(request: pytest.FixtureRequest) -> tuple[FakeServer, str]:
    return request.getfixturevalue(request.param), TYPES[request.param]


# --- against the fakes, for every protocol ----------------------------------------------


async def test_429_with_retry_after_is_retried_then_succeeds(
    provider: tuple[FakeServer, str], client_pool: ClientPool
) -> None:
    fake, kind = provider
    fake.enqueue(Scenario(status=429, retry_after="0", error_message="slow down"))
    fake.scenario = Scenario(tokens=["ok"])
    deltas = [d async for d in adapter_on(fake, kind, client_pool).stream_chat(CHAT)]
    assert deltas[0] == ContentDelta("ok")
    assert deltas[-1] == Finish("stop")
    assert len(fake.requests) == 2


async def test_429_gives_up_after_the_bound_with_retry_after(
    provider: tuple[FakeServer, str], client_pool: ClientPool
) -> None:
    fake, kind = provider
    fake.scenario = Scenario(status=429, retry_after="0", error_message="slow down")
    adapter = adapter_on(fake, kind, client_pool, max_attempts=3)
    with pytest.raises(ProviderError) as caught:
        [d async for d in adapter.stream_chat(CHAT)]
    error = caught.value
    assert (error.kind, error.status, error.retry_after, error.message) == (
        "rate_limited",
        429,
        0.0,
        "slow down",
    )
    assert error.retryable
    assert len(fake.requests) == 3


async def test_retry_after_beyond_the_deadline_gives_up_at_once(
    provider: tuple[FakeServer, str], client_pool: ClientPool
) -> None:
    fake, kind = provider
    fake.scenario = Scenario(status=429, retry_after="120")
    adapter = adapter_on(fake, kind, client_pool, retry_deadline=10)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete_chat(CHAT)
    assert (caught.value.kind, caught.value.retry_after) == ("rate_limited", 120.0)
    assert len(fake.requests) == 1


async def test_nothing_is_retried_once_the_body_started(
    provider: tuple[FakeServer, str], client_pool: ClientPool
) -> None:
    fake, kind = provider
    fake.scenario = Scenario(tokens=["a", "b"], drop_after=1)
    deltas = [d async for d in adapter_on(fake, kind, client_pool).stream_chat(CHAT)]
    assert deltas[0] == ContentDelta("a")
    assert isinstance(deltas[-1], StreamError)
    assert len(fake.requests) == 1


# --- the retry loop itself, with httpx's mock transport and a recorded sleep -------------


class Recorder:
    """A sleep that returns at once and a clock that it moves, so waits cost no time."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def send(
    handler: Callable[[httpx.Request], httpx.Response], policy: RetryPolicy, recorder: Recorder
) -> httpx.Response:
    async with mock_client(handler) as client:
        request = client.build_request("POST", "http://upstream.test/x", content=b"{}")
        response = await send_with_retry(
            client,
            request,
            policy=policy,
            secret="sk-secret",
            sleep=recorder.sleep,
            clock=recorder.clock,
        )
        await response.aclose()
        return response


def scripted(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


async def test_connect_errors_are_retried_with_growing_backoff() -> None:
    recorder = Recorder()
    handler = scripted(
        httpx.ConnectError("refused"), httpx.ConnectError("refused"), httpx.Response(200)
    )
    policy = RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=10)
    assert (await send(handler, policy, recorder)).status_code == 200
    first, second = recorder.sleeps
    assert 0.05 <= first <= 0.1
    assert 0.1 <= second <= 0.2


async def test_retry_after_seconds_are_honoured() -> None:
    recorder = Recorder()
    handler = scripted(httpx.Response(429, headers={"retry-after": "2"}), httpx.Response(200))
    await send(handler, RetryPolicy(base_delay=0.01), recorder)
    assert len(recorder.sleeps) == 1
    assert 2.0 <= recorder.sleeps[0] <= 2.2


async def test_retry_after_http_date_is_honoured() -> None:
    recorder = Recorder()
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    handler = scripted(httpx.Response(503, headers={"retry-after": when}), httpx.Response(200))
    await send(handler, RetryPolicy(base_delay=0.01), recorder)
    assert 3.0 <= recorder.sleeps[0] <= 5.6


async def test_read_timeouts_are_never_retried() -> None:
    recorder = Recorder()
    handler = scripted(httpx.ReadTimeout("slow"), httpx.Response(200))
    with pytest.raises(ProviderError) as caught:
        await send(handler, RetryPolicy(), recorder)
    assert caught.value.kind == "timeout"
    assert recorder.sleeps == []


async def test_the_deadline_bounds_the_total_wait() -> None:
    recorder = Recorder()
    handler = scripted(*[httpx.Response(500)] * 10)
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=1.0, deadline=2.5)
    with pytest.raises(ProviderError) as caught:
        await send(handler, policy, recorder)
    assert caught.value.kind == "upstream"
    assert 2 <= len(recorder.sleeps) <= 4
    assert sum(recorder.sleeps) <= 2.5


async def test_bad_requests_are_not_retried() -> None:
    recorder = Recorder()
    handler = scripted(httpx.Response(400, json={"error": {"message": "bad model"}}))
    with pytest.raises(ProviderError) as caught:
        await send(handler, RetryPolicy(), recorder)
    assert (caught.value.kind, caught.value.message) == ("bad_request", "bad model")
    assert recorder.sleeps == []


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_grows_within_jitter_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert policy.backoff(1, rand=lambda: 0.0) == 0.25
    assert policy.backoff(1, rand=lambda: 1.0) == 0.5
    assert policy.backoff(3, rand=lambda: 1.0) == 2.0
    assert policy.backoff(10, rand=lambda: 1.0) == 4.0


def test_retry_policy_from_provider_settings() -> None:
    policy = RetryPolicy.from_settings({"max_attempts": 0, "retry_deadline": 5})
    assert (policy.max_attempts, policy.deadline) == (1, 5.0)


# --- error bodies -> ProviderError ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (
            401,
            b'{"error":{"message":"Invalid key","type":"invalid_request_error"}}',
            "auth",
            "Invalid key",
        ),
        (
            403,
            b'{"type":"error","error":{"type":"permission_error","message":"no access"}}',
            "auth",
            "no access",
        ),
        (
            400,
            b'{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT",'
            b'"details":[{"reason":"API_KEY_INVALID"}]}}',
            "auth",
            "API key not valid.",
        ),
        (404, b'{"error":"model \\"x\\" not found"}', "bad_request", 'model "x" not found'),
        (422, b'{"detail":"field required"}', "bad_request", "field required"),
        (502, b"<html>Bad Gateway</html>", "upstream", "upstream answered HTTP 502"),
        (503, b"upstream connect error", "upstream", "upstream connect error"),
    ],
)
def test_error_bodies_of_every_shape(status: int, body: bytes, kind: str, message: str) -> None:
    error = error_from_response(status, httpx.Headers(), body, secret=None)
    assert (error.kind, error.message, error.status) == (kind, message, status)


def test_an_echoed_api_key_is_redacted() -> None:
    body = b'{"error":{"message":"Incorrect API key provided: sk-live-0123456789"}}'
    error = error_from_response(401, httpx.Headers(), body, secret="sk-live-0123456789")
    assert error.message == "Incorrect API key provided: ***"
