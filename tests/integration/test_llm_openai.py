"""The OpenAI-compatible adapter against a fake server speaking the real wire format."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest

from runtime.llm.clients import ClientPool
from runtime.llm.types import (
    ChatRequest,
    ContentDelta,
    Delta,
    Finish,
    Message,
    ProviderAdapter,
    ProviderError,
    ReasoningDelta,
    StreamError,
    Usage,
)
from tests.fakes import FakeOpenAI, Scenario
from tests.integration.llm_support import KEY, build_adapter, build_chat, collect


def make_adapter(
    base_url: str, pool: ClientPool, key: str | None = KEY, **settings: Any
) -> ProviderAdapter:
    return build_adapter("openai-compatible", base_url, pool, key, **settings)


def chat(**params: Any) -> ChatRequest:
    return build_chat(
        "gpt-fake",
        [Message(role="system", content="Be brief."), Message(role="user", content="Hi")],
        **params,
    )


def text(deltas: list[Delta], kind: type[ContentDelta] | type[ReasoningDelta]) -> str:
    return "".join(d.text for d in deltas if isinstance(d, kind))


async def test_stream_relays_reasoning_then_content_then_usage_and_finish(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(
        tokens=["Hel", "lo"], reasoning=["Think", "ing"], cached_tokens=3
    )
    deltas = await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert deltas == [
        ReasoningDelta("Think"),
        ReasoningDelta("ing"),
        ContentDelta("Hel"),
        ContentDelta("lo"),
        Usage(input_tokens=11, output_tokens=4, reasoning_tokens=2, cached_input_tokens=3),
        Finish("stop"),
    ]
    request = fake_openai.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["accept-encoding"] == "identity"  # no compressor buffering tokens
    assert request.json == {
        "model": "gpt-fake",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_reasoning_field_named_reasoning_is_mapped(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=["A"], reasoning=["R"], reasoning_field="reasoning")
    deltas = await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert deltas[:2] == [ReasoningDelta("R"), ContentDelta("A")]


async def test_inline_think_tags_become_reasoning(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(
        tokens=["The", " answer"], reasoning=["step 1", ", step 2"], reasoning_mode="inline"
    )
    deltas = await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert text(deltas, ReasoningDelta) == "step 1, step 2"
    assert text(deltas, ContentDelta) == "The answer"
    assert isinstance(deltas[-1], Finish)


async def test_think_tags_can_be_switched_off(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=["x"], reasoning=["r"], reasoning_mode="inline")
    adapter = make_adapter(fake_openai.base_url, client_pool, think_tags=False)
    deltas = await collect(adapter.stream_chat(chat()))
    assert text(deltas, ContentDelta) == "<think>r</think>\n\nx"


@pytest.mark.parametrize(
    ("native", "normalized"),
    [("length", "length"), ("content_filter", "content_filter"), ("tool_calls", "tool_calls")],
)
async def test_finish_reasons_are_normalized(
    fake_openai: FakeOpenAI, client_pool: ClientPool, native: str, normalized: str
) -> None:
    fake_openai.scenario = Scenario(finish_reason=native)
    deltas = await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert deltas[-1] == Finish(normalized)


async def test_params_map_onto_the_request_body(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    request = chat(
        temperature=0.2,
        top_p=0.9,
        max_tokens=50,
        stop=["\n"],
        seed=7,
        reasoning_effort="low",
        extra={"user": "u1"},
    )
    await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(request))
    body = fake_openai.requests[0].json
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "stop", "seed")} == {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
        "stop": ["\n"],
        "seed": 7,
    }
    assert body["reasoning_effort"] == "low"
    assert body["user"] == "u1"


async def test_complete_chat_returns_the_whole_answer(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(
        tokens=["Hi", " there"], reasoning=["hm"], finish_reason="length"
    )
    result = await make_adapter(fake_openai.base_url, client_pool).complete_chat(chat())
    assert (result.content, result.reasoning, result.finish_reason) == ("Hi there", "hm", "length")
    assert result.usage == Usage(input_tokens=11, output_tokens=3, reasoning_tokens=1)
    assert result.model == "gpt-fake"
    assert "stream" not in fake_openai.requests[0].json


async def test_complete_chat_splits_inline_think(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=["ok"], reasoning=["why"], reasoning_mode="inline")
    result = await make_adapter(fake_openai.base_url, client_pool).complete_chat(chat())
    assert (result.reasoning, result.content) == ("why", "ok")


async def test_list_models_and_check_connection(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(models=["gpt-a", "gpt-b", "gpt-c"])
    adapter = make_adapter(fake_openai.base_url, client_pool)
    models = await adapter.list_models()
    assert [m.id for m in models] == ["gpt-a", "gpt-b", "gpt-c"]
    assert models[0].owned_by == "fake"
    check = await adapter.check_connection()
    assert check.ok
    assert check.models == 3
    assert check.latency_ms > 0
    assert fake_openai.requests[-1].path == "/v1/models"


async def test_check_connection_reports_a_bad_key_without_raising(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    secret = "sk-wrong-secret-key-123"
    check = await make_adapter(fake_openai.base_url, client_pool, key=secret).check_connection()
    assert not check.ok
    assert check.error == "auth"
    assert check.message
    assert "Incorrect API key" in check.message
    assert secret not in check.message


async def test_unauthorized_stream_raises_auth_before_any_delta(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    adapter = make_adapter(fake_openai.base_url, client_pool, key="nope")
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(chat()))
    assert caught.value.kind == "auth"
    assert caught.value.status == 401
    assert len(fake_openai.requests) == 1  # never retried


async def test_bad_request_is_not_retried(fake_openai: FakeOpenAI, client_pool: ClientPool) -> None:
    fake_openai.scenario = Scenario(status=404, error_message="The model `x` does not exist")
    with pytest.raises(ProviderError) as caught:
        await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert caught.value.kind == "bad_request"
    assert caught.value.message == "The model `x` does not exist"
    assert len(fake_openai.requests) == 1


async def test_server_error_is_retried_then_reported_as_upstream(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(status=500, error_message="boom")
    adapter = make_adapter(fake_openai.base_url, client_pool, max_attempts=3)
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(chat()))
    assert (caught.value.kind, caught.value.status, caught.value.message) == (
        "upstream",
        500,
        "boom",
    )
    assert len(fake_openai.requests) == 3


async def test_malformed_chunk_after_deltas_ends_with_stream_error(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=["a", "b", "c"], malformed_after=2)
    deltas = await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert deltas[:2] == [ContentDelta("a"), ContentDelta("b")]
    assert len(deltas) == 3
    assert isinstance(deltas[2], StreamError)
    assert deltas[2].error == "malformed"


async def test_malformed_first_chunk_raises(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(malformed_after=0)
    with pytest.raises(ProviderError) as caught:
        await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert caught.value.kind == "malformed"


async def test_connection_dropped_mid_stream_ends_with_stream_error(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=["a", "b", "c"], drop_after=1)
    deltas = await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert deltas[0] == ContentDelta("a")
    assert isinstance(deltas[-1], StreamError)
    assert deltas[-1].error == "upstream"
    assert len(fake_openai.requests) == 1


async def test_error_object_mid_stream_ends_with_stream_error(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(
        tokens=["a", "b"], error_event_after=1, error_message="overloaded"
    )
    deltas = await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert deltas == [ContentDelta("a"), StreamError(error="upstream", message="overloaded")]


async def test_stream_without_done_marker_still_finishes(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=["a"], send_done=False)
    deltas = await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert deltas[0] == ContentDelta("a")
    assert deltas[-1] == Finish("stop")


async def test_stream_options_can_be_switched_off(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    adapter = make_adapter(fake_openai.base_url, client_pool, stream_usage=False)
    deltas = await collect(adapter.stream_chat(chat()))
    assert "stream_options" not in fake_openai.requests[0].json
    assert not any(isinstance(d, Usage) for d in deltas)
    assert deltas[-1] == Finish("stop")


async def test_slow_first_byte_within_the_read_timeout_is_waited_for(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(first_byte_delay=0.1)
    adapter = make_adapter(fake_openai.base_url, client_pool, read_timeout=1.0)
    deltas = await collect(adapter.stream_chat(chat()))
    assert deltas[-1] == Finish("stop")


async def test_first_byte_beyond_the_read_timeout_raises_timeout_without_retry(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(first_byte_delay=5.0)
    adapter = make_adapter(fake_openai.base_url, client_pool, read_timeout=0.2)
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(chat()))
    assert caught.value.kind == "timeout"
    assert len(fake_openai.requests) == 1
    await fake_openai.wait_for_disconnect()


async def test_token_gap_beyond_the_read_timeout_ends_with_stream_error(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=["a", "b"], token_delay=5.0)
    adapter = make_adapter(fake_openai.base_url, client_pool, read_timeout=0.2)
    deltas = await collect(adapter.stream_chat(chat()))
    assert deltas == [ContentDelta("a"), deltas[-1]]
    assert isinstance(deltas[-1], StreamError)
    assert deltas[-1].error == "timeout"


async def test_closing_the_stream_early_disconnects_the_upstream(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=[f"t{i}" for i in range(50)], token_delay=0.02)
    stream = make_adapter(fake_openai.base_url, client_pool).stream_chat(chat())
    assert await anext(stream) == ContentDelta("t0")
    assert await anext(stream) == ContentDelta("t1")
    await stream.aclose()  # type: ignore[attr-defined]
    [disconnect] = await fake_openai.wait_for_disconnect()
    assert disconnect.path == "/v1/chat/completions"
    assert disconnect.tokens_sent < 10


async def test_cancelling_the_consumer_task_disconnects_the_upstream(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(tokens=[f"t{i}" for i in range(50)], token_delay=0.02)
    received: list[Delta] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for delta in make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()):
            received.append(delta)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2.0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    [disconnect] = await fake_openai.wait_for_disconnect()
    assert disconnect.tokens_sent < 10


async def test_embeddings_come_back_in_input_order(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(embedding_dim=3)
    vectors, usage = await make_adapter(fake_openai.base_url, client_pool).embed(
        "text-embedding-fake", ["a", "bbb"]
    )
    assert vectors == [[1.0, 1.1, 1.2], [3.0, 3.1, 3.2]]
    assert usage.input_tokens == 2
    assert fake_openai.requests[0].json == {
        "model": "text-embedding-fake",
        "input": ["a", "bbb"],
        "encoding_format": "float",
    }


async def test_local_server_without_key_gets_no_authorization_header(
    client_pool: ClientPool,
) -> None:
    async with FakeOpenAI(api_key=None) as fake:
        deltas = await collect(
            make_adapter(fake.base_url, client_pool, key=None).stream_chat(chat())
        )
        assert deltas[-1] == Finish("stop")
        assert "authorization" not in fake.requests[0].headers


async def test_refused_connection_raises_unreachable(client_pool: ClientPool) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = make_adapter(f"http://127.0.0.1:{port}/v1", client_pool, max_attempts=2)
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(chat()))
    assert caught.value.kind == "unreachable"


async def test_bare_origin_means_the_v1_root(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    deltas = await collect(make_adapter(fake_openai.origin, client_pool).stream_chat(chat()))
    assert deltas[-1] == Finish("stop")
    assert fake_openai.requests[0].path == "/v1/chat/completions"


async def test_server_ignoring_stream_true_is_malformed(
    fake_openai: FakeOpenAI, client_pool: ClientPool
) -> None:
    fake_openai.scenario = Scenario(ignore_stream=True)
    with pytest.raises(ProviderError) as caught:
        await collect(make_adapter(fake_openai.base_url, client_pool).stream_chat(chat()))
    assert caught.value.kind == "malformed"
    assert "event stream" in caught.value.message
