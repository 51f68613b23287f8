"""The /v1 surface driven by the official ``openai`` SDK, unmodified, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from runtime.platform import Platform
from tests.fakes import FakeAnthropic, FakeGemini, FakeOpenAI, Scenario
from tests.integration.gateway_support import (
    add_model,
    add_provider,
    eventually,
    login,
    personal_key,
    serve_fake,
)

# Tests whose subject is the gateway path, not the database, run on SQLite only.
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"])


async def _setup(
    platform: Platform,
    client: httpx.AsyncClient,
    fake: FakeOpenAI,
    settings: dict[str, Any] | None = None,
    **model: Any,
) -> tuple[AsyncOpenAI, dict[str, str]]:
    """An admin, an OpenAI-compatible provider on the fake, a model ``fast``, an SDK client."""
    admin = await login(platform, client, "root@example.com", "admin")
    await serve_fake(client, admin, fake.base_url, settings=settings, **model)
    sdk = AsyncOpenAI(
        base_url=f"{platform.url}/v1", api_key=await personal_key(client, admin), max_retries=0
    )
    return sdk, admin


async def test_sdk_lists_models_completes_embeds_and_usage_is_recorded(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    sdk, admin = await _setup(
        platform,
        client,
        fake_openai,
        parameters={"temperature": 0.2, "max_tokens": 64},
        input_price_per_mtok=2.0,
        output_price_per_mtok=8.0,
    )
    fake_openai.scenario = Scenario(tokens=["Hi", " there"], reasoning=["Let me", " think"])
    models = await sdk.models.list()
    assert [m.id for m in models.data] == ["fast"]

    raw = await sdk.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "hello"}], temperature=0.7
    )
    assert raw.headers["server-timing"].startswith("gateway;dur=")
    completion = raw.parse()
    message = completion.choices[0].message
    assert message.content == "Hi there"
    assert (message.model_extra or {})["reasoning_content"] == "Let me think"
    assert completion.model == "fast"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 11
    sent = fake_openai.requests[-1].json
    # The request's temperature wins; the model config's max_tokens preset fills the gap.
    assert (sent["model"], sent["temperature"], sent["max_tokens"]) == ("up-1", 0.7, 64)

    embedded = await sdk.embeddings.create(model="fast", input=["one", "three"])
    assert [e.index for e in embedded.data] == [0, 1]
    assert embedded.data[1].embedding == pytest.approx([5.0, 5.1, 5.2, 5.3], rel=1e-6)

    async def summary() -> dict[str, Any] | None:
        body = (await client.get("/api/usage/summary", headers=admin)).json()
        return body if body["totals"]["calls"] >= 2 else None

    report = await eventually(summary)
    fast = report["by_model"][0]
    assert fast["model_alias"] == "fast"
    assert (fast["calls"], fast["errors"], fast["input_tokens"]) == (2, 0, 11 + 2)
    assert fast["output_tokens"] == 4
    assert fast["cost"] == pytest.approx((13 * 2.0 + 4 * 8.0) / 1e6)


@sqlite_only
async def test_sdk_streams_reasoning_content_and_usage_in_openai_framing(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    sdk, _ = await _setup(platform, client, fake_openai)
    fake_openai.scenario = Scenario(tokens=["A", "B", "C"], reasoning=["r1", "r2"])
    stream = await sdk.chat.completions.create(
        model="fast",
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    content, reasoning, usage, finish = "", "", None, None
    async for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        assert chunk.model == "fast"
        if chunk.usage is not None:
            assert chunk.choices == []
            usage = chunk.usage
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (content, reasoning, finish) == ("ABC", "r1r2", "stop")
    assert usage is not None
    assert usage.completion_tokens == 5
    assert usage.prompt_tokens == 11

    # The exact bytes: data lines, the timing comment, then [DONE].
    key = sdk.api_key
    body = {"model": "fast", "messages": [{"role": "user", "content": "go"}], "stream": True}
    async with client.stream(
        "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = (await response.aread()).decode()
    events = raw.split("\n\n")
    assert events[-1] == ""
    assert events[-2] == "data: [DONE]"
    assert events[-3].startswith(": server-timing gateway;dur=")
    assert ", upstream;dur=" in events[-3]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-3]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)


@sqlite_only
async def test_v1_errors_have_the_openai_shape_and_status(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    # One attempt upstream: the adapter's retries would only slow the failures down.
    sdk, _ = await _setup(platform, client, fake_openai, settings={"max_attempts": 1})
    hello = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as missing:
        await sdk.chat.completions.create(model="nope", messages=hello)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    assert missing.value.body["param"] == "model"  # type: ignore[index]

    anonymous = AsyncOpenAI(base_url=f"{platform.url}/v1", api_key="lf_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        await anonymous.models.list()
    assert denied.value.code == "invalid_api_key"

    with pytest.raises(openai.BadRequestError) as invalid:
        await sdk.chat.completions.create(model="fast", messages=[])
    assert invalid.value.type == "invalid_request_error"

    for options in ({"input": [[1, 2]]}, {"input": "x", "dimensions": 8}):
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.embeddings.create(model="fast", **options)  # type: ignore[arg-type]
        assert refused.value.code in {"unsupported_input", "unsupported_parameter"}

    fake_openai.scenario = Scenario(status=429, retry_after="7")
    with pytest.raises(openai.RateLimitError) as limited:
        await sdk.chat.completions.create(model="fast", messages=hello)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"] == "7"

    fake_openai.scenario = Scenario(status=500)
    with pytest.raises(openai.InternalServerError) as upstream:
        await sdk.chat.completions.create(model="fast", messages=hello, stream=True)  # type: ignore[arg-type]
    assert upstream.value.status_code == 502
    assert upstream.value.code == "upstream_upstream"

    # A failure after the first token arrives as an error event that the SDK raises.
    fake_openai.scenario = Scenario(tokens=["a", "b", "c"], error_event_after=2)
    stream = await sdk.chat.completions.create(model="fast", messages=hello, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError, match="scripted failure"):
        async for _ in stream:
            pass


@sqlite_only
async def test_anthropic_and_gemini_providers_answer_through_v1(
    platform: Platform,
    client: httpx.AsyncClient,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
) -> None:
    admin = await login(platform, client, "root@example.com", "admin")
    for name, preset, fake in (("A", "anthropic", fake_anthropic), ("G", "gemini", fake_gemini)):
        fake.scenario = Scenario(tokens=["x", "y"], reasoning=["because"])
        provider = await add_provider(
            client, admin, name=name, preset=preset, base_url=fake.base_url, api_key="test-key"
        )
        await add_model(client, admin, provider_id=provider["id"], model_id="m", alias=preset)
    sdk = AsyncOpenAI(
        base_url=f"{platform.url}/v1", api_key=await personal_key(client, admin), max_retries=0
    )
    for alias in ("anthropic", "gemini"):
        hello = [{"role": "user", "content": "hi"}]
        done = await sdk.chat.completions.create(model=alias, messages=hello)  # type: ignore[arg-type]
        assert done.choices[0].message.content == "xy", alias
        assert (done.choices[0].message.model_extra or {})["reasoning_content"] == "because"
        stream = await sdk.chat.completions.create(model=alias, messages=hello, stream=True)  # type: ignore[arg-type]
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "xy", alias


@sqlite_only
async def test_client_disconnect_mid_stream_cancels_the_upstream_call(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    sdk, admin = await _setup(platform, client, fake_openai)
    fake_openai.scenario = Scenario(tokens=[f"t{i}" for i in range(200)], token_delay=0.02)
    body = {"model": "fast", "messages": [{"role": "user", "content": "go"}], "stream": True}
    headers = {"Authorization": f"Bearer {sdk.api_key}"}
    async with (
        httpx.AsyncClient(base_url=platform.url) as own,
        own.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r,
    ):
        seen = 0
        async for line in r.aiter_lines():
            seen += line.startswith("data: ")
            if seen >= 4:
                break
    # Leaving the block closed our connection: the gateway must hang up on the upstream.
    gone = await fake_openai.wait_for_disconnect(within=5.0)
    assert gone[0].tokens_sent < 100

    async def cancelled() -> dict[str, Any] | None:
        body = (await client.get("/api/usage/summary", headers=admin)).json()
        return body if body["totals"]["calls"] >= 1 else None

    report = await eventually(cancelled)
    assert (report["totals"]["cancelled"], report["totals"]["errors"]) == (1, 0)
