"""Each dashboard queue opened from its counter, in a real browser (Debian's chromium):
the coordinator, with the demo cases and a few more (a step reported done, a request for
more time, an unanswered report), in Latvian and English, at 1366 px and 390 px.  Every
list has as many rows as its counter says (up to a page) and no page scrolls sideways.

With ``GAITA_SCREENSHOTS=<dir>``: ``13-queue-my-tasks`` (Latvian, 1366 px).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from gaita.web.dashboard import CARDS, COORDINATOR_CARDS, PAGE_SIZE
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
from tests.web.test_queues import scenario

pytestmark = BROWSER_MARKS

QUEUES = [key for key, _ in (*CARDS, *COORDINATOR_CARDS) if key != "open"]
TITLES = {"lv": ("Pārskats", "Lietas"), "en": ("Dashboard", "Cases")}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser]]:
    """One server for the module: the demo data plus ``test_queues.scenario``."""
    app = demo_app(tmp_path_factory, "queues")
    scenario(app)
    with serve(app) as base, chromium() as browser:
        yield base, browser
    app.db.dispose()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_each_queue_opens_from_its_counter(served: tuple[str, Browser], lang: str,
                                           width: int) -> None:
    base, browser = served
    s = Session(browser, base, width=width, lang=lang)
    s.log_in("koordinatore")
    dashboard_title, list_title = TITLES[lang]
    for queue in QUEUES:
        page = checked(s.go("/dashboard"), dashboard_title, lang=lang)
        fits(page)
        counter = page.locator(f"#card-{queue}")
        n = int(counter.locator(".n").inner_text().replace("\xa0", "").replace(",", ""))
        counter.locator("a").click()
        expect(page).to_have_url(f"{base}/cases?queue={queue}")
        checked(page, list_title, lang=lang)
        expect(page.locator("#queue-name")).to_contain_text(
            page.locator("#f-queue option:checked").inner_text())
        expect(page.locator("table.rows tbody tr")).to_have_count(min(n, PAGE_SIZE))
        fits(page)
        if queue == "my_tasks" and lang == "lv" and width == 1366:
            screenshot(page, "13-queue-my-tasks")
    # the filters fold away and open again
    page = s.go("/cases")
    expect(page.locator("details.filters")).not_to_have_attribute("open", "")
    page.locator("details.filters > summary").click()
    expect(page.locator("#f-queue")).to_be_visible()
    fits(page)
    s.assert_no_errors()
    s.close()
