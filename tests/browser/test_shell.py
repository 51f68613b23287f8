"""The app shell: served by the API process, routed on the client, guarded by login."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import RunningPlatform


def test_a_deep_link_sends_a_visitor_to_login_and_back(
    page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page.goto(f"{web_platform.base_url}/prompts")
    expect(page).to_have_url(f"{web_platform.base_url}/login?next=/prompts")
    shoot(page, "login")
    page.get_by_test_id("email").fill(web_platform.admin_email)
    page.get_by_test_id("password").fill(web_platform.admin_password)
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(f"{web_platform.base_url}/prompts")
    expect(page.get_by_test_id("nav-admin-users")).to_be_visible()


def test_a_reload_keeps_the_session_through_the_refresh_cookie(logged_in_page: Page) -> None:
    page = logged_in_page
    page.reload()
    expect(page.get_by_test_id("user-menu")).to_contain_text("admin@example.com")
