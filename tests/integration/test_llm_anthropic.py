"""The Anthropic adapter against a fake Messages API speaking the real event stream."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.llm.clients import ClientPool
from runtime.llm.types import (
    ChatRequest,
    ContentDelta,
    Finish,
    Message,
    ProviderAdapter,
    ProviderError,
    ReasoningDelta,
    StreamError,
    Usage,
)
from tests.fakes import FakeAnthropic, Scenario
from tests.integration.llm_support import KEY, MULTI_TURN, build_adapter, build_chat, collect


def make_adapter(
    base_url: str, pool: ClientPool, key: str | None = KEY, **settings: Any
) -> ProviderAdapter:
    return build_adapter("anthropic", base_url, pool, key, **settings)


def chat(**params: Any) -> ChatRequest:
    return build_chat("claude-fake", MULTI_TURN, **params)


async def test_stream_maps_thinking_text_usage_and_stop(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(
        tokens=["Hel", "lo"], reasoning=["Let me", " think"], input_tokens=20, cached_tokens=5
    )
    deltas = await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat()))
    assert deltas == [
        ReasoningDelta("Let me"),
        ReasoningDelta(" think"),
        ContentDelta("Hel"),
        ContentDelta("lo"),
        Usage(input_tokens=20, output_tokens=4, cached_input_tokens=5),
        Finish("stop"),
    ]
    request = fake_anthropic.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.json == {
        "model": "claude-fake",
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Again"},
        ],
        "max_tokens": 4096,
        "stream": True,
    }


async def test_thinking_request_sets_budget_and_room_for_the_answer(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    request = chat(reasoning_budget_tokens=2048, max_tokens=1000, temperature=0.3, stop=["END"])
    await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(request))
    body = fake_anthropic.requests[0].json
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048
    assert "temperature" not in body  # thinking refuses a changed temperature
    assert body["stop_sequences"] == ["END"]


async def test_reasoning_effort_picks_a_budget(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    await collect(
        make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat(reasoning_effort="low"))
    )
    assert fake_anthropic.requests[0].json["thinking"] == {"type": "enabled", "budget_tokens": 1024}


async def test_default_max_tokens_comes_from_settings(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    adapter = make_adapter(fake_anthropic.base_url, client_pool, max_tokens=123)
    await collect(adapter.stream_chat(chat(temperature=0.5)))
    body = fake_anthropic.requests[0].json
    assert (body["max_tokens"], body["temperature"]) == (123, 0.5)


async def test_image_parts_become_anthropic_blocks(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    content: list[dict[str, Any]] = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    request = ChatRequest(model="claude-fake", messages=[Message(role="user", content=content)])
    await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(request))
    assert fake_anthropic.requests[0].json["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
    ]


@pytest.mark.parametrize(
    ("scenario_reason", "normalized"),
    [("length", "length"), ("tool_calls", "tool_calls"), ("content_filter", "content_filter")],
)
async def test_stop_reasons_are_normalized(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool, scenario_reason: str, normalized: str
) -> None:
    fake_anthropic.scenario = Scenario(finish_reason=scenario_reason)
    deltas = await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat()))
    assert deltas[-1] == Finish(normalized)


async def test_complete_chat_joins_blocks(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(tokens=["Hi", "!"], reasoning=["hm"], finish_reason="length")
    result = await make_adapter(fake_anthropic.base_url, client_pool).complete_chat(chat())
    assert (result.content, result.reasoning, result.finish_reason) == ("Hi!", "hm", "length")
    assert result.usage == Usage(input_tokens=11, output_tokens=3)
    assert "stream" not in fake_anthropic.requests[0].json


async def test_list_models_follows_pages(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(models=["claude-a", "claude-b", "claude-c"], page_size=2)
    models = await make_adapter(fake_anthropic.base_url, client_pool).list_models()
    assert [(m.id, m.name) for m in models] == [
        ("claude-a", "Claude A"),
        ("claude-b", "Claude B"),
        ("claude-c", "Claude C"),
    ]
    assert [r.query.get("after_id") for r in fake_anthropic.requests] == [None, "claude-b"]


async def test_check_connection_ok_and_with_a_bad_key(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    ok = await make_adapter(fake_anthropic.base_url, client_pool).check_connection()
    assert ok.ok
    assert ok.models == 2
    assert ok.latency_ms > 0
    bad = await make_adapter(fake_anthropic.base_url, client_pool, key="wrong").check_connection()
    assert (bad.ok, bad.error, bad.message) == (False, "auth", "invalid x-api-key")


async def test_base_url_may_already_end_in_v1(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    adapter = make_adapter(fake_anthropic.base_url + "/v1/", client_pool)
    assert (await collect(adapter.stream_chat(chat())))[-1] == Finish("stop")
    assert fake_anthropic.requests[0].path == "/v1/messages"


async def test_unauthorized_raises_auth(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(
            make_adapter(fake_anthropic.base_url, client_pool, key="x").stream_chat(chat())
        )
    assert (caught.value.kind, caught.value.status) == ("auth", 401)
    assert caught.value.message == "invalid x-api-key"


async def test_overloaded_529_is_retried_then_upstream(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(status=529, error_message="Overloaded")
    adapter = make_adapter(fake_anthropic.base_url, client_pool, max_attempts=2)
    with pytest.raises(ProviderError) as caught:
        await collect(adapter.stream_chat(chat()))
    assert (caught.value.kind, caught.value.message) == ("upstream", "Overloaded")
    assert len(fake_anthropic.requests) == 2


async def test_error_event_mid_stream_ends_with_stream_error(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(
        tokens=["a", "b"], error_event_after=1, error_message="Overloaded"
    )
    deltas = await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat()))
    assert deltas == [
        ContentDelta("a"),
        StreamError(error="upstream", message="overloaded_error: Overloaded"),
    ]


async def test_error_event_before_any_delta_raises(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(error_event_after=0)
    with pytest.raises(ProviderError) as caught:
        await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat()))
    assert caught.value.kind == "upstream"


async def test_malformed_event_after_deltas_ends_with_stream_error(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(tokens=["a", "b", "c"], malformed_after=2)
    deltas = await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat()))
    assert deltas[:2] == [ContentDelta("a"), ContentDelta("b")]
    assert isinstance(deltas[2], StreamError)
    assert deltas[2].error == "malformed"
    assert len(deltas) == 3


async def test_dropped_connection_ends_with_stream_error(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(tokens=["a", "b", "c"], drop_after=2)
    deltas = await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat()))
    assert deltas[:2] == [ContentDelta("a"), ContentDelta("b")]
    assert isinstance(deltas[-1], StreamError)
    assert deltas[-1].error == "upstream"


async def test_stream_cut_before_message_delta_is_an_error(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    # Dropped right after the last token: no stop_reason, no message_stop.
    fake_anthropic.scenario = Scenario(tokens=["a"], drop_after=1)
    deltas = await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat()))
    assert deltas[0] == ContentDelta("a")
    assert isinstance(deltas[-1], StreamError)


async def test_missing_message_stop_after_stop_reason_still_finishes(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(tokens=["a"], send_done=False)
    deltas = await collect(make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat()))
    assert deltas[-1] == Finish("stop")


async def test_closing_the_stream_early_disconnects_the_upstream(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    fake_anthropic.scenario = Scenario(tokens=[f"t{i}" for i in range(50)], token_delay=0.02)
    stream = make_adapter(fake_anthropic.base_url, client_pool).stream_chat(chat())
    assert await anext(stream) == ContentDelta("t0")
    await stream.aclose()  # type: ignore[attr-defined]
    [disconnect] = await fake_anthropic.wait_for_disconnect()
    assert disconnect.tokens_sent < 10


async def test_embed_is_a_bad_request(
    fake_anthropic: FakeAnthropic, client_pool: ClientPool
) -> None:
    with pytest.raises(ProviderError) as caught:
        await make_adapter(fake_anthropic.base_url, client_pool).embed("claude", ["x"])
    assert caught.value.kind == "bad_request"
    assert fake_anthropic.requests == []
