"""Knowledge bases in the browser: create one, upload documents and watch them get indexed
live, then find the right chunk in the search playground."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import RunningPlatform

DOCS = Path(__file__).parents[1] / "data" / "knowledge"
# The first index builds the local embedding model (ONNX, once per data directory).
INDEXED_WITHIN = 240_000


def test_documents_are_indexed_live_and_found_by_search(
    logged_in_page: Page, web_platform: RunningPlatform, shoot: Callable[[Page, str], Path]
) -> None:
    page = logged_in_page
    page.goto(f"{web_platform.base_url}/knowledge")
    page.get_by_test_id("kb-new").click()
    page.get_by_test_id("kb-name").fill("Browser handbook")
    page.get_by_test_id("kb-description").fill("Observatory and garden notes")
    page.get_by_test_id("kb-save").click()
    expect(page).to_have_url(re.compile(r"/knowledge/[\w-]+$"))

    page.get_by_test_id("doc-upload").set_input_files(
        [DOCS / "observatory.txt", DOCS / "gardening.txt"]
    )
    rows = page.get_by_test_id("doc-row")
    expect(rows).to_have_count(2)
    statuses = page.get_by_test_id("doc-status")
    for i in range(2):
        expect(statuses.nth(i)).to_have_attribute("data-status", "indexed", timeout=INDEXED_WITHIN)

    page.get_by_test_id("kb-search-input").fill("Why is the dome of the observatory not heated?")
    page.get_by_test_id("kb-search-run").click()
    results = page.get_by_test_id("kb-search-result")
    expect(results.first).to_be_visible()
    expect(results.first).to_contain_text("observatory.txt")
    expect(results.first).to_contain_text("warm air")
    shoot(page, "knowledge-base")

    # The list shows the base with its document count; deleting a document updates it.
    page.get_by_test_id("doc-delete").last.click()
    page.locator(".el-message-box").get_by_role("button", name="Delete").click()
    expect(rows).to_have_count(1)
    page.goto(f"{web_platform.base_url}/knowledge")
    card = page.get_by_test_id("kb-row").filter(has_text="Browser handbook")
    expect(card).to_contain_text("1 document")
    shoot(page, "knowledge")
