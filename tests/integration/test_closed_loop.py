"""The whole loop on the CPU: rated chats → dataset → job → evaluation → promote → roll back.

Real SmolLM2-135M fine-tuning (a few steps), real ``llamafactory-cli api`` servers for the
base and fine-tuned models; a scripted fake provider is the chat model people rated and
the judge. One run, slow: every wait is bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from runtime.db.models import ModelConfig, ModelServer
from tests.fixtures.app import PlatformFactory
from tests.fixtures.fake_providers import FAKE_API_KEY
from tests.integration.evaluation_support import ScriptedFake, chat, closer_to_reference
from tests.integration.gateway_support import add_model, add_provider, eventually, login
from tests.integration.test_chat_support import ChatEnv, new_session, persisted, send
from tests.integration.test_training_e2e import register_base, smollm2_folder

ANSWER = "Foxes say hello with a bark."
QUESTIONS = [f"What does fox number {i} say?" for i in range(10)]


@pytest.fixture
def db_backend() -> str:
    # CPU-bound minutes, not a database test: SQLite only.
    return "sqlite"


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return smollm2_folder(tmp_path_factory.mktemp("models"))


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_rated_chats_become_a_promoted_model_that_can_be_rolled_back(
    platform_factory: PlatformFactory, smollm2: Path
) -> None:
    platform = await platform_factory()
    async with (
        ScriptedFake({"chat-model": ANSWER, "judge": ""}, judge=closer_to_reference) as fake,
        httpx.AsyncClient(base_url=platform.url, timeout=60) as client,
    ):
        admin = await login(platform, client, "root@example.com", "admin")
        provider = await add_provider(
            client,
            admin,
            type="openai-compatible",
            name="fake",
            base_url=fake.base_url,
            api_key=FAKE_API_KEY,
        )
        models = {
            upstream: (
                await add_model(
                    client, admin, provider_id=provider["id"], model_id=upstream, alias=upstream
                )
            )["id"]
            for upstream in ("chat-model", "judge")
        }
        base = await register_base(platform, smollm2)
        user = await login(platform, client, "ann@example.com")

        # 1. Chats with the fake model, every answer rated up.
        session = await new_session(client, user, models["chat-model"])
        for question in QUESTIONS:
            turn = await send(client, ChatEnv(user, models["chat-model"]), session["id"], question)
            assert turn.names[-1] == "done", turn.names
            answer_id = turn.start["assistant_message_id"]
            await persisted(platform, answer_id)
            rated = await client.post(
                f"/api/chat/messages/{answer_id}/rating", json={"rating": 1}, headers=user
            )
            assert rated.status_code == 200, rated.text

        # 2. The rated answers become a dataset with a held-out validation split.
        preview = await client.post(
            "/api/datasets/collect/preview",
            json={"sources": ["chat"], "rating": "up"},
            headers=user,
        )
        assert preview.status_code == 200, preview.text
        pairs = preview.json()["pairs"]
        assert sorted(p["instruction"] for p in pairs) == sorted(QUESTIONS)
        collected = await client.post(
            "/api/datasets/collect",
            json={"name": "foxes", "format": "alpaca", "pairs": pairs, "val_ratio": 0.2},
            headers=user,
        )
        assert collected.status_code == 201, collected.text
        dataset = collected.json()
        held = await _get(client, f"/api/datasets/{dataset['id']}/validation", user)
        assert held["total"] == 2

        # 3. One action trains it (a few steps), with the evaluation settings.
        started = await client.post(
            f"/api/datasets/{dataset['id']}/train",
            json={
                "base_model_id": base,
                "overrides": {
                    "max_steps": 3,
                    "save_steps": 100,
                    "per_device_train_batch_size": 2,
                    "gradient_accumulation_steps": 1,
                    "cutoff_len": 128,
                    "learning_rate": 5e-4,
                    "lr_scheduler_type": "constant",
                },
                "evaluation": {
                    "judge_model_id": models["judge"],
                    "max_examples": 2,
                    "max_tokens": 12,
                },
            },
            headers=user,
        )
        assert started.status_code == 202, started.text
        job = started.json()

        async def trained() -> dict[str, Any] | None:
            body = await _get(client, f"/api/training/jobs/{job['id']}", user)
            assert body["status"] not in ("failed", "cancelled"), body["error"]
            return body if body["status"] == "succeeded" and body["result_model_id"] else None

        done = await eventually(trained, timeout=900)
        tuned = done["result_model_id"]

        # 4. The evaluation ran by itself: base SmolLM2 vs the fine-tuned one, judged.
        async def evaluated() -> dict[str, Any] | None:
            body = await _get(client, f"/api/training/jobs/{job['id']}/evaluation", user)
            assert body["status"] != "failed", body["error"]
            return body if body["status"] == "completed" else None

        evaluation = await eventually(evaluated, timeout=900)
        assert (evaluation["base_model_id"], evaluation["tuned_model_id"]) == (base, tuned)
        assert evaluation["source"] == "validation"
        examples = evaluation["examples"]
        assert [e["prompt"] for e in examples] == [i["instruction"] for i in held["items"]]
        for example in examples:
            assert example["reference"] == ANSWER
            for side in ("base", "tuned"):
                assert example[side]["status"] == "ok", example
                assert example[side]["output_tokens"] > 0
                assert example[side]["latency_ms"] > 0
            assert example["outcome"] in ("win", "loss", "tie")
        summary = evaluation["summary"]
        assert summary["judged"] == 2
        assert 0 <= summary["ci_low"] <= summary["win_rate"] <= summary["ci_high"] <= 1
        report = await client.get(
            f"/api/training/jobs/{job['id']}/report", params={"format": "markdown"}, headers=user
        )
        assert "## Evaluation" in report.text

        # The servers the evaluation started are stopped again.
        async def servers_stopped() -> bool:
            async with platform.services.session_factory() as db:
                rows = (await db.scalars(select(ModelServer))).all()
            return bool(rows) and all(r.status == "stopped" for r in rows)

        await eventually(servers_stopped, timeout=60)

        # 5. Serve the fine-tuned model and promote it under a stable alias.
        served = await client.post(f"/api/models/{tuned}/serve", headers=user)
        assert served.status_code == 202, served.text

        async def running() -> bool:
            body = await _get(client, f"/api/models/{tuned}/serve", user)
            assert body["status"] in ("starting", "running"), body
            return bool(body["status"] == "running" and body["healthy"])

        await eventually(running, timeout=300)
        key = (await client.post("/api/auth/api-keys", json={"name": "app"}, headers=user)).json()[
            "key"
        ]
        previous = await client.put(
            "/api/models/aliases/assistant",
            json={"model_config_id": models["chat-model"]},
            headers=admin,
        )
        assert previous.status_code == 201, previous.text
        before = await chat(client, key, "assistant", "What does a fox say?", max_tokens=12)
        assert before.json()["choices"][0]["message"]["content"] == ANSWER
        promoted = await client.put(
            "/api/models/aliases/assistant", json={"model_config_id": tuned}, headers=admin
        )
        assert promoted.status_code == 200, promoted.text

        # 6. The same client code now talks to the fine-tuned model's server.
        asked = len(fake.chat_requests("chat-model"))
        after = await chat(client, key, "assistant", "What does a fox say?", max_tokens=12)
        assert after.status_code == 200, after.text
        async with platform.services.session_factory() as db:
            config = await db.scalar(select(ModelConfig).where(ModelConfig.id == tuned))
            assert config is not None
            tuned_alias = config.alias
        assert after.json()["model"] == tuned_alias
        assert after.json()["choices"][0]["message"]["content"].strip()
        assert len(fake.chat_requests("chat-model")) == asked  # the fake was not asked

        # 7. Roll back: the previous target answers again.
        back = await client.post("/api/models/aliases/assistant/rollback", headers=admin)
        assert back.status_code == 200, back.text
        again = await chat(client, key, "assistant", "What does a fox say?", max_tokens=12)
        assert again.json()["model"] == "chat-model"
        assert again.json()["choices"][0]["message"]["content"] == ANSWER
        assert len(fake.chat_requests("chat-model")) == asked + 1

        async def audited() -> list[str] | None:
            page = await _get(client, "/api/admin/audit?type=llmforge.providers.model.", admin)
            types = [i["type"] for i in page["items"]]
            return types if len(types) == 3 else None

        assert await eventually(audited) == [
            "llmforge.providers.model.rolled_back.v1",
            "llmforge.providers.model.promoted.v1",
            "llmforge.providers.model.promoted.v1",
        ]
        stopped = await client.delete(f"/api/models/{tuned}/serve", headers=user)
        assert stopped.status_code == 202
