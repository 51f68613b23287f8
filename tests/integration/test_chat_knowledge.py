"""Chat with knowledge bases: retrieval before the upstream call, citations streamed and kept."""

from __future__ import annotations

import httpx
import pytest

from runtime.platform import Platform
from tests.fakes import FakeOpenAI, Scenario
from tests.integration import knowledge_support
from tests.integration.gateway_support import login
from tests.integration.knowledge_support import create_kb, indexed
from tests.integration.test_chat_support import (
    chat_env,
    new_session,
    persisted,
    send,
    upstream_chats,
)

kb_platform = knowledge_support.kb_platform
kb_client = knowledge_support.kb_client

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"])

QUESTION = "What is the Zephyr-9 reactor cooled with?"


async def test_turn_retrieves_injects_streams_and_stores_citations(
    kb_platform: Platform, kb_client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(kb_platform, kb_client, fake_openai)
    kb = await create_kb(kb_client, env.user, name="research")
    reactor = await indexed(kb_client, env.user, kb["id"], "zephyr_reactor.md")
    await indexed(kb_client, env.user, kb["id"], "gardening.txt")

    chat = await new_session(
        kb_client,
        env.user,
        env.model_id,
        system_prompt="Be brief.",
        knowledge_base_ids=[kb["id"]],
        knowledge_top_k=3,
    )
    assert (chat["knowledge_base_ids"], chat["knowledge_top_k"]) == ([kb["id"]], 3)

    fake_openai.scenario = Scenario(tokens=["Liquid", " gallium", " [1]."])
    turn = await send(kb_client, env, chat["id"], QUESTION)
    assert turn.status == 200
    assert turn.names[:3] == ["start", "citations", "content"]
    citations = turn.named("citations")[0].data
    assert 1 <= len(citations) <= 3
    top = citations[0]
    assert (top["index"], top["document_id"], top["filename"]) == (
        1,
        reactor["id"],
        "zephyr_reactor.md",
    )
    assert "gallium" in top["text"]
    assert {"chunk_index", "score"} <= top.keys()

    # The upstream call got the planted passage as numbered sources in the system message.
    # (The fake's last streamed chat call: a title call may follow the turn.)
    sent = upstream_chats(fake_openai)[-1]
    assert sent[0]["role"] == "system"
    assert sent[0]["content"].startswith("Be brief.")
    assert "[1] zephyr_reactor.md — " in sent[0]["content"]
    assert "gallium" in sent[0]["content"]
    assert sent[-1] == {"role": "user", "content": QUESTION}

    answer = await persisted(kb_platform, turn.start["assistant_message_id"])
    assert answer.meta_info["citations"] == citations
    listed = await kb_client.get(f"/api/chat/sessions/{chat['id']}/messages", headers=env.user)
    assert listed.status_code == 200, listed.text
    [_, shown] = listed.json()["items"]
    assert shown["meta"]["citations"] == citations

    # Detached again: no retrieval, no citations event.
    patched = await kb_client.patch(
        f"/api/chat/sessions/{chat['id']}", headers=env.user, json={"knowledge_base_ids": []}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["knowledge_base_ids"] == []
    plain = await send(kb_client, env, chat["id"], "Thanks")
    assert "citations" not in plain.names


async def test_other_users_private_base_is_refused(
    kb_platform: Platform, kb_client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(kb_platform, kb_client, fake_openai)
    other = await login(kb_platform, kb_client, "eve@example.com")
    private = await create_kb(kb_client, other, name="eve's")
    shared = await create_kb(kb_client, other, name="team", shared=True)

    response = await kb_client.post(
        "/api/chat/sessions",
        headers=env.user,
        json={"model_config_id": env.model_id, "knowledge_base_ids": [private["id"]]},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "unknown_knowledge_bases"

    chat = await new_session(kb_client, env.user, env.model_id, knowledge_base_ids=[shared["id"]])
    assert chat["knowledge_base_ids"] == [shared["id"]]
    response = await kb_client.patch(
        f"/api/chat/sessions/{chat['id']}",
        headers=env.user,
        json={"knowledge_base_ids": [shared["id"], "nope"]},
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "unknown_knowledge_bases"


async def test_failed_retrieval_streams_empty_citations_and_answers(
    kb_platform: Platform,
    kb_client: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = await chat_env(kb_platform, kb_client, fake_openai)
    kb = await create_kb(kb_client, env.user, name="research")
    chat = await new_session(kb_client, env.user, env.model_id, knowledge_base_ids=[kb["id"]])

    async def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("vector store down")

    monkeypatch.setattr("handlers.chat.knowledge.retrieve", broken)
    fake_openai.scenario = Scenario(tokens=["Hello"])
    turn = await send(kb_client, env, chat["id"], "Hi")
    assert turn.names[:2] == ["start", "citations"]
    assert turn.named("citations")[0].data == []
    assert turn.text() == "Hello"
    assert turn.names[-1] == "done"
    sent = upstream_chats(fake_openai)[-1]
    assert sent == [{"role": "user", "content": "Hi"}]
