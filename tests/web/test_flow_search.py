"""Search and the duplicate warning in a real browser (Debian's chromium, Playwright), in
Latvian and English, at 1366 px and 390 px; every page visited fits its width.

A coordinator searches from the menu's box by the child's name typed without
diacritics, then by the personal code in the results page's own box; then opens a case
for a child who already has an open one of that type: the form comes back with the
warning and a link to that case, and saves only with "open a new case anyway".
Screenshots (``make screenshots``, Latvian at 1366 px): ``11-search``,
``12-duplicate-warning``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, expect

from engine.cases import open_case
from engine.queries import actor_for
from gaita.bootstrap import App
from tests.web.browser import (
    BROWSER_MARKS,
    LANGS,
    WIDTHS,
    Session,
    checked,
    chromium,
    demo_app,
    fits,
    screenshot,
    serve,
)

pytestmark = BROWSER_MARKS

CHILD, CODE = "Jānis Bērziņš", "030915-21235"
SCHOOL = "jelgavas-4-vsk"
WORDS = {
    "lv": {"search": "Meklēt lietas", "open": "Atvērt lietu: Neattaisnoti mācību stundu kavējumi",
           "duplicate": "Šim bērnam jau ir atvērta šāda veida lieta",
           "anyway": "Tomēr atvērt jaunu lietu", "repeated": "kā atkārtota"},
    "en": {"search": "Search cases", "open": "Open a case: Unjustified absences",
           "duplicate": "This child already has an open case of this type",
           "anyway": "Open a new case anyway", "repeated": "as a repeated case"},
}


@dataclass(frozen=True)
class Served:
    app: App
    base: str
    browser: Browser
    reference: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the module: the demo users and cases, and an open absences case of
    the child every test searches for."""
    app = demo_app(tmp_path_factory, "flow-search")
    reference = open_case(app.db, app.rt, "absences", actor_for(app.db, "koordinatore"),
                          child_name=CHILD, child_code=CODE, school=SCHOOL,
                          fields={"age_group": "basic"}).reference
    with serve(app) as base, chromium() as browser:
        yield Served(app, base, browser, reference)
    app.db.dispose()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_search_by_name_and_code_then_the_duplicate_warning(served: Served, lang: str,
                                                             width: int) -> None:
    words, shots = WORDS[lang], lang == "lv" and width == 1366
    s = Session(served.browser, served.base, width=width, lang=lang)
    page = s.page
    s.log_in("koordinatore")   # the dashboard: another part's page (its own checks)

    # by name, without diacritics, words in any order, from the menu's box
    box = page.get_by_role("search").get_by_role("searchbox")
    box.fill("berzins janis")
    box.press("Enter")
    checked(page, words["search"], lang=lang)
    row = page.locator("table.rows tbody tr", has=page.get_by_role("link", name=served.reference))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(CHILD)
    expect(page.locator("#q")).to_have_value("berzins janis")
    fits(page)
    if shots:
        screenshot(page, "11-search")

    # by the personal code without its hyphen, in the page's own box
    page.locator("#q").fill(CODE.replace("-", ""))
    page.locator("main form[role=search] button[type=submit]").click()
    expect(page.locator("table.rows tbody tr", has=page.get_by_role(
        "link", name=served.reference))).to_have_count(1)
    fits(page)
    page.locator("#q").fill("zzzz")
    page.locator("#q").press("Enter")
    expect(page.locator("#nothing-found")).to_be_visible()
    fits(page)

    # opening a second absences case for the same child: warned before saving
    s.go("/cases/new/absences")
    checked(page, words["open"], lang=lang)
    page.locator("#child_name").fill(CHILD)
    page.locator("#child_code").fill(CODE)
    page.locator("#school").select_option(SCHOOL)
    page.locator("[name='f.open.age_group']").select_option("basic")
    submit = page.locator("main form[method=post] button[type=submit]")
    submit.click()
    warning = page.locator("#duplicate")
    expect(warning).to_contain_text(words["duplicate"])
    expect(warning.get_by_role("link", name=served.reference)).to_have_attribute(
        "href", f"/cases/{served.reference}")
    expect(page.locator("#child_name")).to_have_value(CHILD)   # nothing typed is lost
    fits(page)
    if shots:
        screenshot(page, "12-duplicate-warning")
    page.get_by_label(words["anyway"]).check()
    page.locator("main form[method=post] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/cases/KAV-[^?]+\?notice=opened&notice=repeated$"))
    expect(page.get_by_role("status")).to_contain_text(words["repeated"])
    expect(page.locator("#child-cases")).to_contain_text(served.reference)
    fits(page)
    # chromium reports the warning's 409 (nothing saved) as a failed load; nothing else
    assert [e for e in s.errors if "status of 409" not in e] == []
    s.close()
