"""Real LoRA fine-tuning of SmolLM2-135M on the CPU through the API and the real workers.

Slow (a handful of training steps each), so few: one run that is followed over SSE, turned
into a model, served and chatted with; a cancel; a worker killed mid-run that resumes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from runtime.db.models import ModelConfig
from runtime.platform import Platform, Roles
from tests.fixtures.app import PlatformFactory
from tests.integration.gateway_support import login, personal_key
from trainer.process import pid_alive

DATA = Path(__file__).parents[1] / "data" / "training"


def smollm2_folder(tmp_root: Path) -> Path:
    """The SmolLM2 HF folder, made once (LLMFORGE_TEST_SMOLLM2_DIR keeps it across runs)."""
    from trainer import smollm2

    target = Path(os.environ.get("LLMFORGE_TEST_SMOLLM2_DIR") or tmp_root / "smollm2")
    return smollm2.ensure(target)


async def register_base(platform: Platform, path: Path, alias: str = "smollm2") -> str:
    async with platform.services.session_factory() as session:
        row = ModelConfig(
            alias=alias, model_id=alias, name="SmolLM2-135M", kind="local", local_path=str(path)
        )
        session.add(row)
        await session.commit()
        return row.id


async def upload(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    response = await client.post(
        "/api/datasets",
        headers=headers,
        files={"file": (name, (DATA / name).read_bytes(), "application/json")},
        data={"name": name},
    )
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


async def submit(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    base: str,
    datasets: list[str],
    **hp: Any,
) -> dict[str, Any]:
    body = {
        "base_model_id": base,
        "dataset_ids": datasets,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 1,
        "cutoff_len": 128,
        "learning_rate": 2e-4,
        "lr_scheduler_type": "constant",
        **hp,
    }
    response = await client.post("/api/training/jobs", json=body, headers=headers)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    return job


Seen = list[tuple[str, dict[str, Any]]]


async def follow(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    job_id: str,
    until: Callable[[str, dict[str, Any], Seen], bool],
    *,
    # Generous: beside the other xdist worker a LoRA run takes about twice as long.
    timeout: float = 240.0,
    on_event: Callable[[str, dict[str, Any]], Any] | None = None,
) -> Seen:
    """Read the job's SSE feed until ``until(type, data, seen)``; every event in order."""
    seen: Seen = []
    deadline = time.monotonic() + timeout
    url = f"/api/training/jobs/{job_id}/events"
    async with client.stream(
        "GET", url, headers=headers, timeout=httpx.Timeout(timeout, connect=10)
    ) as response:
        assert response.status_code == 200
        kind = ""
        async for line in response.aiter_lines():
            assert time.monotonic() < deadline, f"timed out; saw {[k for k, _ in seen]}"
            if not line:
                kind = ""  # a blank line ends the message: its type does not carry over
            elif line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind.startswith("llmforge.training."):
                try:
                    data = json.loads(line.split(":", 1)[1])["data"]
                except json.JSONDecodeError:
                    # httpx splits lines on characters JSON need not escape (U+2028…);
                    # only console text (log events) could carry them.
                    assert kind.endswith(".log.v1"), line
                    continue
                short = kind.removeprefix("llmforge.training.job.").removesuffix(".v1")
                seen.append((short, data))
                if on_event is not None:
                    result = on_event(short, data)
                    if hasattr(result, "__await__"):
                        await result
                if until(short, data, seen):
                    return seen
    return seen


def terminal(kind: str, data: dict[str, Any], seen: Seen) -> bool:
    return kind in ("completed", "failed", "cancelled")


@pytest.fixture
def db_backend() -> str:
    # Training is CPU-bound minutes, not a database test: SQLite only.
    return "sqlite"


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return smollm2_folder(tmp_path_factory.mktemp("models"))


@pytest.fixture
async def trained(
    platform_factory: PlatformFactory, smollm2: Path
) -> AsyncIterator[tuple[Platform, httpx.AsyncClient, dict[str, str], str]]:
    platform = await platform_factory()
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
        headers = await login(platform, client, "trainer@example.com")
        base = await register_base(platform, smollm2)
        yield platform, client, headers, base


