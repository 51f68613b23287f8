"""Training job routes without a trainer: validation, queue, cancel, feed, projection, serving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.training import (
    JobCheckpoint,
    JobCheckpointData,
    JobCompleted,
    JobCompletedData,
    JobFailed,
    JobFailedData,
    JobProgress,
    JobProgressData,
    JobStarted,
    JobStartedData,
    ServerStarted,
    ServerStartedData,
    ServerStopped,
    ServerStoppedData,
)
from runtime.db.models import ModelConfig, ModelServer, Provider
from runtime.platform import Platform, Roles
from tests.fixtures.app import PlatformFactory
from tests.integration.gateway_support import eventually, login

DATA = Path(__file__).parents[1] / "data" / "training"


def fake_model(folder: Path) -> Path:
    """A folder that passes for a local model: config, template record, word tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "llmforge.json").write_text(json.dumps({"template": "smollm2"}))
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


Env = tuple[Platform, httpx.AsyncClient, dict[str, str], str]


@pytest.fixture
async def env(platform_factory: PlatformFactory, tmp_path: Path) -> AsyncIterator[Env]:
    # No trainer in this process: jobs stay queued, and events are injected by hand.
    platform = await platform_factory(Roles(only=frozenset({"training-projection"})))
    folder = fake_model(tmp_path / "model")
    async with platform.services.session_factory() as session:
        base = ModelConfig(
            alias="tiny", model_id="tiny", name="Tiny", kind="local", local_path=str(folder)
        )
        session.add(base)
        await session.commit()
    async with httpx.AsyncClient(base_url=platform.url, timeout=20) as client:
        headers = await login(platform, client, "jobs@example.com")
        yield platform, client, headers, base.id


async def _dataset(client: httpx.AsyncClient, headers: dict[str, str], base: str = "") -> str:
    response = await client.post(
        "/api/datasets",
        headers=headers,
        files={"file": ("a.json", (DATA / "alpaca_math.json").read_bytes())},
        data={"name": "math", **({"base_model_id": base} if base else {})},
    )
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


async def test_bad_job_requests_fail_up_front_with_clear_codes(env: Env) -> None:
    platform, client, headers, base = env
    dataset = await _dataset(client, headers, base)

    async def code(**body: Any) -> str:
        payload = {"base_model_id": base, "dataset_ids": [dataset], **body}
        response = await client.post("/api/training/jobs", json=payload, headers=headers)
        assert response.status_code in (400, 422), response.text
        value: str = response.json()["code"]
        return value

    async with platform.services.session_factory() as session:
        remote = ModelConfig(alias="remote", model_id="r", name="r", kind="remote")
        session.add(remote)
        await session.commit()
    assert await code(base_model_id=remote.id) == "base_model_not_local"
    assert await code(base_model_id="nope") == "base_model_not_local"
    assert await code(template="no-such-template") == "unknown_template"
    assert await code(stage="dpo") == "stage_not_supported"
    assert (await code(finetuning_type="qlora")).startswith("qlora_needs_")
    assert await code(dataset_ids=["missing"]) == "unknown_dataset"
    assert await code(val_size=40) == "dataset_too_small"
    assert await code(val_size=0.001) == "dataset_too_small"
    assert await code(cutoff_len=8) == "dataset_does_not_fit"
    assert await code(lora_rank=0) == "validation_failed"
    assert await code(surprise=1) == "validation_failed"
    other = await login(platform, client, "other@example.com")
    response = await client.post(
        "/api/training/jobs",
        json={"base_model_id": base, "dataset_ids": [dataset]},
        headers=other,
    )
    assert response.json()["code"] == "unknown_dataset"


