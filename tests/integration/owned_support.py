"""Test data for the authorization matrix and the fuzzer: one owned thing of each kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from runtime.db.models import (
    ChatMessage,
    ChatSession,
    CompareBatch,
    CompareRun,
    Document,
    ModelConfig,
    TrainingJob,
)
from runtime.platform import Platform

TRAINING_DATA = Path(__file__).parents[1] / "data" / "training"


async def owned_things(
    platform: Platform, client: httpx.AsyncClient, owner_id: str, owner: dict[str, str]
) -> dict[str, dict[str, str]]:
    """One thing of each kind, owned by ``owner``, by kind: the ids its routes take.

    Through the API where that is cheap, as rows where the API would need a model (chat
    turns, compare runs, trained adapters).
    """
    tag = owner_id[:8]  # model aliases are unique across users

    async def created(path: str, **kwargs: Any) -> dict[str, Any]:
        response = await client.post(path, headers=owner, **kwargs)
        assert response.status_code in (201, 202), (path, response.text)
        body: dict[str, Any] = response.json()
        return body

    prompt = await created("/api/prompts", json={"name": "mine", "body": "Hello"})
    kb = await created("/api/knowledge-bases", json={"name": "mine"})
    webhook = await created(
        "/api/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["llmforge.prompts.*"]},
    )
    key = await created("/api/auth/api-keys", json={"name": "mine"})
    dataset = await created(
        "/api/datasets",
        files={"file": ("alpaca.json", (TRAINING_DATA / "alpaca_math.json").read_bytes())},
        data={"name": "mine"},
    )
    async with platform.services.session_factory() as session:
        chat = ChatSession(user_id=owner_id, title="mine")
        session.add(chat)
        await session.flush()
        message = ChatMessage(session_id=chat.id, role="user", content="hi", turn_id="t1")
        adapter = ModelConfig(
            provider_id=None,
            model_id=f"adapter-{tag}",
            alias=f"adapter-{tag}",
            name="mine",
            kind="adapter",
            # No folder: serving and export stop at its missing metadata (422).
            local_path=str(platform.settings.data_dir / f"no-adapter-{tag}"),
        )
        models = [
            {"model_config_id": "m1", "alias": "m1", "name": "m1"},
            {"model_config_id": "m2", "alias": "m2", "name": "m2"},
        ]
        run = CompareRun(user_id=owner_id, prompt="p", models=models)
        batch = CompareBatch(
            user_id=owner_id, status="completed", models=models, prompts=["p"], total=2, done=2
        )
        document = Document(
            knowledge_base_id=kb["id"],
            filename="mine.txt",
            content_type="text/plain",
            file_path=str(platform.settings.data_dir / f"{tag}.txt"),
            content_hash="0" * 64,
            status="failed",
            error_reason="parse_error",
        )
        session.add_all([message, adapter, run, batch, document])
        await session.flush()
        # A finished job that produced the adapter: its owner may serve and export it.
        job = TrainingJob(owner_id=owner_id, status="succeeded", result_model_id=adapter.id)
        session.add(job)
        await session.commit()
        ids = {
            "session": {"session_id": chat.id},
            "message": {"message_id": message.id},
            "adapter": {"config_id": adapter.id},
            "run": {"run_id": run.id},
            "batch": {"batch_id": batch.id},
            "document": {"kb_id": kb["id"], "doc_id": document.id},
            "job": {"job_id": job.id},
        }
    return {
        **ids,
        "prompt": {"template_id": prompt["id"], "number": "1"},
        "knowledge_base": {"kb_id": kb["id"]},
        "webhook": {"webhook_id": webhook["id"], "delivery_id": "0" * 32},
        "api_key": {"key_id": key["id"]},
        "dataset": {"dataset_id": dataset["id"]},
    }
