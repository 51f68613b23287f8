"""From rated conversations to a dataset and a queued job, over real HTTP on both databases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from events import decode_event
from events.auth import UserUpdated
from events.training import DatasetCollected
from runtime.db.models import ModelConfig
from runtime.platform import Platform, Roles
from tests.fakes import FakeAnthropic, FakeOpenAI, Scenario
from tests.fixtures.app import PlatformFactory
from tests.integration.gateway_support import add_model, add_provider, eventually, login
from tests.integration.test_chat_support import ChatEnv, new_session, persisted, send
from tests.integration.test_training_api import fake_model

KEY = "sk-proj-abc123DEF456ghi789JKL012mno"
QUESTION = f"I am ada@example.com, call me on +1 555 123 4567; my key is {KEY}. Help?"


@dataclass
class Env:
    platform: Platform
    client: httpx.AsyncClient
    admin: dict[str, str]
    user: dict[str, str]
    chat_model: str  # on the OpenAI fake
    other_model: str  # on the Anthropic fake
    base_model: str  # a local folder to train from
    openai: FakeOpenAI
    anthropic: FakeAnthropic


@pytest.fixture
async def env(
    platform_factory: PlatformFactory,
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
) -> AsyncIterator[Env]:
    # Chats and compare runs are persisted by their consumers; no trainer runs here.
    platform = await platform_factory(Roles(only=frozenset({"chat", "compare"})))
    folder = fake_model(tmp_path / "model")
    async with platform.services.session_factory() as session:
        base = ModelConfig(
            alias="tiny", model_id="tiny", name="Tiny", kind="local", local_path=str(folder)
        )
        session.add(base)
        await session.commit()
    async with httpx.AsyncClient(base_url=platform.url, timeout=20) as client:
        admin = await login(platform, client, "root@example.com", "admin")
        openai = await add_provider(
            client,
            admin,
            name="OpenAI fake",
            type="openai-compatible",
            base_url=fake_openai.base_url,
            api_key="test-key",
            settings={"max_attempts": 1},
        )
        anthropic = await add_provider(
            client,
            admin,
            name="Anthropic fake",
            type="anthropic",
            base_url=fake_anthropic.base_url,
            api_key="test-key",
            settings={"max_attempts": 1},
        )
        chat = await add_model(
            client, admin, provider_id=openai["id"], model_id="up-chat", alias="chat"
        )
        other = await add_model(
            client, admin, provider_id=anthropic["id"], model_id="claude", alias="other"
        )
        user = await login(platform, client, "ann@example.com")
        yield Env(
            platform,
            client,
            admin,
            user,
            chat["id"],
            other["id"],
            base.id,
            fake_openai,
            fake_anthropic,
        )


async def _rated_turn(
    env: Env, headers: dict[str, str], session_id: str, question: str, answer: str, rating: int
) -> str:
    env.openai.scenario = Scenario(tokens=[answer])
    turn = await send(env.client, ChatEnv(headers, env.chat_model), session_id, question)
    assert turn.names[-1] == "done", turn.names
    answer_id: str = turn.start["assistant_message_id"]
    await persisted(env.platform, answer_id)
    if rating:
        rated = await env.client.post(
            f"/api/chat/messages/{answer_id}/rating", json={"rating": rating}, headers=headers
        )
        assert rated.status_code == 200, rated.text
    return answer_id


async def _voted_run(env: Env, headers: dict[str, str]) -> str:
    env.openai.scenario = Scenario(tokens=["Paris, I think."])
    env.anthropic.scenario = Scenario(tokens=["The capital of France is Paris."])
    body = {"prompt": "Capital of France?", "model_config_ids": [env.chat_model, env.other_model]}
    response = await env.client.post("/api/compare", json=body, headers=headers)
    assert response.status_code == 200, response.text
    run_id = response.headers["x-compare-run-id"]

    async def saved() -> bool:
        got = await env.client.get(f"/api/compare/runs/{run_id}", headers=headers)
        return got.status_code == 200

    await eventually(saved)
    vote = await env.client.post(
        f"/api/compare/runs/{run_id}/vote",
        json={"winner_model_config_id": env.other_model},
        headers=headers,
    )
    assert vote.status_code == 200, vote.text
    return run_id


async def _preview(env: Env, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await env.client.post("/api/datasets/collect/preview", json=body, headers=headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _last_event(env: Env, stream: str, subject: str) -> Any:
    message = await env.platform.services.bus.js.get_last_msg(stream, subject)
    assert message.data is not None
    return decode_event(message.data)


async def test_rated_chats_and_votes_become_a_scrubbed_split_dataset_in_both_formats(
    env: Env,
) -> None:
    chat = await new_session(env.client, env.user, env.chat_model, system_prompt="Be kind.")
    liked = await _rated_turn(env, env.user, chat["id"], QUESTION, "Happy to help.", 1)
    disliked = await _rated_turn(env, env.user, chat["id"], "What is 2+2?", "Five.", -1)
    await _rated_turn(env, env.user, chat["id"], "Thanks", "Welcome.", 0)
    run_id = await _voted_run(env, env.user)

    up = await _preview(env, env.user)
    assert up["total"] == 2
    by_source = {p["source"]: p for p in up["pairs"]}
    scrubbed = by_source["chat"]
    assert scrubbed["source_id"] == liked
    assert scrubbed["system"] == "Be kind."
    assert scrubbed["instruction"] == "I am [EMAIL], call me on [PHONE]; my key is [SECRET]. Help?"
    assert (scrubbed["input"], scrubbed["output"], scrubbed["rating"]) == ("", "Happy to help.", 1)
    assert scrubbed["model_alias"] == "chat"
    marks = {m["kind"]: m for m in scrubbed["scrubbed"]}
    assert marks["email"] == {"field": "instruction", "kind": "email", "text": "ad…@example.com"}
    assert KEY[6:] not in json.dumps(up)
    assert up["scrub_summary"] == {"email": 1, "phone": 1, "secret": 1}
    winner = by_source["compare"]
    assert (winner["source_id"], winner["rating"]) == (run_id, 1)
    assert (winner["instruction"], winner["output"]) == (
        "Capital of France?",
        "The capital of France is Paris.",
    )
    assert winner["model_alias"] == "other"

    down = await _preview(env, env.user, rating="down", history=True)
    assert {(p["source"], p["output"]) for p in down["pairs"]} == {
        ("chat", "Five."),
        ("compare", "Paris, I think."),
    }
    wrong = next(p for p in down["pairs"] if p["source"] == "chat")
    assert wrong["source_id"] == disliked
    # The earlier turn comes along as history, scrubbed like the rest.
    assert wrong["history"] == [[scrubbed["instruction"], "Happy to help."]]
    raw = await _preview(env, env.user, scrub={"emails": False, "phones": False, "secrets": False})
    assert QUESTION in [p["instruction"] for p in raw["pairs"]]
    only_other = await _preview(env, env.user, rating="any", model_config_ids=[env.other_model])
    assert [p["output"] for p in only_other["pairs"]] == ["The capital of France is Paris."]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await _preview(env, env.user, since=later))["total"] == 0
    tagged = await _preview(env, env.user, sources=["chat"], tags=["support"], limit=1)
    assert (tagged["total"], len(tagged["pairs"])) == (1, 1)
    assert any("tags" in note for note in tagged["notes"])

    # Reviewed: one answer rewritten, a pair typed in by hand, and an accidental repeat.
    pairs = [*up["pairs"], dict(wrong, output="Four.", rating=1)]
    pairs.append({"instruction": "Say hi", "output": "Hi!", "system": "Be kind."})
    pairs.append(dict(pairs[0]))
    body = {"name": "support", "format": "alpaca", "pairs": pairs, "val_ratio": 0.25}
    created = await env.client.post("/api/datasets/collect", json=body, headers=env.user)
    assert created.status_code == 201, created.text
    dataset = created.json()
    assert (dataset["name"], dataset["format"], dataset["version"]) == ("support", "alpaca", 1)
    assert dataset["num_records"] == 3  # 4 distinct pairs, one held out
    split = dataset["stats"]["split"]
    assert (split["train_records"], split["validation_records"]) == (3, 1)
    assert split["duplicates_dropped"] == 1
    assert dataset["dataset_info"]["columns"]["system"] == "system"
    assert Path(dataset["dataset_info"]["file_name"]).is_file()
    again = await env.client.post("/api/datasets/collect", json=body, headers=env.user)
    assert (again.status_code, again.json()["id"]) == (200, dataset["id"])
    event = await _last_event(env, "LLMFORGE_TRAINING", "llmforge.training.dataset.collected")
    assert isinstance(event, DatasetCollected)
    assert event.data.sources == {"chat": 2, "compare": 2, "manual": 1}
    assert event.data.validation_dataset_id == split["validation_dataset_id"]

    held = await env.client.get(f"/api/datasets/{dataset['id']}/validation", headers=env.user)
    assert held.status_code == 200, held.text
    validation = held.json()
    assert (validation["total"], validation["validation_dataset_id"]) == (
        1,
        split["validation_dataset_id"],
    )
    item = validation["items"][0]
    assert set(item) >= {"instruction", "input", "output", "system"}

    export = await env.client.get(f"/api/datasets/{dataset['id']}/export", headers=env.user)
    assert export.status_code == 200
    assert export.headers["content-disposition"] == 'attachment; filename="support-v1.alpaca.jsonl"'
    train = [json.loads(line) for line in export.text.splitlines()]
    assert len(train) == 3
    everything = [(r["instruction"], r["output"]) for r in train]
    assert (item["instruction"], item["output"]) not in everything
    assert ("What is 2+2?", "Four.") in [*everything, (item["instruction"], item["output"])]
    assert all("[SECRET]" in r["instruction"] for r in train if "Help?" in r["instruction"])
    sharegpt = await env.client.get(
        f"/api/datasets/{dataset['id']}/export",
        params={"format": "sharegpt", "layout": "json"},
        headers=env.user,
    )
    assert sharegpt.headers["content-disposition"].endswith('.sharegpt.json"')
    conversations = sharegpt.json()
    assert [t["from"] for t in conversations[0]["conversations"]] == ["human", "gpt"]
    assert {c["conversations"][1]["value"] for c in conversations} == {o for _, o in everything}

    as_sharegpt = dict(body, name="support-sg", format="sharegpt", val_ratio=0)
    stored = await env.client.post("/api/datasets/collect", json=as_sharegpt, headers=env.user)
    assert stored.status_code == 201, stored.text
    assert (stored.json()["format"], stored.json()["num_records"]) == ("sharegpt", 4)
    none_held = await env.client.get(
        f"/api/datasets/{stored.json()['id']}/validation", headers=env.user
    )
    assert none_held.json() == {
        "dataset_id": stored.json()["id"],
        "validation_dataset_id": None,
        "total": 0,
        "items": [],
    }
    back = await env.client.get(
        f"/api/datasets/{stored.json()['id']}/export", params={"format": "alpaca"}, headers=env.user
    )
    assert {json.loads(line)["output"] for line in back.text.splitlines()} == {
        "Happy to help.",
        "The capital of France is Paris.",
        "Four.",
        "Hi!",
    }


async def test_bad_collect_requests_store_nothing(env: Env) -> None:
    async def count() -> int:
        listed = await env.client.get("/api/datasets", headers=env.user)
        total: int = listed.json()["total"]
        return total

    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "x", "pairs": []}, "no_pairs"),
        ({"name": "x", "pairs": [{"instruction": "q", "output": "  "}]}, "invalid_pairs"),
        ({"name": "x", "pairs": [{"instruction": "q", "output": "a"}], "val_ratio": 0.9}, ""),
        ({"name": "", "pairs": [{"instruction": "q", "output": "a"}]}, ""),
        ({"name": "x", "pairs": [{"instruction": "q", "output": "a"}], "base_model_id": "no"}, ""),
    ]
    for body, code in cases:
        response = await env.client.post("/api/datasets/collect", json=body, headers=env.user)
        assert response.status_code == 400, response.text
        if code:
            assert response.json()["code"] == code
    assert await count() == 0
    missing = await env.client.get("/api/datasets/nope/validation", headers=env.user)
    assert (missing.status_code, missing.json()["code"]) == (404, "dataset_not_found")
    uploaded = await env.client.post(
        "/api/datasets",
        headers=env.user,
        files={"file": ("a.jsonl", b'{"instruction": "q", "output": "a"}\n')},
        data={"name": "plain"},
    )
    assert uploaded.status_code == 201, uploaded.text
    plain = await env.client.get(
        f"/api/datasets/{uploaded.json()['id']}/validation", headers=env.user
    )
    assert (plain.status_code, plain.json()["code"]) == (404, "no_validation_split")


async def test_admins_collect_across_users_only_from_those_who_opted_in(env: Env) -> None:
    bob = await login(env.platform, env.client, "bob@example.com")
    carol = await login(env.platform, env.client, "carol@example.com")
    for who, headers in (("bob", bob), ("carol", carol), ("root", env.admin)):
        chat = await new_session(env.client, headers, env.chat_model)
        await _rated_turn(env, headers, chat["id"], f"{who} asks", f"answer for {who}", 1)

    me = await env.client.get("/api/auth/me", headers=bob)
    assert me.json()["share_conversations_for_training"] is False
    opted = await env.client.patch(
        "/api/auth/me", json={"share_conversations_for_training": True}, headers=bob
    )
    assert opted.status_code == 200, opted.text
    assert opted.json()["share_conversations_for_training"] is True
    assert (await env.client.get("/api/auth/me", headers=bob)).json()[
        "share_conversations_for_training"
    ] is True
    event = await _last_event(env, "LLMFORGE_AUTH", "llmforge.auth.user.updated")
    assert isinstance(event, UserUpdated)
    assert event.data.changed == ["share_conversations_for_training"]
    unknown = await env.client.patch("/api/auth/me", json={"role": "admin"}, headers=bob)
    assert unknown.status_code == 400

    own = await _preview(env, env.admin)
    assert [p["instruction"] for p in own["pairs"]] == ["root asks"]
    shared = await _preview(env, env.admin, all_users=True)
    assert sorted(p["instruction"] for p in shared["pairs"]) == ["bob asks", "root asks"]
    assert shared["user_count"] == 2
    refused = await env.client.post(
        "/api/datasets/collect/preview", json={"all_users": True}, headers=carol
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "admin_required")
    # A user sees only their own conversations, opted in or not.
    assert [p["instruction"] for p in (await _preview(env, bob))["pairs"]] == ["bob asks"]


async def test_each_route_needs_its_permission(env: Env) -> None:
    async def role(name: str, permissions: list[str]) -> dict[str, str]:
        created = await env.client.post(
            "/api/admin/roles",
            json={"name": name, "permissions": permissions},
            headers=env.admin,
        )
        assert created.status_code == 201, created.text
        return await login(env.platform, env.client, f"{name}@example.com", name)

    chatter = await role("chatter", ["chat.use"])
    curator = await role("curator", ["chat.use", "datasets.manage"])
    pair = {"instruction": "q", "output": "a"}
    calls = [
        ("POST", "/api/datasets/collect/preview", {}),
        ("POST", "/api/datasets/collect", {"name": "n", "pairs": [pair]}),
        ("GET", "/api/datasets/x/validation", None),
        ("GET", "/api/datasets/x/export", None),
        ("GET", f"/api/datasets/x/train-defaults?base_model_id={env.base_model}", None),
        ("POST", "/api/datasets/x/train", {"base_model_id": env.base_model}),
    ]
    for method, url, body in calls:
        response = await env.client.request(method, url, json=body, headers=chatter)
        assert (response.status_code, response.json()["code"]) == (403, "permission_required")
    collected = await env.client.post(
        "/api/datasets/collect", json={"name": "n", "pairs": [pair]}, headers=curator
    )
    assert collected.status_code == 201, collected.text
    denied = await env.client.post(
        f"/api/datasets/{collected.json()['id']}/train",
        json={"base_model_id": env.base_model},
        headers=curator,
    )
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_required")


async def test_one_action_train_queues_a_job_with_explained_defaults(env: Env) -> None:
    pairs = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(10)]
    body = {"name": "qa", "pairs": pairs, "val_ratio": 0.2}
    dataset = (await env.client.post("/api/datasets/collect", json=body, headers=env.user)).json()
    held_id = dataset["stats"]["split"]["validation_dataset_id"]
    url = f"/api/datasets/{dataset['id']}"

    got = await env.client.get(
        f"{url}/train-defaults", params={"base_model_id": env.base_model}, headers=env.user
    )
    assert got.status_code == 200, got.text
    defaults = got.json()
    assert (defaults["base_model_id"], defaults["dataset_ids"]) == (env.base_model, [dataset["id"]])
    assert defaults["eval_dataset_ids"] == [held_id]
    assert (defaults["val_size"], defaults["template"]) == (0.0, "smollm2")
    assert defaults["num_train_epochs"] == 5.0  # 8 records: several passes
    # Counted with the model's tokenizer now (the dataset was collected without one).
    assert defaults["estimates"]["tokens_source"] == "tokenizer"
    assert defaults["cutoff_len"] == 128
    assert {"cutoff_len", "num_train_epochs", "lora_rank", "learning_rate"} <= set(
        defaults["explanations"]
    )
    unknown = await env.client.get(
        f"{url}/train-defaults", params={"base_model_id": "nope"}, headers=env.user
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "base_model_not_local")

    started = await env.client.post(
        f"{url}/train",
        json={
            "base_model_id": env.base_model,
            "overrides": {"num_train_epochs": 1, "max_steps": 2},
            "evaluation": {"max_examples": 2},
        },
        headers=env.user,
    )
    assert started.status_code == 202, started.text
    job = started.json()
    assert (job["status"], job["dataset_ids"]) == ("queued", [dataset["id"]])
    hp = job["hyperparameters"]
    assert (hp["num_train_epochs"], hp["max_steps"]) == (1, 2)
    assert (hp["cutoff_len"], hp["lora_rank"]) == (defaults["cutoff_len"], defaults["lora_rank"])
    assert job["progress"]["eval_dataset_ids"] == [held_id]
    listed = await env.client.get(f"/api/training/jobs/{job['id']}", headers=env.user)
    assert listed.json()["status"] == "queued"

    for overrides, code in (
        ({"dataset_ids": ["x"]}, "override_not_allowed"),
        ({"lora_rank": 0}, "invalid_overrides"),
    ):
        bad = await env.client.post(
            f"{url}/train",
            json={"base_model_id": env.base_model, "overrides": overrides},
            headers=env.user,
        )
        assert (bad.status_code, bad.json()["code"]) == (400, code)
    other = await login(env.platform, env.client, "other@example.com")
    hidden = await env.client.post(
        f"{url}/train", json={"base_model_id": env.base_model}, headers=other
    )
    assert (hidden.status_code, hidden.json()["code"]) == (404, "dataset_not_found")
    assert msgspec.json.decode(started.content)["id"] == job["id"]


async def test_a_deleted_validation_split_is_reported_and_left_out_of_the_defaults(
    env: Env,
) -> None:
    pairs = [{"instruction": f"Q{i}", "output": f"A{i}"} for i in range(4)]
    body = {"name": "small", "pairs": pairs, "val_ratio": 0.5}
    dataset = (await env.client.post("/api/datasets/collect", json=body, headers=env.user)).json()
    held_id = dataset["stats"]["split"]["validation_dataset_id"]
    held = (await env.client.get(f"/api/datasets/{held_id}", headers=env.user)).json()
    assert (held["name"], held["num_records"]) == ("small (validation)", 2)
    # Asked of the validation dataset itself, the split is its own records.
    own = await env.client.get(f"/api/datasets/{held_id}/validation", headers=env.user)
    assert own.json()["total"] == 2
    assert (
        await env.client.delete(f"/api/datasets/{held_id}", headers=env.user)
    ).status_code == 204
    gone = await env.client.get(f"/api/datasets/{dataset['id']}/validation", headers=env.user)
    assert (gone.status_code, gone.json()["code"]) == (404, "validation_split_deleted")
    defaults = await env.client.get(
        f"/api/datasets/{dataset['id']}/train-defaults",
        params={"base_model_id": env.base_model},
        headers=env.user,
    )
    assert defaults.json()["eval_dataset_ids"] == []