async def test_queued_job_is_listed_streamed_and_cancelled_at_once(env: Env) -> None:
    platform, client, headers, base = env
    dataset = await _dataset(client, headers, base)
    created = await client.post(
        "/api/training/jobs",
        json={
            "base_model_id": base,
            "dataset_ids": [dataset],
            "cutoff_len": 16,
            "per_device_train_batch_size": 64,
            "val_size": 0.1,
        },
        headers=headers,
    )
    assert created.status_code == 202, created.text
    job = created.json()
    assert job["status"] == "queued"
    assert job["hyperparameters"]["template"] == "smollm2"
    assert any("truncated" in w for w in job["warnings"])
    assert any("less than one batch" in w for w in job["warnings"])
    listing = (await client.get("/api/training/jobs?status=queued", headers=headers)).json()
    assert [j["id"] for j in listing["items"]] == [job["id"]]
    one = await client.get(f"/api/training/jobs/{job['id']}", headers=headers)
    assert one.json()["status"] == "queued"
    stranger = await login(platform, client, "stranger@example.com")
    assert (
        await client.get(f"/api/training/jobs/{job['id']}", headers=stranger)
    ).status_code == 404
    in_use = await client.delete(f"/api/datasets/{dataset}", headers=headers)
    assert in_use.status_code == 409
    report = await client.get(f"/api/training/jobs/{job['id']}/report", headers=headers)
    assert report.json()["code"] == "report_not_ready"
    metrics = (await client.get(f"/api/training/jobs/{job['id']}/metrics", headers=headers)).json()
    assert metrics == {"job_id": job["id"], "status": "queued", "points": []}

    cancelled = await client.post(f"/api/training/jobs/{job['id']}/cancel", headers=headers)
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/training/jobs/{job['id']}/cancel", headers=headers)
    assert again.json()["code"] == "job_finished"

    kinds: list[str] = []
    last_id = ""
    url = f"/api/training/jobs/{job['id']}/events"
    async with client.stream("GET", url, headers=headers) as response:
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                last_id = line[3:].strip()
            if line.startswith("event: llmforge.training."):
                kinds.append(line.split(".")[-2])
                if kinds[-1] == "cancelled":
                    break
    assert kinds == ["requested", "cancel_requested", "cancelled"]
    bad = await client.get(url, headers={**headers, "Last-Event-ID": "nonsense!"})
    assert bad.status_code == 400
    async with client.stream("GET", url, headers={**headers, "Last-Event-ID": last_id}) as resumed:
        async for line in resumed.aiter_lines():
            assert not line.startswith("event: llmforge.")  # nothing after the last one
            if line.startswith("event: ready"):
                break