async def test_lora_sft_streams_progress_writes_adapter_and_report_then_serves_it(
    trained: tuple[Platform, httpx.AsyncClient, dict[str, str], str],
) -> None:
    platform, client, headers, base = trained
    dataset = await upload(client, headers, "alpaca_math.json")
    job = await submit(client, headers, base, [dataset], max_steps=4, save_steps=2)
    assert job["status"] == "queued"
    assert job["hyperparameters"]["template"] == "smollm2"

    environ: dict[str, str] = {}

    def child_environ(kind: str, data: dict[str, Any]) -> None:
        if kind == "started":  # the trainer runs for many seconds after this
            raw = Path(f"/proc/{data['pid']}/environ").read_bytes()
            environ.update(v.split("=", 1) for v in raw.decode().split("\0") if "=" in v)

    seen = await follow(client, headers, job["id"], terminal, on_event=child_environ)
    assert environ["OMP_NUM_THREADS"] == "1"  # LLMFORGE_TRAINING_CPU_THREADS
    kinds = [k for k, _ in seen]
    assert kinds[:2] == ["requested", "started"], kinds
    assert kinds[-1] == "completed", kinds
    losses = [d["loss"] for k, d in seen if k == "progress" and d.get("loss") is not None]
    assert len(losses) >= 4
    assert all(isinstance(x, float) and 0 < x < 20 for x in losses)
    assert any(d.get("grad_norm") for k, d in seen if k == "progress")
    assert {d["step"] for k, d in seen if k == "checkpoint"} >= {2, 4}
    assert "log" in kinds
    done = seen[-1][1]
    adapter = Path(done["adapter_path"])
    assert (adapter / "adapter_model.safetensors").is_file()

    async def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/api/training/jobs/{job['id']}", headers=headers)
        ).json()
        return body if body["status"] == "succeeded" and body["result_model_id"] else None

    final = await _eventually(finished)
    assert final["swanlab_run_id"] == job["id"]
    assert any(Path(platform.settings.data_dir).rglob(f"run-*-{job['id']}"))
    report = await client.get(final["report_url"], headers=headers)
    assert report.status_code == 200
    assert "data:image/png;base64," in report.text
    markdown = await client.get(f"{final['report_url']}?format=markdown", headers=headers)
    assert "## Hyperparameters" in markdown.text
    metrics = (await client.get(f"/api/training/jobs/{job['id']}/metrics", headers=headers)).json()
    assert [p["step"] for p in metrics["points"]] == [1, 2, 3, 4]

    # From job to model: the adapter is a model config; serve it and chat through /v1.
    model_id = final["result_model_id"]
    started = await client.post(f"/api/models/{model_id}/serve", headers=headers)
    assert started.status_code == 202, started.text

    async def running() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/api/models/{model_id}/serve", headers=headers)
        ).json()
        assert body["status"] in ("starting", "running"), body
        return body if body["status"] == "running" and body["healthy"] else None

    await _eventually(running, timeout=180)
    key = await personal_key(client, headers)
    alias = (await client.get(f"/api/models/{model_id}", headers=headers)).json()["alias"]
    chunks: list[str] = []

    async def answer() -> bool:
        chunks.clear()
        async with client.stream(
            "POST",
            "/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "model": alias,
                "stream": True,
                "max_tokens": 12,
                "messages": [{"role": "user", "content": "What is 3 times 4?"}],
            },
        ) as response:
            if response.status_code == 404:  # the resolver cache has not seen it yet
                return False
            assert response.status_code == 200, await response.aread()
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    delta = json.loads(line[6:])["choices"]
                    if delta and delta[0]["delta"].get("content"):
                        chunks.append(delta[0]["delta"]["content"])
        return True

    await _eventually(answer, timeout=30)
    assert "".join(chunks).strip()
    logs = (await client.get(f"/api/models/{model_id}/serve/logs", headers=headers)).json()
    assert logs["lines"]
    stopped = await client.delete(f"/api/models/{model_id}/serve", headers=headers)
    assert stopped.status_code == 202

    async def gone() -> bool:
        body = (await client.get(f"/api/models/{model_id}/serve", headers=headers)).json()
        return bool(body["status"] == "stopped")

    await _eventually(gone, timeout=30)

    # Export: the adapter merged into its base becomes a standalone local model.
    exported = await client.post(f"/api/models/{model_id}/export", headers=headers)
    assert exported.status_code == 202, exported.text
    merged_alias = exported.json()["alias"]

    async def merged() -> ModelConfig | None:
        async with platform.services.session_factory() as session:
            found: ModelConfig | None = await session.scalar(
                select(ModelConfig).where(ModelConfig.alias == merged_alias)
            )
            return found

    config = await _eventually(merged, timeout=120)
    assert config.kind == "local"
    assert Path(config.local_path, "model.safetensors").is_file()
    assert json.loads(Path(config.local_path, "llmforge.json").read_text())["template"] == "smollm2"
    again = await client.post(f"/api/models/{model_id}/export", headers=headers)
    assert again.json()["code"] == "already_exported"


