"""Evaluation of a finished job with fake providers as base, fine-tuned and judge models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.training import JobCompleted, JobCompletedData, JobSpec
from handlers.compare.ratings import wilson_interval
from handlers.evaluation.service import plan_for_job
from handlers.training.schemas import EvaluationSpec
from runtime.db.models import ModelConfig, TrainingJob
from runtime.platform import Platform, Roles
from tests.fixtures.app import PlatformFactory
from tests.integration.evaluation_support import (
    ScriptedFake,
    always_first,
    fake_models,
    is_judge_call,
    judged_answers,
    prefers,
)
from tests.integration.gateway_support import eventually, login
from tests.integration.test_training_api import _dataset, fake_model
from trainer.report import write_report

BASE = "I think it is four."
TUNED = "2 + 2 = 4, fine-tuned and sure."
PROMPTS = ["What is 2 + 2?", "And 3 + 3?", "Name a prime."]


@pytest.fixture
async def fake() -> AsyncIterator[ScriptedFake]:
    answers = {"base": BASE, "tuned": TUNED, "judge": "", "biased": ""}
    async with ScriptedFake(answers, judge=prefers("fine-tuned")) as server:
        yield server


@pytest.fixture
async def biased() -> AsyncIterator[ScriptedFake]:
    async with ScriptedFake({"first": ""}, judge=always_first) as server:
        yield server


@dataclass
class Env:
    platform: Platform
    client: httpx.AsyncClient
    admin: dict[str, str]
    user: dict[str, str]
    user_id: str
    ids: dict[str, str]


@pytest.fixture
async def env(platform_factory: PlatformFactory, fake: ScriptedFake) -> AsyncIterator[Env]:
    # No trainer: jobs are made by hand (or stay queued), and finish by injected events.
    roles = Roles(only=frozenset({"audit", "usage", "training-projection", "evaluation"}))
    platform = await platform_factory(roles)
    async with httpx.AsyncClient(base_url=platform.url, timeout=20) as client:
        admin = await login(platform, client, "root@example.com", "admin")
        user = await login(platform, client, "owner@example.com")
        me = (await client.get("/api/auth/me", headers=user)).json()["id"]
        ids = await fake_models(client, admin, fake)
        yield Env(platform, client, admin, user, me, ids)


async def _job(env: Env, tmp_path: Path, *, status: str = "succeeded") -> TrainingJob:
    """A job whose training is over: the fake 'tuned' model stands for its adapter."""
    async with env.platform.services.session_factory() as session:
        job = TrainingJob(
            owner_id=env.user_id,
            base_model_id=env.ids["base"],
            status=status,
            dataset_ids=[],
            hyperparameters={},
            progress={},
            result_model_id=env.ids["tuned"],
        )
        session.add(job)
        await session.commit()
    spec = JobSpec(
        base_model_id=env.ids["base"], base_model_path="base", datasets=[], output_dir="out"
    )
    report = write_report(job.id, spec, [], 1.0, tmp_path / job.id / "report")
    async with env.platform.services.session_factory() as session:
        row = await session.get(TrainingJob, job.id)
        assert row is not None
        row.report_path = str(report) if status == "succeeded" else None
        await session.commit()
        return row


async def _evaluation(
    env: Env, job_id: str, status: str = "completed", run: int | None = None
) -> dict[str, Any]:
    async def settled() -> dict[str, Any] | None:
        response = await env.client.get(f"/api/training/jobs/{job_id}/evaluation", headers=env.user)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        done = body["status"] in ("completed", "failed") and (run is None or body["run"] == run)
        return body if done else None

    body: dict[str, Any] = await eventually(settled, timeout=30)
    assert body["status"] == status, body
    return body


async def test_a_finished_job_is_evaluated_with_both_orders_judged_and_reported(
    env: Env, fake: ScriptedFake, tmp_path: Path
) -> None:
    job = await _job(env, tmp_path, status="running")
    report_path = str(tmp_path / job.id / "report" / "report.html")
    async with env.platform.services.session_factory() as session:
        spec = EvaluationSpec(prompts=PROMPTS, judge_model_id=env.ids["judge"], max_tokens=32)
        row = await session.get(TrainingJob, job.id)
        assert row is not None
        await plan_for_job(session, row, spec)
        await session.commit()
    pending = await env.client.get(f"/api/training/jobs/{job.id}/evaluation", headers=env.user)
    assert pending.json()["status"] == "pending"

    done = JobCompleted(
        subject=job.id,
        data=JobCompletedData(
            job_id=job.id,
            owner_id=env.user_id,
            adapter_path=str(tmp_path / "adapter"),
            base_model_id=env.ids["base"],
            finetuning_type="lora",
            template="smollm2",
            duration_seconds=1.0,
            report_path=report_path,
        ),
    )
    await env.platform.services.bus.publish(done)
    body = await _evaluation(env, job.id)

    assert (body["run"], body["source"], body["total"], body["done"]) == (1, "prompts", 3, 3)
    assert (body["base_model_id"], body["tuned_model_id"]) == (env.ids["base"], env.ids["tuned"])
    examples = body["examples"]
    assert [e["prompt"] for e in examples] == PROMPTS
    for example in examples:
        assert (example["base_output"], example["tuned_output"]) == (BASE, TUNED)
        assert example["verdicts"] == {"base_first": "B", "tuned_first": "A"}
        assert example["outcome"] == "win"
        for side, text in (("base", BASE), ("tuned", TUNED)):
            metrics = example[side]
            assert metrics["status"] == "ok"
            assert metrics["output_tokens"] == len(text.split())
            assert metrics["input_tokens"] == 11
            assert metrics["latency_ms"] > 0
            assert metrics["ttft_ms"] is not None
    summary = body["summary"]
    low, high = wilson_interval(3, 3)
    assert summary["win_rate"] == 1.0
    assert (summary["ci_low"], summary["ci_high"]) == (round(low, 4), round(high, 4))
    assert (summary["wins"], summary["losses"], summary["ties"], summary["unjudged"]) == (
        3,
        0,
        0,
        0,
    )
    assert summary["tuned"]["total_output_tokens"] == 3 * len(TUNED.split())
    assert summary["base"]["mean_latency_ms"] > 0

    # Each example was judged twice: base shown first, then the fine-tuned answer first.
    judged = [judged_answers(r) for r in fake.requests if is_judge_call(r)]
    assert judged == [{"A": BASE, "B": TUNED}, {"A": TUNED, "B": BASE}] * 3
    generated = fake.chat_requests("tuned")
    assert all(r.json["temperature"] == 0.0 and r.json["max_tokens"] == 32 for r in generated)

    markdown = await env.client.get(
        f"/api/training/jobs/{job.id}/report", params={"format": "markdown"}, headers=env.user
    )
    assert "## Evaluation" in markdown.text
    assert "fine-tuned win rate: 100.0 %" in markdown.text
    assert "| 0 | What is 2 + 2? | I think it is four. |" in markdown.text
    page = await env.client.get(f"/api/training/jobs/{job.id}/report", headers=env.user)
    assert "<h2>Evaluation</h2>" in page.text

    async def announced() -> list[dict[str, Any]] | None:
        page = (
            await env.client.get(
                "/api/admin/audit",
                params={"type": "llmforge.training.evaluation.completed"},
                headers=env.admin,
            )
        ).json()
        return page["items"] or None

    (event,) = await eventually(announced)
    assert event["subject"] == job.id
    assert event["data"]["win_rate"] == 1.0
    assert event["data"]["owner_id"] == env.user_id

    # A redelivered job event changes nothing: one evaluation per job.
    calls = len(fake.requests)
    bus = env.platform.services.bus
    again = await bus.publish(JobCompleted(subject=job.id, data=done.data))

    async def passed() -> bool:
        info = await bus.js.consumer_info("LLMFORGE_TRAINING", "llmforge-training-evaluator")
        return bool(info.ack_floor.stream_seq >= again.seq)

    await eventually(passed)
    assert len(fake.requests) == calls
    assert (await _evaluation(env, job.id))["finished_at"] == body["finished_at"]


async def test_a_rerun_with_a_position_biased_judge_gives_ties_not_wins(
    env: Env, biased: ScriptedFake, tmp_path: Path
) -> None:
    (judge,) = (await fake_models(env.client, env.admin, biased, name="biased")).values()
    job = await _job(env, tmp_path)
    first = await env.client.post(
        f"/api/training/jobs/{job.id}/evaluation",
        json={"prompts": PROMPTS[:2], "judge_model_id": judge, "max_tokens": 16},
        headers=env.user,
    )
    assert first.status_code == 202, first.text
    assert (first.json()["status"], first.json()["run"]) == ("pending", 1)
    body = await _evaluation(env, job.id, run=1)
    assert [e["verdicts"] for e in body["examples"]] == [
        {"base_first": "A", "tuned_first": "A"}
    ] * 2
    assert [e["outcome"] for e in body["examples"]] == ["tie", "tie"]
    assert body["summary"]["win_rate"] == 0.5

    # Absent fields keep their settings; null drops the judge: outputs and speed only.
    second = await env.client.post(
        f"/api/training/jobs/{job.id}/evaluation",
        json={"judge_model_id": None, "max_examples": 1},
        headers=env.user,
    )
    assert second.status_code == 202
    body = await _evaluation(env, job.id, run=2)
    assert body["settings"]["prompts"] == PROMPTS[:2]
    assert body["settings"]["max_tokens"] == 16
    assert len(body["examples"]) == 1
    assert body["examples"][0]["outcome"] is None
    assert body["examples"][0]["verdicts"] == {}
    assert body["summary"]["judge"] is False
    assert "win_rate" not in body["summary"]
    assert body["summary"]["tuned"]["answers"] == 1


async def test_a_model_that_cannot_answer_fails_the_evaluation_with_its_reason(
    env: Env, tmp_path: Path
) -> None:
    job = await _job(env, tmp_path)
    disabled = await env.client.patch(
        f"/api/models/{env.ids['tuned']}", json={"enabled": False}, headers=env.admin
    )
    assert disabled.status_code == 200
    started = await env.client.post(
        f"/api/training/jobs/{job.id}/evaluation", json={"prompts": PROMPTS}, headers=env.user
    )
    assert started.status_code == 202
    body = await _evaluation(env, job.id, status="failed")
    assert "tuned is disabled or has no provider" in body["error"]
    assert body["examples"] == []

    async def announced() -> list[dict[str, Any]] | None:
        page = (
            await env.client.get(
                "/api/admin/audit",
                params={"type": "llmforge.training.evaluation.failed"},
                headers=env.admin,
            )
        ).json()
        return page["items"] or None

    (event,) = await eventually(announced)
    assert "tuned is disabled" in event["data"]["error"]


async def test_evaluation_routes_refuse_what_cannot_be_evaluated(env: Env, tmp_path: Path) -> None:
    running = await _job(env, tmp_path, status="running")
    url = f"/api/training/jobs/{running.id}/evaluation"
    missing = await env.client.get(url, headers=env.user)
    assert (missing.status_code, missing.json()["code"]) == (404, "evaluation_not_found")
    early = await env.client.post(url, json={"prompts": PROMPTS}, headers=env.user)
    assert (early.status_code, early.json()["code"]) == (409, "job_not_succeeded")

    job = await _job(env, tmp_path)
    url = f"/api/training/jobs/{job.id}/evaluation"

    async def code(body: dict[str, Any]) -> tuple[int, str]:
        response = await env.client.post(url, json=body, headers=env.user)
        return response.status_code, response.json()["code"]

    assert await code({"prompts": PROMPTS, "judge_model_id": "nope"}) == (
        422,
        "unknown_judge_model",
    )
    # No prompts and no dataset with a validation split: nothing to ask the models.
    assert await code({}) == (422, "no_evaluation_prompts")
    assert await code({"prompts": []}) == (400, "validation_failed")
    assert await code({"prompts": PROMPTS, "max_examples": 0}) == (400, "validation_failed")
    assert (await env.client.get(url, headers=env.user)).status_code == 404

    stranger = await login(env.platform, env.client, "stranger@example.com")
    hidden = await env.client.post(url, json={"prompts": PROMPTS}, headers=stranger)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "job_not_found")


async def test_job_requests_carry_their_evaluation_settings(env: Env, tmp_path: Path) -> None:
    folder = fake_model(tmp_path / "model")
    async with env.platform.services.session_factory() as session:
        base = ModelConfig(
            alias="tiny", model_id="tiny", name="Tiny", kind="local", local_path=str(folder)
        )
        session.add(base)
        await session.commit()
    dataset = await _dataset(env.client, env.user, base.id)

    async def submit(**extra: Any) -> httpx.Response:
        body = {"base_model_id": base.id, "dataset_ids": [dataset], "max_steps": 1, **extra}
        return await env.client.post("/api/training/jobs", json=body, headers=env.user)

    refused = await submit(evaluation={"judge_model_id": env.ids["judge"]})
    assert (refused.status_code, refused.json()["code"]) == (422, "no_evaluation_prompts")
    refused = await submit(evaluation={"prompts": PROMPTS, "judge_model_id": "nope"})
    assert (refused.status_code, refused.json()["code"]) == (422, "unknown_judge_model")

    accepted = await submit(
        evaluation={"prompts": PROMPTS, "judge_model_id": env.ids["judge"], "max_examples": 2}
    )
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert "evaluation" not in job["hyperparameters"]  # not a LLaMA-Factory argument
    stored = (
        await env.client.get(f"/api/training/jobs/{job['id']}/evaluation", headers=env.user)
    ).json()
    assert stored["status"] == "pending"
    assert stored["settings"] == {
        "prompts": PROMPTS,
        "judge_model_id": env.ids["judge"],
        "max_examples": 2,
        "max_tokens": 256,
    }
    # An uploaded dataset has no validation split: without settings, nothing is planned.
    plain = (await submit()).json()
    off = (await submit(evaluation={"enabled": False, "prompts": PROMPTS})).json()
    for other in (plain, off):
        response = await env.client.get(
            f"/api/training/jobs/{other['id']}/evaluation", headers=env.user
        )
        assert response.status_code == 404
    for created in (job, plain, off):
        cancel = await env.client.post(
            f"/api/training/jobs/{created['id']}/cancel", headers=env.user
        )
        assert cancel.status_code == 202
