"""The Gemini adapter against a fake Gemini API (SSE with CRLF framing, thought parts)."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.llm.clients import ClientPool
from runtime.llm.types import (
    ChatRequest,
    ContentDelta,
    Finish,
    ProviderAdapter,
    ProviderError,
    ReasoningDelta,
    StreamError,
    Usage,
)
from tests.fakes import FakeGemini, Scenario
from tests.integration.llm_support import KEY, MULTI_TURN, build_adapter, build_chat, collect


def make_adapter(
    base_url: str, pool: ClientPool, key: str | None = KEY, **settings: Any
) -> ProviderAdapter:
    return build_adapter("gemini", base_url, pool, key, **settings)


def chat(**params: Any) -> ChatRequest:
    return build_chat("gemini-fake", MULTI_TURN, **params)


async def test_stream_maps_thoughts_text_usage_and_finish(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    fake_gemini.scenario = Scenario(tokens=["Hel", "lo"], reasoning=["Hmm", "m"], cached_tokens=4)
    deltas = await collect(make_adapter(fake_gemini.base_url, client_pool).stream_chat(chat()))
    assert deltas == [
        ReasoningDelta("Hmm"),
        ReasoningDelta("m"),
        ContentDelta("Hel"),
        ContentDelta("lo"),
        Usage(input_tokens=11, output_tokens=4, reasoning_tokens=2, cached_input_tokens=4),
        Finish("stop"),
    ]
    request = fake_gemini.requests[0]
    assert request.path == "/v1beta/models/gemini-fake:streamGenerateContent"
    assert request.query == {"alt": "sse"}
    assert request.headers["x-goog-api-key"] == KEY
    assert "key" not in request.query  # the key never goes into a URL
    assert request.json == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello"}]},
            {"role": "user", "parts": [{"text": "Again"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }


async def test_generation_config_and_thinking_budget(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    request = chat(
        temperature=0.1, top_p=0.5, max_tokens=99, stop=["END"], reasoning_budget_tokens=512
    )
    await collect(make_adapter(fake_gemini.base_url, client_pool).stream_chat(request))
    assert fake_gemini.requests[0].json["generationConfig"] == {
        "temperature": 0.1,
        "topP": 0.5,
        "maxOutputTokens": 99,
        "stopSequences": ["END"],
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 512},
    }


@pytest.mark.parametrize(
    ("scenario_reason", "normalized"), [("length", "length"), ("content_filter", "content_filter")]
)
async def test_finish_reasons_are_normalized(
    fake_gemini: FakeGemini, client_pool: ClientPool, scenario_reason: str, normalized: str
) -> None:
    fake_gemini.scenario = Scenario(finish_reason=scenario_reason)
    deltas = await collect(make_adapter(fake_gemini.base_url, client_pool).stream_chat(chat()))
    assert deltas[-1] == Finish(normalized)


async def test_complete_chat_separates_thoughts(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    fake_gemini.scenario = Scenario(tokens=["A", "B"], reasoning=["r"])
    result = await make_adapter(fake_gemini.base_url, client_pool).complete_chat(chat())
    assert (result.content, result.reasoning, result.finish_reason) == ("AB", "r", "stop")
    assert result.usage == Usage(input_tokens=11, output_tokens=3, reasoning_tokens=1)
    assert fake_gemini.requests[0].path == "/v1beta/models/gemini-fake:generateContent"


async def test_list_models_strips_the_prefix_and_follows_pages(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    fake_gemini.scenario = Scenario(models=["gemini-a", "gemini-b", "gemini-c"], page_size=2)
    models = await make_adapter(fake_gemini.base_url, client_pool).list_models()
    assert [m.id for m in models] == ["gemini-a", "gemini-b", "gemini-c"]
    assert models[0].context_window == 1048576
    assert [r.query.get("pageToken") for r in fake_gemini.requests] == [None, "2"]


async def test_check_connection_ok_and_with_a_bad_key(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    ok = await make_adapter(fake_gemini.base_url, client_pool).check_connection()
    assert ok.ok
    assert ok.models == 2
    # Gemini answers a bad key with 400 INVALID_ARGUMENT; it is still an auth failure.
    bad = await make_adapter(fake_gemini.base_url, client_pool, key="wrong").check_connection()
    assert (bad.ok, bad.error) == (False, "auth")
    assert bad.message == "API key not valid. Please pass a valid API key."


async def test_missing_key_is_auth(fake_gemini: FakeGemini, client_pool: ClientPool) -> None:
    with pytest.raises(ProviderError) as caught:
        await collect(make_adapter(fake_gemini.base_url, client_pool, key=None).stream_chat(chat()))
    assert (caught.value.kind, caught.value.status) == ("auth", 403)


async def test_base_url_with_version_is_used_as_is(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    adapter = make_adapter(fake_gemini.base_url + "/v1beta", client_pool)
    assert (await collect(adapter.stream_chat(chat())))[-1] == Finish("stop")


async def test_embed_one_and_many(fake_gemini: FakeGemini, client_pool: ClientPool) -> None:
    fake_gemini.scenario = Scenario(embedding_dim=2)
    adapter = make_adapter(fake_gemini.base_url, client_pool)
    assert await adapter.embed("text-embedding-004", ["abc"]) == ([[3.0, 3.1]], Usage())
    vectors, _ = await adapter.embed("text-embedding-004", ["a", "bb"])
    assert vectors == [[1.0, 1.1], [2.0, 2.1]]
    single, batch = fake_gemini.requests
    assert single.path == "/v1beta/models/text-embedding-004:embedContent"
    assert batch.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert batch.json["requests"][1] == {
        "model": "models/text-embedding-004",
        "content": {"parts": [{"text": "bb"}]},
    }


async def test_server_error_is_retried_then_upstream(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    fake_gemini.scenario = Scenario(status=500, error_message="Internal error")
    with pytest.raises(ProviderError) as caught:
        await collect(
            make_adapter(fake_gemini.base_url, client_pool, max_attempts=2).stream_chat(chat())
        )
    assert (caught.value.kind, caught.value.message) == ("upstream", "Internal error")
    assert len(fake_gemini.requests) == 2


async def test_error_mid_stream_ends_with_stream_error(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    fake_gemini.scenario = Scenario(
        tokens=["a", "b"], error_event_after=1, error_message="overloaded"
    )
    deltas = await collect(make_adapter(fake_gemini.base_url, client_pool).stream_chat(chat()))
    assert deltas == [
        ContentDelta("a"),
        StreamError(error="upstream", message="overloaded", status=503),
    ]


async def test_malformed_chunk_after_deltas_ends_with_stream_error(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    fake_gemini.scenario = Scenario(tokens=["a", "b", "c"], malformed_after=1)
    deltas = await collect(make_adapter(fake_gemini.base_url, client_pool).stream_chat(chat()))
    assert deltas[0] == ContentDelta("a")
    assert isinstance(deltas[1], StreamError)
    assert deltas[1].error == "malformed"
    assert len(deltas) == 2


async def test_dropped_connection_ends_with_stream_error(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    fake_gemini.scenario = Scenario(tokens=["a", "b"], drop_after=2)
    deltas = await collect(make_adapter(fake_gemini.base_url, client_pool).stream_chat(chat()))
    assert deltas[:2] == [ContentDelta("a"), ContentDelta("b")]
    assert isinstance(deltas[-1], StreamError)
    assert deltas[-1].error == "upstream"


async def test_closing_the_stream_early_disconnects_the_upstream(
    fake_gemini: FakeGemini, client_pool: ClientPool
) -> None:
    fake_gemini.scenario = Scenario(tokens=[f"t{i}" for i in range(50)], token_delay=0.02)
    stream = make_adapter(fake_gemini.base_url, client_pool).stream_chat(chat())
    assert await anext(stream) == ContentDelta("t0")
    await stream.aclose()  # type: ignore[attr-defined]
    [disconnect] = await fake_gemini.wait_for_disconnect()
    assert disconnect.tokens_sent < 10
