"""Providers and models in the browser: a preset fills the form and the key comes back only
masked; a connection test shows its latency; a refreshed model list becomes a model config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import RunningPlatform

SECRET = "sk-browser-never-shown-9876"


def test_providers_presets_test_refresh_and_models(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    page.goto(f"{web_platform.base_url}/providers")

    # The seeded fake provider answers the connection test.
    fake = page.get_by_test_id("provider-row").filter(has_text="Fake OpenAI")
    expect(fake).to_be_visible()
    row = page.locator(".el-table__row").filter(has=fake)
    row.get_by_test_id("provider-test").click()
    expect(row.get_by_test_id("provider-test-result")).to_contain_text("ms")

    # A preset fills type and URL; the key is stored and shown masked only.
    page.get_by_test_id("provider-new").click()
    page.get_by_test_id("provider-preset").click()
    page.locator(".el-select-dropdown__item:visible", has_text="DeepSeek").click()
    expect(page.get_by_test_id("provider-base-url")).to_have_value("https://api.deepseek.com/v1")
    page.get_by_test_id("provider-name").fill("Browser DeepSeek")
    page.get_by_test_id("provider-api-key").fill(SECRET)
    page.get_by_test_id("provider-save").click()
    created = page.locator(".el-table__row").filter(has_text="Browser DeepSeek")
    expect(created).to_contain_text("9876")
    expect(page.locator("body")).not_to_contain_text(SECRET)
    expect(page.locator(".el-message")).to_have_count(0)
    shoot(page, "providers")

    # Refresh the fake's models and turn one into a model config.
    row.get_by_test_id("provider-refresh").click()
    fetched = page.get_by_test_id("fetched-models")
    expect(fetched).to_contain_text("model-a")
    fetched.locator(".el-table__row").filter(has_text="model-a").get_by_role("button").click()
    expect(page.get_by_test_id("model-upstream")).to_contain_text("model-a")
    page.get_by_test_id("model-alias").fill("browser-model-a")
    page.get_by_test_id("model-save").click()
    expect(page.get_by_test_id("model-row").filter(has_text="browser-model-a")).to_be_visible()
    expect(page.get_by_test_id("model-row").filter(has_text="fake-chat")).to_be_visible()

    expect(page.locator(".el-message")).to_have_count(0)
    shoot(page, "providers-models")
    page.get_by_role("tab", name="Providers").click()
    expect(created).to_be_visible()

    # Delete the preset provider again.
    created.get_by_role("button", name="Delete").click()
    page.locator(".el-message-box").get_by_role("button", name="Delete").click()
    expect(created).to_be_hidden()
