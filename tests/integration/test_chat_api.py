"""Chat sessions and message operations over real HTTP: CRUD, branches, ratings, ownership."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runtime.platform import Platform
from tests.fakes import FakeOpenAI, Scenario
from tests.integration.gateway_support import login
from tests.integration.test_chat_support import (
    chat_env,
    new_session,
    persisted,
    send,
    stream_turn,
    upstream_chats,
)

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"])

TEMPLATE = {
    "name": "Tutor",
    "body": "You teach {{subject}} to {{level}} students.",
    "variables": [{"name": "subject"}, {"name": "level", "default": "beginner"}],
}


async def _messages(
    client: httpx.AsyncClient, headers: dict[str, str], session_id: str, *, everything: bool = False
) -> list[dict[str, Any]]:
    params = {"all": "true"} if everything else {}
    response = await client.get(
        f"/api/chat/sessions/{session_id}/messages", headers=headers, params=params
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_sessions_are_created_from_templates_edited_searched_and_deleted(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(platform, client, fake_openai)
    template = (await client.post("/api/prompts", json=TEMPLATE, headers=env.user)).json()

    missing = await client.post(
        "/api/chat/sessions",
        json={"model_config_id": env.model_id, "template_id": template["id"]},
        headers=env.user,
    )
    assert missing.status_code == 400
    assert missing.json()["code"] == "invalid_template_variables"
    assert missing.json()["errors"][0]["name"] == "subject"
    unknown_model = await client.post(
        "/api/chat/sessions", json={"model_config_id": "nope"}, headers=env.user
    )
    assert unknown_model.json()["code"] == "model_unavailable"

    tutor = await new_session(
        client,
        env.user,
        env.model_id,
        template_id=template["id"],
        variables={"subject": "chemistry"},
        parameters={"temperature": 0.3},
    )
    assert tutor["system_prompt"] == "You teach chemistry to beginner students."
    assert (tutor["title"], tutor["title_source"]) == ("New chat", "default")
    await send(client, env, tutor["id"], "What is an atom?")
    sent = [r.json for r in fake_openai.requests if r.json and r.json.get("stream")][-1]
    assert sent["messages"][0] == {
        "role": "system",
        "content": "You teach chemistry to beginner students.",
    }
    assert sent["temperature"] == 0.3

    url = f"/api/chat/sessions/{tutor['id']}"
    changed = await client.patch(
        url, json={"variables": {"subject": "physics", "level": "expert"}}, headers=env.user
    )
    assert changed.json()["system_prompt"] == "You teach physics to expert students."
    renamed = await client.patch(url, json={"title": "Physics lessons"}, headers=env.user)
    assert (renamed.json()["title"], renamed.json()["title_source"]) == ("Physics lessons", "user")
    own = await client.patch(url, json={"system_prompt": "Answer in rhymes."}, headers=env.user)
    assert (own.json()["system_prompt"], own.json()["template_id"]) == ("Answer in rhymes.", None)

    await new_session(client, env.user, env.model_id, title="Cooking 100% pasta")
    await new_session(client, env.user, env.model_id, title="Travel plans")
    page = (await client.get("/api/chat/sessions", headers=env.user)).json()
    assert page["total"] == 3
    found = (await client.get("/api/chat/sessions?q=PHYSICS", headers=env.user)).json()
    assert [s["title"] for s in found["items"]] == ["Physics lessons"]
    literal = (await client.get("/api/chat/sessions?q=100%25", headers=env.user)).json()
    assert [s["title"] for s in literal["items"]] == ["Cooking 100% pasta"]
    two = (await client.get("/api/chat/sessions?limit=2&offset=1", headers=env.user)).json()
    assert (len(two["items"]), two["total"]) == (2, 3)

    assert (await client.delete(url, headers=env.user)).status_code == 204
    assert (await client.get(url, headers=env.user)).status_code == 404
    gone = await client.get(f"{url}/messages", headers=env.user)
    assert gone.json()["code"] == "chat_session_not_found"


@sqlite_only
async def test_session_edits_refuse_contradictions_and_leave_the_session_as_it_was(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(platform, client, fake_openai)
    other = await chat_env(platform, client, fake_openai, email="bo@example.com", alias="chat-2")
    other_model = other.model_id
    template = (await client.post("/api/prompts", json=TEMPLATE, headers=env.user)).json()
    both = await client.post(
        "/api/chat/sessions",
        json={"model_config_id": env.model_id, "template_id": template["id"], "system_prompt": "x"},
        headers=env.user,
    )
    assert (both.status_code, both.json()["code"]) == (400, "conflicting_system_prompt")

    tutor = await new_session(
        client, env.user, env.model_id, template_id=template["id"], variables={"subject": "art"}
    )
    url = f"/api/chat/sessions/{tutor['id']}"
    refused = [
        ({"system_prompt": "x", "template_id": template["id"]}, "conflicting_system_prompt"),
        ({"model_config_id": "nope", "title": "Not applied"}, "model_unavailable"),
        ({"variables": {"subject": "art", "mood": "calm"}}, "invalid_template_variables"),
    ]
    for body, code in refused:
        response = await client.patch(url, json=body, headers=env.user)
        assert (response.status_code, response.json()["code"]) == (400, code), body
    assert (await client.get(url, headers=env.user)).json() == tutor

    changed = await client.patch(
        url,
        json={
            "model_config_id": other_model,
            "parameters": {"temperature": 0.9, "max_tokens": 64},
            "knowledge_top_k": 3,
        },
        headers=env.user,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["model_config_id"] == other_model
    assert (body["parameters"]["temperature"], body["parameters"]["max_tokens"]) == (0.9, 64)
    assert body["knowledge_top_k"] == 3

    # Detached from its template: the rendered prompt stays as the session's own text, and
    # there is nothing left to fill in.
    detached = (await client.patch(url, json={"template_id": None}, headers=env.user)).json()
    assert (detached["template_id"], detached["system_prompt"]) == (
        None,
        "You teach art to beginner students.",
    )
    no_template = await client.patch(url, json={"variables": {"a": "b"}}, headers=env.user)
    assert (no_template.status_code, no_template.json()["code"]) == (400, "no_template")


async def test_regenerate_keeps_siblings_and_edit_replaces_the_later_turns(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(platform, client, fake_openai)
    chat = await new_session(client, env.user, env.model_id, title="Branches")
    fake_openai.scenario = Scenario(tokens=["A1"])
    first = await send(client, env, chat["id"], "Q1")
    fake_openai.scenario = Scenario(tokens=["A2"])
    second = await send(client, env, chat["id"], "Q2")
    a2 = second.start["assistant_message_id"]

    fake_openai.scenario = Scenario(tokens=["A2 again"])
    regen = await stream_turn(client, f"/api/chat/messages/{a2}/regenerate", env.user)
    assert regen.names[-1] == "done"
    assert regen.start["user_message_id"] == second.start["user_message_id"]
    assert upstream_chats(fake_openai)[-1][-1] == {"role": "user", "content": "Q2"}
    branch = await _messages(client, env.user, chat["id"])
    assert [m["content"] for m in branch] == ["Q1", "A1", "Q2", "A2 again"]
    assert (branch[-1]["sibling_index"], branch[-1]["sibling_count"]) == (1, 2)
    everything = await _messages(client, env.user, chat["id"], everything=True)
    assert [(m["content"], m["current"]) for m in everything] == [
        ("Q1", True),
        ("A1", True),
        ("Q2", True),
        ("A2", False),
        ("A2 again", True),
    ]
    old = await persisted(platform, a2)
    assert old.superseded_at is not None

    # Editing the first question makes a new branch: Q2 and its answers leave it.
    fake_openai.scenario = Scenario(tokens=["B1"])
    q1 = first.start["user_message_id"]
    edited = await stream_turn(
        client, f"/api/chat/messages/{q1}/edit", env.user, {"content": "Q1, reworded"}
    )
    assert edited.start["parent_id"] is None
    assert upstream_chats(fake_openai)[-1] == [{"role": "user", "content": "Q1, reworded"}]
    branch = await _messages(client, env.user, chat["id"])
    assert [m["content"] for m in branch] == ["Q1, reworded", "B1"]
    await persisted(platform, edited.start["assistant_message_id"])
    everything = await _messages(client, env.user, chat["id"], everything=True)
    assert len(everything) == 7
    stale_branch = {m["content"] for m in everything if not m["current"]}
    assert stale_branch == {"Q1", "A1", "Q2", "A2", "A2 again"}

    # A message off the current branch cannot be regenerated; a new send follows the edit.
    stale = await stream_turn(client, f"/api/chat/messages/{a2}/regenerate", env.user)
    assert stale.status == 409
    fake_openai.scenario = Scenario(tokens=["B2"])
    await send(client, env, chat["id"], "Q2'")
    branch = await _messages(client, env.user, chat["id"])
    assert [m["content"] for m in branch] == ["Q1, reworded", "B1", "Q2'", "B2"]

    # Deleting the edited question brings the original branch back.
    edited_id = edited.start["user_message_id"]
    deleted = await client.delete(f"/api/chat/messages/{edited_id}", headers=env.user)
    assert deleted.status_code == 204
    branch = await _messages(client, env.user, chat["id"])
    assert [m["content"] for m in branch] == ["Q1", "A1", "Q2", "A2 again"]


@sqlite_only
async def test_rating_raw_markdown_export_and_history_trimming(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    # A 300-token window: with the answer's reserve (75) only the latest turns fit.
    env = await chat_env(platform, client, fake_openai, capabilities={"context_window": 300})
    chat = await new_session(
        client, env.user, env.model_id, system_prompt="Be exact.", title="Trim test"
    )
    fake_openai.scenario = Scenario(tokens=["**Bold**", " answer"], reasoning=["hmm"])
    turn = await send(client, env, chat["id"], "First " + "x" * 400)
    answer_id = turn.start["assistant_message_id"]

    rated = await client.post(
        f"/api/chat/messages/{answer_id}/rating",
        json={"rating": -1, "note": "too bold"},
        headers=env.user,
    )
    assert rated.status_code == 200, rated.text
    assert (rated.json()["rating"], rated.json()["rating_note"]) == (-1, "too bold")
    bad = await client.post(
        f"/api/chat/messages/{answer_id}/rating", json={"rating": 5}, headers=env.user
    )
    assert bad.status_code == 400
    question = await client.post(
        f"/api/chat/messages/{turn.start['user_message_id']}/rating",
        json={"rating": 1},
        headers=env.user,
    )
    assert question.json()["code"] == "not_an_answer"
    raw = await client.get(f"/api/chat/messages/{answer_id}/raw", headers=env.user)
    assert raw.headers["content-type"].startswith("text/markdown")
    assert raw.text == "**Bold** answer"

    for n in range(2, 5):
        last = await send(client, env, chat["id"], f"Question {n} " + "y" * 200)
    # Oldest turns go first; the system prompt and the new question always stay.
    sent = upstream_chats(fake_openai)[-1]
    assert last.start["dropped_turns"] == 1
    assert [str(m["content"])[:10] for m in sent] == [
        "Be exact.",
        "Question 2",
        "**Bold** a",
        "Question 3",
        "**Bold** a",
        "Question 4",
    ]

    md = await client.get(f"/api/chat/sessions/{chat['id']}/export", headers=env.user)
    assert md.headers["content-type"].startswith("text/markdown")
    assert 'filename="Trim-test.md"' in md.headers["content-disposition"]
    text = md.text
    assert text.startswith("# Trim test\n")
    assert "## System\n\nBe exact." in text
    assert "<details><summary>Reasoning</summary>\n\n> hmm" in text
    assert text.count("## User") == 4
    assert text.count("## Assistant") == 4
    data = (
        await client.get(f"/api/chat/sessions/{chat['id']}/export?format=json", headers=env.user)
    ).json()
    assert data["session"]["id"] == chat["id"]
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"] * 4
    assert data["messages"][1]["rating"] == -1
    bad_format = await client.get(
        f"/api/chat/sessions/{chat['id']}/export?format=pdf", headers=env.user
    )
    assert bad_format.status_code == 400


_BODIES: dict[str, dict[str, Any]] = {
    "PATCH /api/chat/sessions/{session_id}": {"title": "mine now"},
    "POST /api/chat/sessions/{session_id}/messages": {"content": "hi"},
    "POST /api/chat/messages/{message_id}/edit": {"content": "hi"},
    "POST /api/chat/messages/{message_id}/rating": {"rating": 1},
}
_OPEN_TO_ALL = {"GET /api/chat/sessions", "POST /api/chat/sessions"}


@sqlite_only
async def test_every_chat_route_hides_other_users_sessions_and_messages(
    platform: Platform, client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    env = await chat_env(platform, client, fake_openai)
    template = (await client.post("/api/prompts", json=TEMPLATE, headers=env.user)).json()
    chat = await new_session(client, env.user, env.model_id, title="Ada's secrets")
    turn = await send(client, env, chat["id"], "my secret")
    answer_id, question_id = turn.start["assistant_message_id"], turn.start["user_message_id"]
    await persisted(platform, answer_id)
    eve = await login(platform, client, "eve@example.com")

    # Every chat route the app serves (from its OpenAPI document, so none can be missed).
    spec = (await client.get("/schema/openapi.json")).json()
    routes = [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith("/api/chat/")
        for method in item
        if method in {"get", "post", "patch", "delete"}
    ]
    assert len(routes) == 14
    for method, path in routes:
        key = f"{method} {path}"
        if key in _OPEN_TO_ALL:
            continue
        for message_id in (answer_id, question_id) if "{message_id}" in path else (None,):
            values = {"session_id": chat["id"], "message_id": message_id}
            url = path.format(**values)
            response = await client.request(method, url, json=_BODIES.get(key), headers=eve)
            assert response.status_code == 404, (key, response.text)
            assert response.json()["code"] in {"chat_session_not_found", "chat_message_not_found"}

    listing = (await client.get("/api/chat/sessions?q=secrets", headers=eve)).json()
    assert listing["total"] == 0
    stolen = await client.post(
        "/api/chat/sessions",
        json={"model_config_id": env.model_id, "template_id": template["id"], "variables": {}},
        headers=eve,
    )
    assert stolen.status_code == 404
    # Nothing of Ada's changed.
    mine = (await client.get(f"/api/chat/sessions/{chat['id']}", headers=env.user)).json()
    assert mine["title"] == "Ada's secrets"
    assert len(await _messages(client, env.user, chat["id"])) == 2
