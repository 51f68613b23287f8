"""The closed loop in the browser: rated chat answers become a reviewed, scrubbed dataset with
a validation split; stable aliases are promoted, rolled back and their history read; a
finished job is evaluated against its base with a judge (win rate and interval).

No real training: the evaluated job is a finished job row whose "fine-tuned" model is the
fake reasoner (as tests/integration/test_evaluation.py does), so the evaluator, the gateway
and the judge run for real against the fake provider.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from runtime.db.models import TrainingJob
from tests.browser.conftest import RunningPlatform

EVALUATED_WITHIN = 90_000


def poll(probe: Callable[[], Any], within: float = 30.0) -> Any:
    """The first truthy result of ``probe``; bounded."""
    deadline = time.monotonic() + within
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing within {within} s")
        time.sleep(0.2)


def rated_chat_answer(web_platform: RunningPlatform, question: str) -> str:
    """Ask the fake chat model through the API and rate its answer up; the answer's id."""
    api = web_platform.api
    session = api.post(
        "/api/chat/sessions", json={"model_config_id": web_platform.models["fake-chat"]}
    )
    session.raise_for_status()
    turn = api.post(
        f"/api/chat/sessions/{session.json()['id']}/messages", json={"content": question}
    )
    turn.raise_for_status()
    answer_id = ""
    for block in turn.text.replace("\r\n", "\n").split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines.get("event") == "start":
            answer_id = json.loads(lines["data"])["assistant_message_id"]
    assert answer_id, turn.text

    def rate() -> bool:
        # 404 until the persistence consumer has written the answer.
        response = api.post(f"/api/chat/messages/{answer_id}/rating", json={"rating": 1})
        return response.status_code == 200

    poll(rate)
    return answer_id


