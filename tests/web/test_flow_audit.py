"""The auditor's cross-case log in a real browser (issue 12 §7), in Latvian and English
at 1366 px and 390 px: "what did this person read in this period?", filtered by person
and days, names not user names, repeated reads folded, and the CSV export."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from engine.queries import actor_for, case_view
from engine.reports import case_page
from engine.tables import Channel
from gaita.bootstrap import App
from tests.web.browser import (
    BROWSER_MARKS,
    LANGS,
    WIDTHS,
    Session,
    chromium,
    demo_app,
    fits,
    screenshot,
    serve,
)

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, str, Browser, str]]:
    """The demo data, where the coordinator read one case four times today."""
    app = demo_app(tmp_path_factory, "audit")
    coordinator = actor_for(app.db, "koordinatore")
    rows, _ = case_page(app.db, app.rt, offset=0, limit=1)
    reference = rows[0]["reference"]
    for _ in range(4):
        case_view(app.db, app.rt, reference, coordinator, channel=Channel.WEB)
    with serve(app) as base, chromium() as browser:
        yield app, base, browser, reference
    app.db.dispose()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_the_auditor_asks_what_a_person_read_and_exports_it(
        served: tuple[App, str, Browser, str], lang: str, width: int) -> None:
    _, base, browser, reference = served
    auditor = Session(browser, base, width=width, lang=lang)
    auditor.log_in("auditors")
    page = auditor.go("/audit")
    fits(page)
    page.locator("#user").select_option("koordinatore")
    page.locator("#from").fill("30.11.2026")
    page.locator("#to").fill("30.11.2026")
    page.locator("main form[role=search] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/audit\?user=koordinatore&case=&from=30\.11\.2026"))
    fits(page)
    row = page.locator("table.rows tbody tr").filter(
        has=page.locator(f"a:text-is('{reference}')")).first
    expect(row).to_contain_text("Inese Koordinatore")
    expect(row).to_contain_text("×4")
    expect(page.locator("table.rows")).not_to_contain_text("koordinatore")   # names only
    if lang == "lv" and width == 1366:
        screenshot(page, "17-audit-log")
    with page.expect_download() as download:
        page.locator("a[href^='/audit.csv']").click()
    body = download.value.path().read_text(encoding="utf-8-sig")
    assert "Inese Koordinatore" in body and reference in body
    auditor.assert_no_errors()
    # a period that ends before it starts is named at its field (a 400 page)
    page.locator("#to").fill("01.11.2026")
    page.locator("main form[role=search] button[type=submit]").click()
    expect(page.locator("#to")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#to-error")).to_be_visible()
    fits(page)
    auditor.close()