async def test_cancel_stops_the_trainer_process_group_within_seconds(
    trained: tuple[Platform, httpx.AsyncClient, dict[str, str], str],
) -> None:
    _, client, headers, base = trained
    dataset = await upload(client, headers, "sharegpt_chat.jsonl")
    job = await submit(client, headers, base, [dataset], max_steps=500, save_steps=1000)
    state: dict[str, Any] = {}

    async def cancel_on_first_step(kind: str, data: dict[str, Any]) -> None:
        if kind == "started":
            state["pid"] = data["pid"]
        if kind == "progress" and "asked" not in state:
            state["asked"] = time.monotonic()
            response = await client.post(f"/api/training/jobs/{job['id']}/cancel", headers=headers)
            assert response.status_code == 202

    seen = await follow(client, headers, job["id"], terminal, on_event=cancel_on_first_step)
    assert seen[-1][0] == "cancelled"
    assert time.monotonic() - state["asked"] < 15
    assert not pid_alive(state["pid"])
    body = await _eventually(_status(client, headers, job["id"], "cancelled"))
    assert body["status"] == "cancelled"
    again = await client.post(f"/api/training/jobs/{job['id']}/cancel", headers=headers)
    assert again.status_code == 409


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _worker(platform: Platform, nats_url: str, log: Path) -> subprocess.Popen[bytes]:
    """A real `llmforge worker --only training` process (so it can be SIGKILLed)."""
    settings = platform.settings
    env = {
        **os.environ,
        "LLMFORGE_TRAINING_ACK_WAIT": "3",
        "LLMFORGE_LOG_FORMAT": "json",
        "LLMFORGE_TRAINING_CPU_THREADS": "1",
    }
    cli = Path(sys.executable).with_name("llmforge")
    return subprocess.Popen(
        [
            str(cli),
            "worker",
            "--only",
            "training",
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.database_url,
            "--nats-url",
            nats_url,
        ],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def test_worker_killed_mid_run_resumes_from_its_last_checkpoint(
    platform_factory: PlatformFactory,
    platform_nats_url: str,
    smollm2: Path,
    workers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    # The API process runs no trainer: the job goes to the worker processes.
    platform = await platform_factory(Roles(only=frozenset({"training-projection"})))
    async with httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
        headers = await login(platform, client, "resume@example.com")
        base = await register_base(platform, smollm2)
        dataset = await upload(client, headers, "alpaca_math.json")
        workers.append(_worker(platform, platform_nats_url, tmp_path / "worker1.log"))
        job = await submit(client, headers, base, [dataset], max_steps=8, save_steps=2)
        first: dict[str, Any] = {}

        def kill_after_checkpoint(kind: str, data: dict[str, Any], seen: Seen) -> bool:
            if kind == "started":
                first["pid"] = data["pid"]
            return kind == "checkpoint"

        await follow(client, headers, job["id"], kill_after_checkpoint)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        # The trainer dies with its worker (parent-death signal): no second run beside it.
        await _eventually(lambda: _async(not pid_alive(first["pid"])), timeout=10)
        workers.append(_worker(platform, platform_nats_url, tmp_path / "worker2.log"))
        seen = await follow(client, headers, job["id"], terminal, timeout=480)
        starts = [d for k, d in seen if k == "started"]
        assert len(starts) == 2, [k for k, _ in seen]
        assert starts[0]["resumed_from_checkpoint"] is None
        assert starts[1]["resumed_from_checkpoint"].rsplit("/", 1)[-1].startswith("checkpoint-")
        assert starts[1]["attempt"] == 2
        assert [k for k, _ in seen].count("completed") == 1
        after = [
            d["step"] for k, d in seen[seen.index(("started", starts[1])) :] if k == "progress"
        ]
        assert after
        assert min(after) > 1
        body = await _eventually(_status(client, headers, job["id"], "succeeded"))
        assert body["attempts"] == 2
        assert body["progress"]["resumed_from"]


async def _async(value: Any) -> Any:
    return value


def _status(
    client: httpx.AsyncClient, headers: dict[str, str], job_id: str, status: str
) -> Callable[[], Any]:
    async def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/api/training/jobs/{job_id}", headers=headers)
        ).json()
        return body if body["status"] == status else None

    return probe


async def _eventually(probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


def test_add_smollm2_registers_the_local_base_model_once(
    smollm2: Path, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from runtime.cli import main

    data_dir = tmp_path / "data"
    (data_dir / "models").mkdir(parents=True)
    # The folder made for this module stands in for the conversion (tested by using it).
    (data_dir / "models" / "smollm2-135m-instruct").symlink_to(smollm2, target_is_directory=True)
    argv = ["models", "add-smollm2", "--data-dir", str(data_dir), "--database-url", database_url]
    assert main(argv) == 0
    assert main(argv) == 0
    assert "registered local base model smollm2-135m-instruct" in capsys.readouterr().out
    db = sqlite3.connect(database_url.split("///", 1)[1])
    rows = db.execute(
        "SELECT kind, local_path FROM model_configs WHERE alias = 'smollm2-135m-instruct'"
    ).fetchall()
    assert len(rows) == 1
    assert rows[0][0] == "local"
    assert Path(rows[0][1], "llmforge.json").is_file()
