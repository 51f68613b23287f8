"""Administration pages: dashboard, users and roles, audit log; plus webhooks and account."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import RunningPlatform


def eventually(read: Callable[[], Any], ok: Callable[[Any], bool], within: float = 30.0) -> Any:
    """Poll an API read until ``ok`` holds (consumers write stats and audit rows async)."""
    deadline = time.monotonic() + within
    while True:
        value = read()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s; last value: {value!r}")
        time.sleep(0.25)


def pick_option(page: Page, select: Locator, name: str) -> None:
    """Open an Element Plus select and choose the visible option ``name``."""
    select.click()
    page.get_by_role("option", name=name, exact=True).click()


def confirm(page: Page, button: str) -> None:
    page.locator(".el-message-box").get_by_role("button", name=button).click()


def settle(page: Page) -> None:
    """Before a screenshot: no dialog or drawer mid-animation, no toast over the page."""
    expect(page.locator("[class*='-enter-active'], [class*='-leave-active']")).to_have_count(0)
    page.locator(".el-message").evaluate_all("els => els.forEach(e => e.remove())")
    page.locator(".el-main").evaluate("e => e.scrollTo(0, 0)")


def me_status(platform: RunningPlatform, token: str) -> int:
    """The status /api/auth/me answers for a bearer token or API key."""
    headers = {"authorization": f"Bearer {token}"}
    return httpx.get(f"{platform.base_url}/api/auth/me", headers=headers).status_code


def chat_call(platform: RunningPlatform) -> None:
    answer = platform.api.post(
        "/v1/chat/completions",
        json={"model": "fake-chat", "messages": [{"role": "user", "content": "Hello"}]},
    )
    answer.raise_for_status()


def test_the_dashboard_counts_a_chat_call(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    chat_call(web_platform)
    eventually(
        lambda: web_platform.api.get("/api/admin/stats").json(),
        lambda stats: stats["totals"]["calls"] >= 1,
    )

    page.get_by_test_id("nav-admin-dashboard").click()
    expect(page).to_have_url(re.compile(r"/admin/dashboard$"))
    calls = page.get_by_test_id("dashboard-calls")
    expect(calls).to_have_text(re.compile(r"^[1-9][\d,]*$"))
    expect(page.get_by_test_id("dashboard-tokens")).to_have_text(re.compile(r"^[1-9]"))
    expect(page.get_by_test_id("dashboard-model-row").filter(has_text="fake-chat")).to_be_visible()
    expect(
        page.get_by_test_id("dashboard-user-row").filter(has_text=web_platform.admin_email)
    ).to_be_visible()
    expect(page.locator(".echart canvas").first).to_be_visible()

    # Another range and bucket ask again and still count the call.
    page.get_by_test_id("dashboard-range").get_by_text("24 h").click()
    pick_option(page, page.get_by_test_id("dashboard-bucket"), "Hourly")
    expect(calls).to_have_text(re.compile(r"^[1-9]"))
    settle(page)
    shoot(page, "dashboard")


def test_an_admin_creates_a_user_gives_a_custom_role_and_finds_it_in_the_audit_log(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    role = f"reviewer{uuid.uuid4().hex[:4]}"
    for name in ("Ada Lovelace", "Grace Hopper"):
        web_platform.api.post(
            "/api/admin/users",
            json={
                "email": f"{name.split()[0].lower()}-{uuid.uuid4().hex[:4]}@example.com",
                "password": "a-good-password",
                "display_name": name,
            },
        ).raise_for_status()

    page.get_by_test_id("nav-admin-users").click()
    expect(
        page.get_by_test_id("user-row").filter(has_text=web_platform.admin_email)
    ).to_be_visible()

    # A custom role with two permissions.
    page.get_by_role("tab", name="Roles").click()
    page.get_by_test_id("role-new").click()
    page.get_by_test_id("role-name").fill(role)
    page.get_by_test_id("role-description").fill("Reads the audit log")
    checklist = page.get_by_test_id("role-permissions")
    checklist.get_by_text("audit.read", exact=True).click()
    page.get_by_test_id("role-save").click()
    row = page.get_by_test_id("role-row").filter(has_text=role)
    expect(row).to_contain_text("chat.use")
    expect(row).to_contain_text("audit.read")

    # A new user, then the custom role.
    page.get_by_role("tab", name="Users").click()
    page.get_by_test_id("user-new").click()
    page.get_by_test_id("user-email").fill(email)
    page.get_by_test_id("user-display-name").fill("New Person")
    page.get_by_test_id("user-password").fill("a-good-password")
    page.get_by_test_id("user-create").click()
    user_row = page.get_by_test_id("user-row").filter(has_text=email)
    expect(user_row).to_be_visible()
    expect(user_row.get_by_test_id("user-role")).to_have_text("user")

    pick_option(page, user_row.get_by_test_id("user-role"), role)
    confirm(page, "Change role")
    expect(user_row.get_by_test_id("user-role")).to_have_text(role)
    settle(page)
    shoot(page, "users")

    # The search narrows the list.
    page.get_by_test_id("user-search").fill(email)
    expect(page.get_by_test_id("user-row")).to_have_count(1)

    # Reset the password: a temporary one, shown once.
    user_row.get_by_test_id("user-more").click()
    page.get_by_test_id("user-reset").filter(visible=True).click()
    confirm(page, "Reset password")
    expect(page.get_by_test_id("user-temp-password")).to_have_text(re.compile(r"^\S{16,}$"))
    dialog = page.get_by_role("dialog", name="Temporary password")
    dialog.get_by_role("button", name="Close", exact=True).click()

    listed = web_platform.api.get("/api/admin/users", params={"q": email}).json()["items"]
    assert listed[0]["role"] == role
    user_id = listed[0]["id"]
    eventually(
        lambda: web_platform.api.get("/api/admin/audit", params={"resource": user_id}).json(),
        lambda audit: (
            {"llmforge.auth.user.updated.v1", "llmforge.auth.user.registered.v1"}
            <= {e["type"] for e in audit["items"]}
        ),
    )

    # The audit log, filtered by the new user's id.
    page.get_by_test_id("nav-admin-audit").click()
    expect(page.get_by_test_id("audit-row").first).to_be_visible()
    page.get_by_test_id("audit-row").first.locator(".el-table__expand-icon").click()
    expect(page.get_by_test_id("audit-data")).to_be_visible()
    settle(page)
    shoot(page, "audit")
    page.get_by_test_id("audit-row").first.locator(".el-table__expand-icon").click()
    page.get_by_test_id("audit-resource").fill(user_id)
    rows = page.get_by_test_id("audit-row")
    expect(rows.filter(has_text="auth.user.updated")).to_have_count(1)
    expect(rows.filter(has_text="auth.user.registered")).to_have_count(1)
    for i in range(rows.count()):
        expect(rows.nth(i)).to_contain_text(user_id)

    # Narrow further by type; expand a row to see its JSON data.
    page.get_by_test_id("audit-type").locator("input").fill("auth.user.updated")
    page.get_by_role("option", name="auth.user.updated", exact=True).first.click()
    expect(rows).to_have_count(1)
    rows.first.locator(".el-table__expand-icon").click()
    data = page.get_by_test_id("audit-data").filter(visible=True)
    expect(data).to_contain_text(f'"role": "{role}"')

    with page.expect_download() as download_info:
        page.get_by_test_id("audit-export").click()
    csv_path = download_info.value.path()
    text = Path(csv_path).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("time,id,type")
    assert "llmforge.auth.user.updated.v1" in text
    assert "llmforge.auth.user.registered.v1" not in text


def test_webhook_endpoints_show_the_secret_once_and_their_deliveries(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    # Nothing listens there: the ping's delivery fails, which the page must show.
    url = f"http://127.0.0.1:9/hooks/{uuid.uuid4().hex[:6]}"

    page.get_by_test_id("nav-webhooks").click()
    page.get_by_test_id("webhook-new").click()
    page.get_by_test_id("webhook-url").fill(url)
    events = page.get_by_test_id("webhook-events")
    events.click()
    page.get_by_role("option", name="training.job.*").click()
    page.keyboard.press("Escape")
    page.get_by_test_id("webhook-save").click()

    secret = page.get_by_test_id("webhook-secret")
    expect(secret).to_have_text(re.compile(r"^whsec_\S+$"))
    page.get_by_test_id("webhook-secret-done").click()
    expect(secret).to_be_hidden()

    row = page.get_by_test_id("webhook-row").filter(has_text=url)
    expect(row).to_contain_text("training.job.*")
    expect(row).not_to_contain_text("whsec_")

    row.get_by_test_id("webhook-test").click()
    drawer = page.get_by_test_id("webhook-deliveries")
    delivery = drawer.get_by_test_id("delivery-row").first
    expect(delivery).to_contain_text("webhooks.endpoint.test")
    settle(page)
    shoot(page, "webhooks")


def test_account_api_key_is_shown_once_and_can_be_revoked(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    name = f"laptop-{uuid.uuid4().hex[:6]}"

    page.get_by_test_id("nav-account").click()
    expect(page.get_by_test_id("account-profile")).to_contain_text(web_platform.admin_email)
    expect(page.get_by_test_id("account-quota")).to_be_visible()

    page.get_by_test_id("apikey-new").click()
    page.get_by_test_id("apikey-name").fill(name)
    page.get_by_test_id("apikey-create").click()
    value = page.get_by_test_id("apikey-value")
    expect(value).to_have_text(re.compile(r"^lf_\S+$"))
    key = value.inner_text()
    settle(page)
    shoot(page, "account")
    page.get_by_test_id("apikey-done").click()

    row = page.get_by_test_id("apikey-row").filter(has_text=name)
    expect(row).to_be_visible()
    expect(row).not_to_contain_text(key)
    assert me_status(web_platform, key) == 200

    row.get_by_test_id("apikey-revoke").click()
    confirm(page, "Revoke")
    expect(row).to_have_count(0)
    assert me_status(web_platform, key) == 401
