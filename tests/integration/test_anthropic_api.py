"""``POST /v1/messages`` driven by the official ``anthropic`` SDK, unmodified, over real HTTP,
in front of an OpenAI-compatible upstream (any gateway model answers in Anthropic's shape)."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import pytest
from anthropic import AsyncAnthropic

from runtime.platform import Platform
from tests.fakes import FakeOpenAI, Scenario
from tests.integration.gateway_support import eventually, login, serve_fake
from tests.integration.gateway_support import personal_key as make_key

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"])
HELLO: list[Any] = [{"role": "user", "content": "hello"}]


async def _setup(
    platform: Platform, client: httpx.AsyncClient, fake: FakeOpenAI, **settings: Any
) -> tuple[AsyncAnthropic, dict[str, str]]:
    admin = await login(platform, client, "root@example.com", "admin")
    await serve_fake(client, admin, fake.base_url, settings=settings)
    # x-api-key, as the SDK sends it: the platform's personal key, unchanged.
    sdk = AsyncAnthropic(
        base_url=platform.url, api_key=await make_key(client, admin), max_retries=0
    )
    return sdk, admin


async def test_sdk_gets_a_message_with_thinking_usage_and_timing(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    sdk, admin = await _setup(platform, client, fake_openai)
    fake_openai.scenario = Scenario(tokens=["Hi", " there"], reasoning=["Let me", " think"])
    raw = await sdk.messages.with_raw_response.create(
        model="fast",
        max_tokens=64,
        system=[{"type": "text", "text": "Be brief."}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "hello"}]},
            {"role": "assistant", "content": "Hi."},
            {"role": "user", "content": "again"},
        ],
        stop_sequences=["END"],
        # Sampling fields newer SDKs no longer name; older clients still send them.
        extra_body={"temperature": 0.3, "top_k": 5},
    )
    assert raw.headers["server-timing"].startswith("gateway;dur=")
    message = await raw.parse()
    assert message.type == "message"
    assert message.id.startswith("msg_")
    assert message.model == "fast"
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Let me think"  # type: ignore[union-attr]
    assert message.content[1].text == "Hi there"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 4)

    sent = fake_openai.requests[-1].json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "again"},
    ]
    assert (sent["max_tokens"], sent["temperature"], sent["stop"], sent["top_k"]) == (
        64,
        0.3,
        ["END"],
        5,
    )

    async def recorded() -> dict[str, Any] | None:
        body = (await client.get("/api/usage/summary", headers=admin)).json()
        return body if body["totals"]["calls"] >= 1 else None

    report = await eventually(recorded)
    assert report["by_model"][0]["model_alias"] == "fast"


async def test_sdk_streams_thinking_then_text_in_anthropic_framing(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    sdk, _ = await _setup(platform, client, fake_openai)
    fake_openai.scenario = Scenario(tokens=["A", "B", "C"], reasoning=["r1", "r2"])
    kinds: list[str] = []
    async with sdk.messages.stream(model="fast", max_tokens=32, messages=HELLO) as stream:
        async for event in stream:
            kinds.append(event.type)
        final = await stream.get_final_message()
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert final.content[0].type == "thinking"
    assert final.content[0].thinking == "r1r2"
    assert final.content[1].type == "text"
    assert final.content[1].text == "ABC"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5

    # The raw bytes: the exact event sequence, two blocks numbered 0 and 1.
    headers = {"x-api-key": sdk.api_key, "anthropic-version": "2023-06-01"}
    body = {"model": "fast", "max_tokens": 32, "messages": HELLO, "stream": True}
    fake_openai.scenario = Scenario(tokens=["A"], reasoning=["r"], finish_reason="length")
    async with httpx.AsyncClient(base_url=platform.url) as own:
        response = await own.post("/v1/messages", json=body, headers=headers)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[len("event: ") :] for line in response.text.splitlines() if line[:6] == "event:"]
    assert events == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert '"stop_reason":"max_tokens"' in response.text
    assert ": server-timing gateway;dur=" in response.text


async def test_errors_have_anthropics_shape_and_status(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    sdk, _ = await _setup(platform, client, fake_openai, max_attempts=1)
    with pytest.raises(anthropic.NotFoundError) as missing:
        await sdk.messages.create(model="nope", max_tokens=8, messages=HELLO)
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model: nope"},
    }

    stranger = AsyncAnthropic(base_url=platform.url, api_key="lf_wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as denied:
        await stranger.messages.create(model="fast", max_tokens=8, messages=HELLO)
    assert denied.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]

    for bad in (
        {"max_tokens": 8, "messages": []},
        {"messages": HELLO},  # max_tokens is required, as on Anthropic's API
        {"max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
        {"max_tokens": 8, "messages": HELLO, "tools": [{"name": "f"}]},
    ):
        async with httpx.AsyncClient(base_url=platform.url) as own:
            refused = await own.post(
                "/v1/messages",
                json={"model": "fast", **bad},
                headers={"x-api-key": sdk.api_key},
            )
        assert refused.status_code == 400, bad
        assert refused.json()["error"]["type"] == "invalid_request_error", bad

    fake_openai.scenario = Scenario(status=429, retry_after="7")
    with pytest.raises(anthropic.RateLimitError) as limited:
        await sdk.messages.create(model="fast", max_tokens=8, messages=HELLO)
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]

    # A failure after the first token arrives as an error event that the SDK raises.
    fake_openai.scenario = Scenario(tokens=["a", "b", "c"], error_event_after=2)

    async def read_all() -> None:
        async with sdk.messages.stream(model="fast", max_tokens=8, messages=HELLO) as stream:
            async for _ in stream:
                pass

    with pytest.raises(anthropic.APIStatusError, match="scripted failure"):
        await read_all()


async def test_images_reach_an_openai_upstream_as_image_parts(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    sdk, _ = await _setup(platform, client, fake_openai)
    await sdk.messages.create(
        model="fast",
        max_tokens=8,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                ],
            }
        ],
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    sent = fake_openai.requests[-1].json
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
    ]
