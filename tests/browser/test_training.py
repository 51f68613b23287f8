"""Fine-tuning in the browser: upload a dataset (a broken one is refused line by line), start
a LoRA job on the packaged SmolLM2-135M base model and watch its loss chart, progress and
logs fill live until it succeeds.

Real training on the CPU (a few steps, a minute or two). The base model is registered with
``llmforge models add-smollm2`` against the running platform's data directory; set
LLMFORGE_TEST_SMOLLM2_DIR to a converted folder (as the training e2e tests do) to skip the
conversion.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ROOT, RunningPlatform

DATA = Path(__file__).parents[1] / "data" / "training"
ALIAS = "smollm2-135m-instruct"
TRAINED_WITHIN = 600_000
SERVED_WITHIN = 300_000


@pytest.fixture(scope="module")
def smollm2_base(web_platform: RunningPlatform) -> str:
    """The packaged SmolLM2 registered as a local base model; returns its config id."""
    from trainer import smollm2

    target = web_platform.data_dir / "models" / smollm2.ALIAS
    cached = os.environ.get("LLMFORGE_TEST_SMOLLM2_DIR")
    if cached and not target.exists():
        folder = smollm2.ensure(Path(cached)).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(folder, target_is_directory=True)
    subprocess.run(
        [sys.executable, "-m", "runtime.cli", "models", "add-smollm2", "--alias", ALIAS],
        env=web_platform.env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    models = web_platform.api.get("/api/models", params={"limit": 200}).json()["items"]
    return next(m["id"] for m in models if m["alias"] == ALIAS)


def set_number(page: Page, test_id: str, value: str) -> None:
    field = page.get_by_test_id(test_id).locator("input")
    field.fill(value)
    field.press("Tab")
    expect(field).to_have_value(value)


def test_a_lora_job_streams_its_loss_curve_and_logs(
    logged_in_page: Page,
    web_platform: RunningPlatform,
    smollm2_base: str,
    shoot: Callable[[Page, str], Path],
) -> None:
    page = logged_in_page
    base = web_platform.base_url

    # A broken dataset is refused with its problems by line; a good one is listed.
    page.goto(f"{base}/datasets")
    page.get_by_test_id("dataset-upload").set_input_files(DATA / "broken_alpaca.json")
    errors = page.get_by_test_id("dataset-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("Nothing was kept")
    expect(errors.locator(".el-table__row").first).to_be_visible()
    page.get_by_test_id("dataset-name").fill("browser-math")
    page.get_by_test_id("dataset-tokenizer").click()
    page.locator(".el-select-dropdown__item:visible", has_text=ALIAS).click()
    page.get_by_test_id("dataset-upload").set_input_files(DATA / "alpaca_math.json")
    row = page.locator(".el-table__row").filter(
        has=page.get_by_test_id("dataset-row").filter(has_text="browser-math")
    )
    expect(row).to_be_visible()
    expect(row).to_contain_text("40")  # records
    expect(row.get_by_test_id("dataset-tokens")).not_to_have_text(
        "—"
    )  # counted with SmolLM2's tokenizer
    expect(page.locator(".el-message")).to_have_count(0)
    shoot(page, "datasets")
    row.get_by_role("button", name="Details").click()
    expect(page.get_by_test_id("dataset-record").first).to_contain_text("What is 2 times 2?")
    page.keyboard.press("Escape")

    # A tiny LoRA run: 4 steps of 2 records, 128 tokens.
    page.goto(f"{base}/training")
    page.get_by_test_id("training-new").click()
    expect(page.get_by_test_id("training-base-model")).to_contain_text(ALIAS)
    page.get_by_test_id("training-datasets").click()
    page.locator(".el-select-dropdown__item:visible", has_text="browser-math").click()
    page.locator(".job-form h4").first.click()  # close the dropdown
    set_number(page, "training-max-steps", "4")
    set_number(page, "training-batch-size", "2")
    set_number(page, "training-grad-accum", "1")
    set_number(page, "training-cutoff", "128")
    page.get_by_test_id("training-lr").fill("2e-4")
    expect(page.get_by_test_id("training-estimate")).to_contain_text("about 4 optimizer steps")
    page.get_by_test_id("training-submit").click()

    expect(page).to_have_url(re.compile(r"/training/[\w-]+$"))
    status = page.get_by_test_id("job-status")
    expect(status).to_have_attribute("data-status", re.compile(r"queued|running|succeeded"))
    chart = page.get_by_test_id("loss-chart")
    expect(chart).to_have_attribute(
        "data-points", re.compile(r"^[1-9]\d*$"), timeout=TRAINED_WITHIN
    )
    expect(chart.locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("job-logs")).not_to_be_empty()
    expect(status).to_have_attribute("data-status", "succeeded", timeout=TRAINED_WITHIN)
    expect(chart).to_have_attribute("data-points", "4")
    expect(page.get_by_test_id("job-progress")).to_have_attribute("aria-valuenow", "100")
    shoot(page, "training-job")

    # The report, inline; and the job in the list.
    # The page settles once the projection has registered the model and written the report
    # (matplotlib: seconds when busy); the serve button shows it has.
    expect(page.get_by_test_id("job-serve")).to_be_visible(timeout=TRAINED_WITHIN)
    report_tab = page.get_by_role("tab", name="Report")
    expect(report_tab).not_to_have_attribute("aria-disabled", "true")
    report_tab.click()
    expect(report_tab).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("job-report").locator("iframe")).to_be_visible()
    job_url = page.url
    page.goto(f"{base}/training")
    expect(page.get_by_test_id("training-row-status").first).to_have_text("Succeeded")
    shoot(page, "training")

    # Serve the trained adapter, then chat with it.
    page.goto(job_url)
    page.get_by_test_id("job-serve").click()
    expect(page.get_by_test_id("job-chat")).to_be_visible(timeout=SERVED_WITHIN)
    page.get_by_test_id("job-chat").click()
    expect(page).to_have_url(re.compile(r"/chat"))
    expect(page.get_by_test_id("chat-model-select")).to_contain_text("ft-")
    job_id = job_url.rsplit("/", 1)[-1]
    model_id = web_platform.api.get(f"/api/training/jobs/{job_id}").json()["result_model_id"]
    web_platform.api.delete(f"/api/models/{model_id}/serve").raise_for_status()


def test_a_queued_job_can_be_cancelled(
    logged_in_page: Page, web_platform: RunningPlatform, smollm2_base: str
) -> None:
    page = logged_in_page
    datasets = web_platform.api.get("/api/datasets", params={"name": "browser-math"}).json()[
        "items"
    ]
    if not datasets:
        upload = web_platform.api.post(
            "/api/datasets",
            files={
                "file": (
                    "alpaca_math.json",
                    (DATA / "alpaca_math.json").read_bytes(),
                    "application/json",
                )
            },
            data={"name": "browser-math"},
        )
        upload.raise_for_status()
        datasets = [upload.json()]
    job = web_platform.api.post(
        "/api/training/jobs",
        json={
            "base_model_id": smollm2_base,
            "dataset_ids": [datasets[0]["id"]],
            "max_steps": 200,
            "per_device_train_batch_size": 1,
            "gradient_accumulation_steps": 1,
            "cutoff_len": 64,
        },
    )
    job.raise_for_status()
    page.goto(f"{web_platform.base_url}/training/{job.json()['id']}")
    page.get_by_test_id("job-cancel").click()
    page.locator(".el-message-box").get_by_role("button", name="Cancel job").click()
    expect(page.get_by_test_id("job-status")).to_have_attribute(
        "data-status", "cancelled", timeout=120_000
    )
    expect(page.get_by_test_id("job-cancel")).to_be_hidden()
