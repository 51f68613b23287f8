"""Chat in the browser: a streamed answer with its reasoning apart, branches, rating, stop;
and prompt templates, from creation to a chat that uses one."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import RunningPlatform

REASONING_TEXT = "The user greets me; I should greet back."
ANSWER_TEXT = "Hello! I am a fake model."


def new_chat_with(page: Page, base_url: str, alias: str) -> None:
    page.goto(f"{base_url}/chat")
    page.get_by_test_id("chat-new").click()
    page.get_by_test_id("chat-model-select").click()
    page.get_by_test_id(f"model-option-{alias}").click()
    expect(page.get_by_test_id("chat-model-select")).to_contain_text(alias)


def test_a_streamed_answer_shows_its_reasoning_apart_and_branches(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    new_chat_with(page, web_platform.base_url, "fake-reasoner")
    expect(page.get_by_test_id("chat-empty")).to_be_visible()

    page.get_by_test_id("chat-input").fill("Hello there")
    page.get_by_test_id("chat-input").press("Enter")

    question = page.get_by_test_id("user-message").last
    expect(question).to_contain_text("Hello there")
    answer = page.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("assistant-content")).to_have_text(ANSWER_TEXT)
    # Markdown is rendered, and the reasoning is not part of the answer.
    expect(answer.locator("strong")).to_have_text("fake")
    expect(answer.get_by_test_id("assistant-content")).not_to_contain_text("greet back")
    panel = answer.get_by_test_id("reasoning-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("chat-send")).to_be_visible()
    # Folded once the answer is complete; one click shows the reasoning.
    if not panel.get_by_test_id("reasoning-text").is_visible():
        panel.get_by_test_id("reasoning-toggle").click()
    expect(panel.get_by_test_id("reasoning-text")).to_have_text(REASONING_TEXT)
    expect(answer.get_by_test_id("message-usage")).to_contain_text("fake-reasoner")
    expect(answer.get_by_test_id("message-usage")).to_contain_text("TTFT")

    # The session is in the list and in the address.
    expect(page).to_have_url(re.compile(r"/chat/[\w-]+$"))
    expect(page.get_by_test_id("session-item").first).to_be_visible()

    # Rate the answer, then regenerate it: two versions, switchable.
    answer.get_by_test_id("rate-up").click()
    expect(answer.get_by_test_id("rate-up")).to_have_class(re.compile(r"\bchosen\b"))
    answer.get_by_test_id("message-regenerate").click()
    expect(page.get_by_test_id("chat-send")).to_be_visible()
    latest = page.get_by_test_id("assistant-message").last
    expect(latest.get_by_test_id("branch-switch")).to_contain_text("2 / 2")
    expect(latest.get_by_test_id("assistant-content")).to_have_text(ANSWER_TEXT)
    latest.get_by_test_id("branch-switch").get_by_role("button").first.click()
    expect(latest.get_by_test_id("branch-switch")).to_contain_text("1 / 2")

    # Edit the question: a new branch with its own answer.
    page.get_by_test_id("user-message").last.get_by_test_id("message-edit").click()
    page.get_by_test_id("message-edit-input").fill("Hello again")
    page.get_by_test_id("message-edit-save").click()
    expect(page.get_by_test_id("user-message").last).to_contain_text("Hello again")
    expect(
        page.get_by_test_id("user-message").last.get_by_test_id("branch-switch")
    ).to_contain_text("2 / 2")
    expect(
        page.get_by_test_id("assistant-message").last.get_by_test_id("assistant-content")
    ).to_have_text(ANSWER_TEXT)
    page.get_by_test_id("assistant-message").last.get_by_test_id("reasoning-toggle").click()
    expect(
        page.get_by_test_id("assistant-message").last.get_by_test_id("reasoning-text")
    ).to_be_visible()
    shoot(page, "chat")


def test_the_reasoning_is_open_while_it_streams_and_stop_ends_the_answer(
    logged_in_page: Page, web_platform: RunningPlatform
) -> None:
    fake = web_platform.fake
    assert fake is not None
    original = fake.scenario
    fake.scenario = dataclasses.replace(
        original,
        reasoning=[f"step {i}. " for i in range(15)],
        tokens=[f"word{i} " for i in range(400)],
        token_delay=0.1,
    )
    try:
        page = logged_in_page
        new_chat_with(page, web_platform.base_url, "fake-chat")
        page.get_by_test_id("chat-input").fill("Count slowly")
        page.get_by_test_id("chat-send").click()
        answer = page.get_by_test_id("assistant-message").last
        reasoning = answer.get_by_test_id("reasoning-text")
        expect(reasoning).to_be_visible()
        expect(reasoning).to_contain_text("step 1.")
        expect(answer.get_by_test_id("assistant-content")).to_contain_text("word2")
        page.get_by_test_id("chat-stop").click()
        expect(page.get_by_test_id("chat-send")).to_be_visible()
        expect(answer).to_contain_text("Stopped")
        expect(answer.get_by_test_id("assistant-content")).not_to_contain_text("word399")
    finally:
        fake.scenario = original


def test_a_prompt_template_is_created_previewed_and_used_in_a_chat(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    page.goto(f"{web_platform.base_url}/prompts")
    page.get_by_test_id("prompt-new").click()
    page.get_by_test_id("prompt-name").fill("Polyglot translator")
    page.get_by_test_id("prompt-description").fill("Translates a text")
    page.get_by_test_id("prompt-body").fill(
        "You translate into {{language}}. Keep the tone {{tone}}."
    )
    # Category and tags are typed in (created on the fly).
    page.get_by_test_id("prompt-category").click()
    page.keyboard.type("Translation")
    page.keyboard.press("Enter")
    page.get_by_test_id("prompt-tags").click()
    page.keyboard.type("i18n")
    page.keyboard.press("Enter")
    page.get_by_test_id("prompt-name").click()
    variables = page.get_by_test_id("prompt-variables")
    expect(variables).to_contain_text("language")
    expect(variables).to_contain_text("tone")
    page.get_by_test_id("prompt-save").click()
    row = page.locator(
        "tr", has=page.get_by_test_id("prompt-row").filter(has_text="Polyglot translator")
    )
    expect(row).to_contain_text("Translation")
    expect(row).to_contain_text("i18n")

    # The preview renders with the API's rule and says what is missing.
    page.get_by_role("tab", name="Preview").click()
    page.get_by_test_id("preview-var-language").fill("French")
    expect(page.get_by_test_id("prompt-preview")).to_contain_text("You translate into French.")
    expect(page.get_by_test_id("prompt-editor")).to_contain_text("Missing: tone")

    # An edit is a new version; restoring the first one makes a third.
    page.get_by_role("tab", name="Edit").click()
    page.get_by_test_id("prompt-body").fill("You translate into {{language}}.")
    expect(variables).not_to_contain_text("tone")
    page.get_by_test_id("prompt-save").click()
    page.get_by_role("tab", name=re.compile(r"^Versions")).click()
    versions = page.get_by_test_id("prompt-version")
    expect(versions).to_have_count(2)
    versions.filter(has_text="v1").get_by_role("button", name="Restore").click()
    page.locator(".el-message-box").get_by_role("button", name="Restore").click()
    expect(versions).to_have_count(3)
    expect(versions.first).to_contain_text("restored version 1")
    page.keyboard.press("Escape")

    # Full-text search finds it by a word prefix.
    page.get_by_test_id("prompt-search").fill("polyg")
    expect(page.get_by_test_id("prompt-row")).to_have_count(1)
    page.get_by_test_id("prompt-search").fill("nothing-like-this")
    expect(page.get_by_test_id("prompt-row")).to_have_count(0)
    page.get_by_test_id("prompt-search").fill("")
    expect(page.get_by_test_id("prompt-row").filter(has_text="Polyglot translator")).to_be_visible()
    shoot(page, "prompts")

    # "Use in chat": a new chat whose system prompt is the filled template.
    page.get_by_test_id("prompt-row").filter(has_text="Polyglot translator").locator(
        "xpath=ancestor::tr"
    ).get_by_test_id("prompt-use").click()
    expect(page.get_by_test_id("chat-setup")).to_be_visible()
    page.get_by_test_id("setup-var-language").fill("German")
    page.get_by_test_id("setup-var-tone").fill("friendly")
    expect(page.get_by_test_id("setup-preview")).to_contain_text(
        "You translate into German. Keep the tone friendly."
    )
    page.get_by_test_id("setup-save").click()
    page.get_by_test_id("chat-model-select").click()
    page.get_by_test_id("model-option-fake-chat").click()
    page.get_by_test_id("chat-input").fill("Good morning")
    page.get_by_test_id("chat-send").click()
    expect(
        page.get_by_test_id("assistant-message").last.get_by_test_id("assistant-content")
    ).to_have_text(ANSWER_TEXT)
    expect(page.get_by_test_id("chat-system")).to_contain_text("You translate into German.")
