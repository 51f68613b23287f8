"""Compare in the browser: two models side by side with live metrics, a vote that reaches
the leaderboard, the run in the history, and a batch followed to completion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import RunningPlatform

ANSWER_TEXT = "Hello! I am a fake model."


def test_two_models_answer_side_by_side_and_the_vote_counts(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    page.goto(f"{web_platform.base_url}/compare")
    page.get_by_test_id("compare-model-select").click()
    page.get_by_test_id("compare-option-fake-chat").click()
    page.get_by_test_id("compare-option-fake-reasoner").click()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("compare-model-select")).to_contain_text("fake-reasoner")
    page.get_by_test_id("compare-prompt").fill("Say hello")
    page.get_by_test_id("compare-run").click()

    columns = page.get_by_test_id("compare-column")
    expect(columns).to_have_count(2)
    expect(columns.nth(0)).to_contain_text("fake-chat")
    expect(columns.nth(1)).to_contain_text("fake-reasoner")
    for i in range(2):
        column = columns.nth(i)
        expect(column.get_by_test_id("compare-answer")).to_have_text(ANSWER_TEXT)
        expect(column.get_by_test_id("compare-status")).to_have_text("Done")
        expect(column.get_by_test_id("reasoning-panel")).to_be_visible()
        # Measured TTFT and cost once the model ended (prices are set on the fake models).
        expect(column.get_by_test_id("compare-metrics")).to_contain_text(" ms")
        expect(column.get_by_test_id("compare-metrics")).to_contain_text("$")

    votes = page.get_by_test_id("compare-vote")
    expect(votes).to_have_count(2)
    votes.nth(1).click()
    expect(votes.nth(1)).to_have_text("Your pick")
    expect(page.get_by_test_id("compare-vote-bar")).to_contain_text("Thanks for voting")
    shoot(page, "compare")

    page.get_by_role("tab", name="History").click()
    expect(
        page.get_by_test_id("compare-run-row").filter(has_text="Say hello").first
    ).to_be_visible()

    page.get_by_role("tab", name="Leaderboard").click()
    board = page.get_by_test_id("compare-leaderboard")
    expect(board).to_contain_text("fake-reasoner")
    expect(board).to_contain_text("fake-chat")


def test_a_batch_runs_every_prompt_through_every_model(
    logged_in_page: Page, web_platform: RunningPlatform
) -> None:
    page = logged_in_page
    page.goto(f"{web_platform.base_url}/compare")
    page.get_by_role("tab", name="Batches").click()
    page.get_by_test_id("compare-batch-new").click()
    page.get_by_test_id("compare-batch-models").click()
    page.get_by_test_id("batch-option-fake-chat").click()
    page.get_by_test_id("batch-option-fake-reasoner").click()
    page.get_by_test_id("compare-batch-prompts").click()
    page.get_by_test_id("compare-batch-prompts").fill("First question\nSecond question")
    page.get_by_test_id("compare-batch-create").click()

    detail = page.get_by_test_id("compare-batch-detail")
    expect(detail).to_contain_text("Completed", timeout=60_000)
    expect(detail).to_contain_text("4 / 4 answers")
    expect(detail.get_by_test_id("compare-run-row")).to_have_count(2)
    expect(detail).to_contain_text("Second question")
