"""A worker dies mid-indexing and mid-training: the work comes back, completes, counts once.

The killed worker is restarted by the supervisor (compose's ``restart: unless-stopped``);
JetStream redelivers the unacknowledged message after its ack wait (3 s here).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.db import create_engine, create_session_factory
from runtime.db.models import ModelConfig
from runtime.vectors.edge import EdgeVectorStore
from tests.fixtures.nats import eventually
from tests.integration.test_training_e2e import DATA as TRAINING_DATA
from tests.scaleout.clients import Endpoints, FeedReader
from tests.scaleout.deployment import Deployment

pytestmark = pytest.mark.scaleout

# Converted once per machine (about 20 s), as the local embedding model is exported once.
SMOLLM2_CACHE = Path(
    os.environ.get("LLMFORGE_TEST_SMOLLM2_DIR")
    or Path(tempfile.gettempdir()) / "llmforge-test-smollm2"
)


def long_document(paragraphs: int = 100) -> bytes:
    """Plain text of distinct paragraphs: many chunks, so a kill lands between batches."""
    words = ["reactor", "coolant", "valve", "pressure", "turbine", "sensor", "loop", "pump"]
    lines = []
    for n in range(paragraphs):
        body = " ".join(f"{words[(n + i) % len(words)]}{(n * 7 + i) % 97}" for i in range(60))
        lines.append(f"Section {n}. The {words[n % len(words)]} log records {body}.")
    return "\n\n".join(lines).encode()


def _events(feed: FeedReader, short: str) -> list[dict[str, Any]]:
    return [e for e in feed.events if e["type"] == f"llmforge.{short}.v1"]


async def test_worker_killed_mid_indexing_redelivers_and_indexes_once(healthy: Deployment) -> None:
    d = healthy
    async with httpx.AsyncClient(base_url=d.api(1).url, timeout=30) as http:
        headers = await d.login(http, "indexer@example.com")
        feed = FeedReader(Endpoints([d.api(1).url]), headers, "knowledge.document.>")
        reading = asyncio.create_task(feed.run(http))
        try:
            await asyncio.wait_for(feed.ready.wait(), 10)
            kb = await http.post(
                "/api/knowledge-bases",
                headers=headers,
                json={"name": "big", "chunk_size": 100, "chunk_overlap": 0},
            )
            assert kb.status_code == 201, kb.text
            kb_id = kb.json()["id"]
            files = {"file": ("log.txt", long_document(), "text/plain")}
            upload = await http.post(
                f"/api/knowledge-bases/{kb_id}/documents", headers=headers, files=files
            )
            assert upload.status_code == 202, upload.text
            doc_id = upload.json()["id"]

            def embedding_started() -> bool:
                return any(
                    0 < e["data"]["chunks_done"] < e["data"]["chunks_total"]
                    for e in _events(feed, "knowledge.document.indexing")
                )

            await eventually(embedding_started, within=90, message="indexing never progressed")
            d.worker.kill()
            first_pass = [
                e["data"]["chunks_done"] for e in _events(feed, "knowledge.document.indexing")
            ]
            d.worker.start()
            await d.worker.wait_ready()

            async def indexed() -> dict[str, Any] | None:
                body: dict[str, Any] = (
                    await http.get(
                        f"/api/knowledge-bases/{kb_id}/documents/{doc_id}", headers=headers
                    )
                ).json()
                assert body["status"] != "failed", body
                return body if body["status"] == "indexed" else None

            doc = await eventually(indexed, within=120, message="document not indexed")
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

    total = doc["num_chunks"]
    assert max(first_pass) < total, "the kill came after the last batch"
    [row] = await d.sql("SELECT index_attempts FROM documents WHERE id = $1", doc_id)
    assert row["index_attempts"] == 2
    outcomes = [
        e.type
        for e in await d.stream_events("LLMFORGE_KNOWLEDGE")
        if e.subject == doc_id and e.type.endswith((".indexed.v1", ".failed.v1"))
    ]
    assert outcomes == ["llmforge.knowledge.document.indexed.v1"]
    # Deterministic point ids: the points of the killed attempt were overwritten, not added.
    # The embedded store admits one process: count while its worker is stopped.
    d.worker.stop()
    store = EdgeVectorStore(d.data_dir / "vectors")
    try:
        assert await store.count(document_id=doc_id) == total
    finally:
        await store.close()
        d.worker.start()


async def register_base(d: Deployment, path: Path, alias: str) -> str:
    engine = create_engine(d.database_url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with create_session_factory(engine)() as session:
            row = ModelConfig(
                alias=alias, model_id=alias, name="SmolLM2-135M", kind="local", local_path=str(path)
            )
            session.add(row)
            await session.commit()
            return row.id
    finally:
        await engine.dispose()


async def test_trainer_killed_mid_training_resumes_from_its_checkpoint_once(
    healthy: Deployment,
) -> None:
    from trainer import smollm2

    d = healthy
    base_path = await asyncio.to_thread(smollm2.ensure, SMOLLM2_CACHE)
    base = await register_base(d, base_path, "smollm2-scaleout")
    async with httpx.AsyncClient(base_url=d.api(0).url, timeout=30) as http:
        headers = await d.login(http, "trainer@example.com")
        feed = FeedReader(
            Endpoints([d.api(0).url]),
            headers,
            "training.job.started,training.job.checkpoint,training.job.completed,"
            "training.job.failed,training.job.progress",
        )
        reading = asyncio.create_task(feed.run(http))
        try:
            await asyncio.wait_for(feed.ready.wait(), 10)
            name = "alpaca_math.json"
            dataset = await http.post(
                "/api/datasets",
                headers=headers,
                files={"file": (name, (TRAINING_DATA / name).read_bytes(), "application/json")},
                data={"name": name},
            )
            assert dataset.status_code == 201, dataset.text
            job = await http.post(
                "/api/training/jobs",
                headers=headers,
                json={
                    "base_model_id": base,
                    "dataset_ids": [dataset.json()["id"]],
                    "per_device_train_batch_size": 2,
                    "gradient_accumulation_steps": 1,
                    "cutoff_len": 64,
                    "lr_scheduler_type": "constant",
                    "max_steps": 3,
                    "save_steps": 1,
                },
            )
            assert job.status_code == 202, job.text
            job_id = job.json()["id"]

            def of_job(short: str) -> list[dict[str, Any]]:
                return [
                    e["data"]
                    for e in _events(feed, f"training.job.{short}")
                    if e["subject"] == job_id
                ]

            await eventually(lambda: of_job("checkpoint"), within=150, message="no checkpoint")
            d.trainer.kill()
            killed_at = max(c["step"] for c in of_job("checkpoint"))
            d.trainer.start()
            await d.trainer.wait_ready()
            await eventually(
                lambda: of_job("completed") or of_job("failed"), within=150, message="not finished"
            )
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)

        assert of_job("failed") == []
        starts = of_job("started")
        assert [s["attempt"] for s in starts] == [1, 2]
        assert starts[0]["resumed_from_checkpoint"] is None
        assert starts[1]["resumed_from_checkpoint"].rsplit("-", 1)[-1].isdigit()
        assert len(of_job("completed")) == 1
        # The second attempt went on from its checkpoint: no step up to it ran again.
        resumed = int(starts[1]["resumed_from_checkpoint"].rsplit("-", 1)[-1])
        assert 1 <= resumed <= killed_at
        mine = [e for e in feed.events if e["subject"] == job_id]
        second = next(
            i
            for i, e in enumerate(mine)
            if e["type"].endswith("started.v1") and e["data"]["attempt"] == 2
        )
        after = [e["data"]["step"] for e in mine[second:] if e["type"].endswith("progress.v1")]
        assert after
        assert min(after) > resumed

        async def succeeded() -> dict[str, Any] | None:
            body: dict[str, Any] = (
                await http.get(f"/api/training/jobs/{job_id}", headers=headers)
            ).json()
            return body if body["status"] == "succeeded" else None

        body = await eventually(succeeded, within=30, message="job not succeeded")
        assert body["attempts"] == 2
        metrics = (await http.get(f"/api/training/jobs/{job_id}/metrics", headers=headers)).json()
        assert [p["step"] for p in metrics["points"]] == [1, 2, 3]
    completed = [
        e
        for e in await d.stream_events("LLMFORGE_TRAINING")
        if e.subject == job_id and e.type == "llmforge.training.job.completed.v1"
    ]
    assert len(completed) == 1