def test_rated_answers_are_reviewed_and_saved_as_a_split_dataset(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    marker = uuid.uuid4().hex[:8]
    kept_question = f"Loop {marker}: write to ann@example.com about the weather?"
    left_question = f"Loop {marker}: a question to leave out?"
    rated_chat_answer(web_platform, kept_question)
    rated_chat_answer(web_platform, left_question)

    page.get_by_test_id("nav-collect").click()
    expect(page).to_have_url(re.compile(r"/collect$"))
    page.get_by_test_id("collect-preview").click()
    result = page.get_by_test_id("collect-result")
    expect(result).to_be_visible()
    rows = page.get_by_test_id("collect-pair")
    kept = rows.filter(has_text=f"Loop {marker}: write to")
    left = rows.filter(has_text=f"Loop {marker}: a question")
    # The e-mail is masked before anyone sees it, and counted.
    expect(kept.get_by_test_id("collect-pair-instruction")).to_contain_text("[EMAIL]")
    expect(kept.get_by_test_id("collect-pair-instruction")).not_to_contain_text("ann@example.com")
    expect(kept.get_by_test_id("collect-pair-output")).to_have_text("Hello! I am a **fake** model.")
    expect(page.get_by_test_id("collect-scrub-summary")).to_contain_text(
        re.compile(r"E-mails [1-9]")
    )
    total = rows.count()
    assert total >= 2
    expect(page.get_by_test_id("collect-kept")).to_contain_text(str(total))

    # Review: leave one pair out, edit the other's output.
    left.get_by_test_id("collect-keep").click()
    expect(page.get_by_test_id("collect-kept")).to_contain_text(str(total - 1))
    kept.locator(".el-table__expand-icon").click()
    edit = page.get_by_test_id("collect-edit-output")
    edit.fill("It is sunny, reviewed.")
    expect(kept.get_by_test_id("collect-pair-output")).to_have_text("It is sunny, reviewed.")
    shoot(page, "loop-collect-review")

    name = f"loop-{marker}"
    page.get_by_test_id("collect-name").fill(name)
    page.get_by_test_id("collect-create").click()
    created = page.get_by_test_id("collect-created")
    expect(created).to_contain_text(f"Dataset “{name}” v1 is ready")
    expect(page.get_by_test_id("collect-created-summary")).to_contain_text("training records")
    # Nobody registered a local base model here: the one-action train says how to.
    expect(page.get_by_test_id("collect-train-nobase")).to_contain_text("add-smollm2")
    shoot(page, "loop-collect-created")

    # The stored dataset: the edit is in it, the left-out pair is not; a split is linked.
    stored = web_platform.api.get("/api/datasets", params={"name": name}).json()["items"]
    assert len(stored) == 1
    split = stored[0]["stats"]["split"]
    assert split["role"] == "train"
    assert split["train_records"] + split["validation_records"] == total - 1
    page.get_by_test_id("collect-open-dataset").click()
    drawer = page.locator(".el-drawer")
    expect(drawer).to_be_visible()
    records = drawer.get_by_test_id("dataset-record")
    expect(records.first).to_be_visible()
    expect(drawer).not_to_contain_text(left_question)
    page.keyboard.press("Escape")

    page.goto(f"{web_platform.base_url}/datasets")
    # The dataset, and beside it its validation split under a name of its own.
    exact = page.locator("strong", has_text=re.compile(f"^{re.escape(name)}$"))
    expect(page.get_by_test_id("dataset-row").filter(has=exact)).to_have_count(1)


def test_an_alias_is_promoted_rolled_back_and_keeps_its_history(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    alias = f"assistant-{uuid.uuid4().hex[:6]}"
    seeded = web_platform.api.put(
        f"/api/models/aliases/{alias}",
        json={"model_config_id": web_platform.models["fake-chat"]},
    )
    assert seeded.status_code == 201, seeded.text

    page.get_by_test_id("nav-aliases").click()
    row = page.get_by_test_id("alias-row").filter(has_text=alias)
    expect(row.get_by_test_id("alias-target")).to_contain_text("Fake Chat")
    expect(row.get_by_test_id("alias-servable")).to_have_text("answers")
    expect(row.get_by_test_id("alias-rollback")).to_be_disabled()

    # Promote the reasoner: the chat model becomes the rollback target.
    row.get_by_test_id("alias-promote").click()
    dialog = page.locator(".el-dialog")
    dialog.get_by_test_id("alias-model").click()
    page.get_by_test_id("alias-model-option-fake-reasoner").click()
    dialog.get_by_test_id("alias-save").click()
    expect(dialog).to_be_hidden()
    expect(row.get_by_test_id("alias-target")).to_contain_text("Fake Reasoner")
    expect(row.get_by_test_id("alias-previous")).to_contain_text("Fake Chat")

    # A stable alias may not take another model config's alias: the problem is shown.
    page.get_by_test_id("alias-new").click()
    dialog.get_by_test_id("alias-input").fill("fake-chat")
    dialog.get_by_test_id("alias-model").click()
    page.get_by_test_id("alias-model-option-fake-reasoner").click()
    dialog.get_by_test_id("alias-save").click()
    expect(dialog.get_by_test_id("alias-error")).to_contain_text("would hide it")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    # Roll back: the chat model answers again.
    row.get_by_test_id("alias-rollback").click()
    page.locator(".el-message-box").get_by_role("button", name="Roll back").click()
    expect(row.get_by_test_id("alias-target")).to_contain_text("Fake Chat")
    expect(row.get_by_test_id("alias-rollback")).to_be_disabled()

    row.get_by_test_id("alias-history").click()
    changes = page.get_by_test_id("alias-change")
    expect(changes).to_have_count(3)
    assert [changes.nth(i).get_attribute("data-action") for i in range(3)] == [
        "rolled_back",
        "promoted",
        "promoted",
    ]
    expect(changes.first).to_contain_text("Fake Reasoner")
    expect(changes.first).to_contain_text("Fake Chat")
    shoot(page, "loop-alias-history")
    page.keyboard.press("Escape")
    shoot(page, "loop-aliases")


def finished_job(web_platform: RunningPlatform, status: str) -> str:
    """A job row whose training is over, the fake reasoner standing for its adapter."""
    me = web_platform.api.get("/api/auth/me").json()["id"]
    engine = create_engine(f"sqlite:///{web_platform.data_dir / 'llmforge.db'}")
    try:
        with Session(engine) as session:
            job = TrainingJob(
                owner_id=me,
                base_model_id=web_platform.models["fake-chat"],
                status=status,
                dataset_ids=[],
                hyperparameters={},
                progress={},
                result_model_id=web_platform.models["fake-reasoner"]
                if status == "succeeded"
                else None,
            )
            session.add(job)
            session.commit()
            return job.id
    finally:
        engine.dispose()


@pytest.fixture
def tie_judge(web_platform: RunningPlatform) -> Iterator[None]:
    """Every fake answer ends with a tie verdict (so the judge's reply is readable)."""
    fake = web_platform.fake
    assert fake is not None
    before = fake.scenario
    fake.scenario = dataclasses.replace(
        before, tokens=["Both answers ", "are equally good.", "\nVERDICT: TIE"], token_delay=0.0
    )
    yield
    fake.scenario = before


def test_a_finished_job_is_evaluated_against_its_base_with_a_judge(
    logged_in_page: Page,
    web_platform: RunningPlatform,
    tie_judge: None,
    shoot: Callable[[Page, str], Path],
) -> None:
    page = logged_in_page
    base = web_platform.base_url

    # A failed job cannot be evaluated: the panel says so and offers nothing to start.
    failed = finished_job(web_platform, "failed")
    page.goto(f"{base}/training/{failed}")
    page.get_by_role("tab", name="Evaluation").click()
    expect(page.get_by_test_id("eval-status")).to_have_attribute("data-status", "none")
    expect(page.get_by_test_id("eval-cannot")).to_contain_text("Failed")
    expect(page.get_by_test_id("eval-start")).to_be_disabled()

    job = finished_job(web_platform, "succeeded")
    page.goto(f"{base}/training/{job}")
    page.get_by_role("tab", name="Evaluation").click()
    expect(page.get_by_test_id("eval-status")).to_have_attribute("data-status", "none")
    page.get_by_test_id("eval-prompts").fill("What is 2 + 2?\nName a colour.")
    page.get_by_test_id("eval-judge").click()
    page.get_by_test_id("eval-judge-option-fake-chat").click()
    page.get_by_test_id("eval-start").click()
    status = page.get_by_test_id("eval-status")
    expect(status).to_have_attribute("data-status", "completed", timeout=EVALUATED_WITHIN)

    # Both orders said tie on both prompts: 50 % with a wide Wilson interval.
    expect(page.get_by_test_id("eval-win-rate")).to_have_text("50.0 %")
    expect(page.get_by_test_id("eval-interval")).to_have_text(
        re.compile(r"^\d+\.\d\u2013\d+\.\d %$")
    )
    expect(page.get_by_test_id("eval-record")).to_contain_text("0 / 0 / 2")
    expect(page.get_by_test_id("eval-progress")).to_have_attribute("aria-valuenow", "100")
    outcomes = page.get_by_test_id("eval-outcome")
    expect(outcomes).to_have_count(2)
    for i in range(2):
        expect(outcomes.nth(i)).to_have_attribute("data-outcome", "tie")
    expect(page.get_by_test_id("eval-example-prompt").first).to_have_text("What is 2 + 2?")
    page.get_by_test_id("eval-examples").locator(".el-table__expand-icon").first.click()
    expect(page.get_by_test_id("eval-tuned-output").first).to_contain_text("equally good")
    shoot(page, "loop-evaluation")

    body = web_platform.api.get(f"/api/training/jobs/{job}/evaluation").json()
    assert (body["status"], body["source"], body["total"], body["done"]) == (
        "completed",
        "prompts",
        2,
        2,
    )
    assert body["summary"]["win_rate"] == 0.5
