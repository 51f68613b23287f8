"""Registration, login and logout, the one-refresh-on-401 rule, dark mode and language."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Request, Response, expect

from tests.browser.conftest import RunningPlatform, login_through_form


def me_status(platform: RunningPlatform, token: str) -> int:
    headers = {"authorization": f"Bearer {token}"}
    return httpx.get(f"{platform.base_url}/api/auth/me", headers=headers).status_code


def test_registration_validates_registers_logs_out_and_in(
    page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page.set_default_timeout(15_000)
    base = web_platform.base_url
    email = f"someone-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct-horse-battery"

    page.goto(f"{base}/register")
    errors = page.locator(".el-form-item__error")
    page.get_by_test_id("email").fill("not-an-email")
    page.get_by_test_id("password").fill("short")
    page.get_by_test_id("confirm").fill("different")
    page.get_by_test_id("submit").click()
    expect(errors.filter(has_text="Enter a valid e-mail address")).to_be_visible()
    expect(errors.filter(has_text="At least 8 characters")).to_be_visible()
    expect(errors.filter(has_text="The passwords do not match")).to_be_visible()
    expect(page).to_have_url(f"{base}/register")
    shoot(page, "register")

    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("confirm").fill(password)
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(f"{base}/chat")
    expect(page.get_by_test_id("user-menu")).to_contain_text(email)
    # A plain user sees no administration pages.
    expect(page.get_by_test_id("nav-admin-users")).to_have_count(0)

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{base}/login")
    # The refresh cookie is gone with the session: a reload stays logged out.
    page.reload()
    expect(page).to_have_url(f"{base}/login")

    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill("wrong-password")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("auth-error")).to_be_visible()
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("submit").click()
    expect(page).to_have_url(f"{base}/chat")
    expect(page.get_by_test_id("user-menu")).to_contain_text(email)


def test_dark_mode_and_chinese(logged_in_page: Page) -> None:
    page = logged_in_page
    html = page.locator("html")
    dark = html.evaluate("e => e.classList.contains('dark')")
    page.get_by_test_id("dark-toggle").click()
    if dark:
        expect(html).not_to_have_class("dark")
    else:
        expect(html).to_have_class("dark")

    page.get_by_test_id("locale").click()
    page.get_by_role("option", name="简体中文").click()
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("nav-admin-users")).to_contain_text("用户")
    page.get_by_test_id("nav-admin-audit").click()
    expect(page.get_by_test_id("audit-export")).to_contain_text("导出 CSV")
    # Both choices survive a reload.
    page.reload()
    expect(page.get_by_test_id("audit-export")).to_contain_text("导出 CSV")
    if dark:
        expect(html).not_to_have_class("dark")
    else:
        expect(html).to_have_class("dark")


@pytest.fixture(scope="module")
def short_lived_tokens(start_platform: Callable[..., RunningPlatform]) -> RunningPlatform:
    # Access tokens live one second (plus the server's five-second leeway).
    return start_platform(LLMFORGE_ACCESS_TOKEN_TTL="1")


def test_concurrent_requests_after_expiry_share_one_refresh(
    page: Page, short_lived_tokens: RunningPlatform
) -> None:
    platform = short_lived_tokens
    page.set_default_timeout(15_000)
    with page.expect_response("**/api/auth/login") as login:
        login_through_form(page, platform)
    token = login.value.json()["access_token"]
    expect(page.get_by_test_id("nav-admin-audit")).to_be_visible()

    # Wait (by polling, bounded) until the server rejects the token the page holds.
    deadline = time.monotonic() + 30
    while me_status(platform, token) != 401:
        assert time.monotonic() < deadline, "the access token never expired"
        time.sleep(0.2)

    refreshes: list[str] = []

    def on_request(request: Request) -> None:
        if request.url.endswith("/api/auth/refresh"):
            refreshes.append(request.url)

    page.on("request", on_request)
    failures: list[str] = []

    def on_response(response: Response) -> None:
        if response.status == 401 and response.url.endswith("/api/auth/refresh"):
            failures.append(response.url)

    page.on("response", on_response)

    # The audit page asks for the log and the user list at once: every call gets a 401,
    # all of them wait for one refresh, then retry with the new token.
    page.get_by_test_id("nav-admin-audit").click()
    expect(page.get_by_test_id("audit-row").first).to_be_visible()
    expect(page.locator(".el-message--error")).to_have_count(0)
    assert len(refreshes) == 1, refreshes
    assert failures == []
    # Still logged in, on the same page.
    expect(page.get_by_test_id("user-menu")).to_contain_text(platform.admin_email)
