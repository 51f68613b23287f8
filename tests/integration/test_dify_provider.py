"""Dify apps as a provider: the chat-messages API over real HTTP to a fake Dify app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runtime.llm.clients import ClientPool
from runtime.llm.dify import DifyAdapter
from runtime.llm.types import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    Params,
    ProviderConfig,
    ProviderError,
    ReasoningDelta,
    Usage,
)
from tests.fakes.base import Exchange, FakeServer, Scenario

APP_KEY = "app-test-key"


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


class FakeDify(FakeServer):
    """A Dify app's API under ``/v1``: info, chat-messages (streaming and blocking)."""

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    async def handle(self, exchange: Exchange, scenario: Scenario) -> None:
        request = exchange.request
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            body = {"code": "unauthorized", "message": "Access token is invalid", "status": 401}
            exchange.respond_json(401, body)
            return
        if (request.method, request.path) == ("GET", "/v1/info"):
            exchange.respond_json(200, {"name": "Support bot", "mode": "agent-chat", "tags": []})
            return
        body = request.json
        usage = {"prompt_tokens": 12, "completion_tokens": len(scenario.tokens)}
        if body["response_mode"] == "blocking":
            answer = {
                "event": "message",
                "answer": "".join(scenario.tokens),
                "metadata": {"usage": usage},
            }
            exchange.respond_json(200, answer)
            return
        events = [_sse({"event": "agent_thought", "thought": "Looking it up."})]
        events += [_sse({"event": "agent_message", "answer": t}) for t in scenario.tokens]
        await self.stream_tokens(
            exchange,
            scenario,
            events,
            prologue=[b"event: ping\n\n"],
            epilogue=[_sse({"event": "message_end", "metadata": {"usage": usage}})],
            malformed=b"data: {oops\n\n",
            error_event=_sse(
                {"event": "error", "status": 429, "code": "rate_limit", "message": "slow down"}
            ),
        )


@pytest.fixture
async def fake_dify() -> AsyncIterator[FakeDify]:
    async with FakeDify(api_key=APP_KEY) as fake:
        fake.scenario = Scenario(tokens=["Hello", " there"])
        yield fake


def _adapter(fake: FakeDify, pool: ClientPool, key: str = APP_KEY) -> DifyAdapter:
    return DifyAdapter(ProviderConfig(type="dify", base_url=fake.base_url, api_key=key), pool)


def _request(**extra: Any) -> ChatRequest:
    messages = [
        Message(role="system", content="Be brief."),
        Message(role="user", content="Hi"),
        Message(role="assistant", content="Hello!"),
        Message(role="user", content="Where is my order?"),
    ]
    return ChatRequest(model="Support bot", messages=messages, params=Params(extra=extra or None))


async def test_streamed_answer_thoughts_and_usage(
    fake_dify: FakeDify, client_pool: ClientPool
) -> None:
    deltas = [d async for d in _adapter(fake_dify, client_pool).stream_chat(_request(user="u-1"))]
    assert deltas == [
        ReasoningDelta("Looking it up."),
        ContentDelta("Hello"),
        ContentDelta(" there"),
        Usage(input_tokens=12, output_tokens=2),
        Finish("stop"),
    ]
    sent = fake_dify.requests[-1].json
    assert sent["response_mode"] == "streaming"
    assert sent["user"] == "u-1"
    assert sent["inputs"] == {}
    # The stateless history travels as a transcript in front of the question.
    assert sent["query"].startswith("Conversation so far:\nSystem: Be brief.\nUser: Hi\n")
    assert sent["query"].endswith("\n\nUser: Where is my order?")


async def test_blocking_answer_models_and_errors(
    fake_dify: FakeDify, client_pool: ClientPool
) -> None:
    adapter = _adapter(fake_dify, client_pool)
    result = await adapter.complete_chat(_request(inputs={"lang": "en"}))
    assert (result.content, result.usage.input_tokens) == ("Hello there", 12)
    assert fake_dify.requests[-1].json["inputs"] == {"lang": "en"}
    assert [m.id for m in await adapter.list_models()] == ["Support bot"]
    assert (await adapter.check_connection()).ok
    bad = await _adapter(fake_dify, client_pool, key="app-wrong").check_connection()
    assert (bad.ok, bad.error) == (False, "auth")
    with pytest.raises(ProviderError) as no_embeddings:
        await adapter.embed("Support bot", ["x"])
    assert no_embeddings.value.kind == "bad_request"


async def test_an_error_event_mid_stream_ends_it_with_an_error(
    fake_dify: FakeDify, client_pool: ClientPool
) -> None:
    fake_dify.scenario = Scenario(tokens=["a", "b", "c"], error_event_after=2)
    deltas = [d async for d in _adapter(fake_dify, client_pool).stream_chat(_request())]
    assert deltas[-1].error == "rate_limited"  # type: ignore[union-attr]
    assert "slow down" in deltas[-1].message  # type: ignore[union-attr]
