"""Helpers of the chat tests (no tests here): a model on a fake provider, SSE reading, rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from runtime.db.models import ChatMessage, ChatSession
from runtime.platform import Platform
from tests.fakes import FakeOpenAI
from tests.integration.gateway_support import add_model, add_provider, eventually, login


@dataclass
class ChatEnv:
    user: dict[str, str]  # the Authorization header of a plain user
    model_id: str


@dataclass
class Sse:
    event: str | None = None
    id: str | None = None
    data: Any = None
    comment: str | None = None


@dataclass
class Turn:
    """One SSE response, read to its end (or until the test stopped reading)."""

    status: int
    events: list[Sse] = field(default_factory=list)

    def named(self, name: str) -> list[Sse]:
        return [e for e in self.events if e.event == name]

    @property
    def names(self) -> list[str]:
        return [e.event for e in self.events if e.event]

    @property
    def start(self) -> dict[str, Any]:
        data: dict[str, Any] = self.named("start")[0].data
        return data

    def text(self, name: str = "content") -> str:
        return "".join(e.data["text"] for e in self.named(name))


async def chat_env(
    platform: Platform,
    client: httpx.AsyncClient,
    fake: FakeOpenAI,
    email: str = "ada@example.com",
    **model: Any,
) -> ChatEnv:
    """An admin adds a provider on the fake (one attempt: no retries) and a model config."""
    admin = await login(platform, client, f"root-{email}", "admin")
    provider = await add_provider(
        client,
        admin,
        name=f"Fake {email}",
        type="openai-compatible",
        base_url=fake.base_url,
        api_key="test-key",
        settings={"max_attempts": 1},
    )
    config = await add_model(
        client, admin, provider_id=provider["id"], model_id="up-chat", **{"alias": "chat", **model}
    )
    user = await login(platform, client, email)
    return ChatEnv(user=user, model_id=config["id"])


async def new_session(
    client: httpx.AsyncClient, headers: dict[str, str], model_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/chat/sessions", json={"model_config_id": model_id, **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def parse_block(block: str) -> Sse:
    sse = Sse()
    data_lines: list[str] = []
    for line in block.split("\n"):
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            sse.comment = value
        elif name == "event":
            sse.event = value
        elif name == "id":
            sse.id = value
        elif name == "data":
            data_lines.append(value)
    if data_lines:
        sse.data = json.loads("\n".join(data_lines))
    return sse


async def stream_turn(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
    *,
    stop_after: int | None = None,
) -> Turn:
    """POST and read the SSE answer; with ``stop_after`` hang up after that many content events."""
    async with client.stream("POST", url, json=body, headers=headers) as response:
        turn = Turn(response.status_code)
        if response.status_code != 200:
            await response.aread()
            turn.events.append(Sse(event="http_error", data=response.json()))
            return turn
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        async for chunk in response.aiter_text():
            buffer += chunk.replace("\r\n", "\n")
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                if block.strip():
                    turn.events.append(parse_block(block))
            if stop_after is not None and len(turn.named("content")) >= stop_after:
                break
    return turn


async def send(
    client: httpx.AsyncClient, env: ChatEnv, session_id: str, content: str, **kw: Any
) -> Turn:
    return await stream_turn(
        client, f"/api/chat/sessions/{session_id}/messages", env.user, {"content": content}, **kw
    )


async def rows(platform: Platform, session_id: str) -> list[ChatMessage]:
    async with platform.services.session_factory() as session:
        found = await session.scalars(
            select(ChatMessage)
            .where(ChatMessage.session_id == session_id)
            .order_by(ChatMessage.created_at)
        )
        return list(found)


async def persisted(platform: Platform, message_id: str) -> ChatMessage:
    """The message's row once the consumer wrote it (bounded poll)."""

    async def probe() -> ChatMessage | None:
        async with platform.services.session_factory() as session:
            return await session.get(ChatMessage, message_id)

    row: ChatMessage = await eventually(probe)
    return row


async def session_row(platform: Platform, session_id: str) -> ChatSession | None:
    async with platform.services.session_factory() as session:
        return await session.get(ChatSession, session_id)


def upstream_chats(fake: FakeOpenAI) -> list[list[dict[str, Any]]]:
    """The message lists of the streamed chat calls the fake received (not title calls)."""
    return [
        r.json["messages"]
        for r in fake.requests
        if r.path.endswith("/chat/completions") and r.json.get("stream")
    ]