async def test_projection_applies_events_once_and_registers_the_adapter(env: Env) -> None:
    platform, client, headers, base = env
    dataset = await _dataset(client, headers)
    job = (
        await client.post(
            "/api/training/jobs",
            json={"base_model_id": base, "dataset_ids": [dataset]},
            headers=headers,
        )
    ).json()
    ids = {"job_id": job["id"], "owner_id": job["owner_id"]}
    adapter = platform.settings.data_dir / "adapter"
    adapter.mkdir()
    events = [
        JobStarted(subject=job["id"], data=JobStartedData(**ids, swanlab_run_id=job["id"])),
        JobProgress(
            subject=job["id"],
            data=JobProgressData(**ids, step=1, total_steps=2, loss=1.5, grad_norm=2.0),
        ),
        JobProgress(
            subject=job["id"],
            data=JobProgressData(**ids, step=2, total_steps=2, loss=1.0, learning_rate=1e-4),
        ),
        JobProgress(subject=job["id"], data=JobProgressData(**ids, step=2, total_steps=2)),
        JobCheckpoint(subject=job["id"], data=JobCheckpointData(**ids, step=2, path="/c")),
        JobCompleted(
            subject=job["id"],
            data=JobCompletedData(
                **ids,
                adapter_path=str(adapter),
                base_model_id=base,
                finetuning_type="lora",
                template="smollm2",
                duration_seconds=3.0,
                final_loss=1.0,
                best_loss=1.0,
                steps=2,
                report_path=str(adapter / "report.html"),
            ),
        ),
    ]
    for event in events:
        await platform.services.bus.publish(event)

    async def succeeded() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/api/training/jobs/{job['id']}", headers=headers)
        ).json()
        return body if body["status"] == "succeeded" else None

    done = await eventually(succeeded)
    assert done["progress"]["checkpoints"] == [2]
    assert done["progress"]["loss"] == 1.0
    assert done["report_url"]
    assert done["swanlab_run_id"] == job["id"]
    points = (await client.get(f"/api/training/jobs/{job['id']}/metrics", headers=headers)).json()
    assert [(p["step"], p["loss"]) for p in points["points"]] == [(1, 1.5), (2, 1.0)]
    assert points["points"][0]["grad_norm"] == 2.0
    # Replays (new event ids, same facts) and a late failure change nothing.
    for event in [
        *events[-2:],
        JobFailed(subject=job["id"], data=JobFailedData(**ids, error="late")),
    ]:
        await platform.services.bus.publish(
            type(event)(subject=event.subject, data=event.data)  # type: ignore[call-arg]
        )
    await platform.services.bus.publish(events[0])
    model_id = done["result_model_id"]

    async def settled() -> bool:
        body = (await client.get(f"/api/training/jobs/{job['id']}", headers=headers)).json()
        return bool(body["status"] == "succeeded" and body["attempts"] == 1)

    await eventually(settled)
    async with platform.services.session_factory() as session:
        adapters = [
            m for m in (await session.get(ModelConfig, model_id),) if m and m.kind == "adapter"
        ]
    assert len(adapters) == 1

    # Serving bookkeeping: a provider while it runs, detached and removed when it stops.
    async with platform.services.session_factory() as session:
        server = ModelServer(model_config_id=model_id, status="starting")
        session.add(server)
        await session.commit()
    sids = {"server_id": server.id, "model_config_id": model_id, "owner_id": job["owner_id"]}
    await platform.services.bus.publish(
        ServerStarted(
            subject=server.id,
            data=ServerStartedData(**sids, base_url="http://127.0.0.1:9/v1", port=9),
        )
    )
    status = await eventually(lambda: _serve_status(client, headers, model_id, "running"))
    assert status["provider_id"]
    assert status["healthy"] is False
    conflict = await client.post(f"/api/models/{model_id}/serve", headers=headers)
    assert conflict.json()["code"] == "already_serving"
    await platform.services.bus.publish(
        ServerStopped(
            subject=server.id, data=ServerStoppedData(**sids, reason="exited", error="boom")
        )
    )
    await eventually(lambda: _serve_status(client, headers, model_id, "stopped"))
    async with platform.services.session_factory() as session:
        assert await session.get(Provider, status["provider_id"]) is None
        config = await session.get(ModelConfig, model_id)
        assert config is not None
        assert config.provider_id is None
    stop = await client.delete(f"/api/models/{model_id}/serve", headers=headers)
    assert stop.json()["code"] == "not_serving"


async def _serve_status(
    client: httpx.AsyncClient, headers: dict[str, str], model_id: str, status: str
) -> dict[str, Any] | None:
    body: dict[str, Any] = (
        await client.get(f"/api/models/{model_id}/serve", headers=headers)
    ).json()
    return body if body.get("status") == status else None


async def test_serving_routes_refuse_what_cannot_or_may_not_be_served(env: Env) -> None:
    platform, client, headers, base = env
    admin = await login(platform, client, "admin@example.com", role="admin")
    async with platform.services.session_factory() as session:
        remote = ModelConfig(alias="remote2", model_id="r", name="r", kind="remote")
        session.add(remote)
        await session.commit()
    assert (await client.post(f"/api/models/{remote.id}/serve", headers=admin)).json()[
        "code"
    ] == "not_a_local_model"
    assert (await client.post("/api/models/nope/serve", headers=admin)).status_code == 404
    assert (await client.post(f"/api/models/{base}/serve", headers=headers)).status_code == 403
    assert (await client.get(f"/api/models/{base}/serve", headers=admin)).status_code == 404
    assert (await client.get(f"/api/models/{base}/serve/logs", headers=admin)).status_code == 404
    not_adapter = await client.post(f"/api/models/{base}/export", headers=admin)
    assert not_adapter.json()["code"] == "not_an_adapter"
    started = await client.post(f"/api/models/{base}/serve", headers=admin)
    assert started.status_code == 202
    assert started.json()["status"] == "starting"
    logs = await client.get(f"/api/models/{base}/serve/logs", headers=admin)
    assert logs.json()["lines"] == []
    stopping = await client.delete(f"/api/models/{base}/serve", headers=admin)
    assert stopping.status_code == 202
