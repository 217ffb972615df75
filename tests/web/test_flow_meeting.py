"""The chair's meeting in a real browser (issue 12 §6), in Latvian and English at 1366 px
and 390 px: the chair picks the agenda from the queue (urgent cases ticked, the others
stay queued), gives the meeting's time, and decides one case on its own page, then goes
on to the next.  Every page fits its width."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from engine.cases import open_case
from engine.group.queue import escalate
from engine.queries import actor_for
from gaita.bootstrap import App
from gaita.demo import demo_code
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
SCHOOL = "jelgavas-4-vsk"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, str, Browser]]:
    """One app with the demo data, one server and one browser for the module."""
    app = demo_app(tmp_path_factory, "meeting")
    with serve(app) as base, chromium() as browser:
        yield app, base, browser
    app.db.dispose()


def _queue(app: App, n: int) -> tuple[str, str]:
    """Two new cases referred to the group: an urgent one and an ordinary one."""
    coordinator = actor_for(app.db, "koordinatore")
    refs = []
    for k, urgent in ((0, True), (1, False)):
        ref = open_case(app.db, app.rt, "absences", coordinator, child_name="Anna Bērziņa",
                        child_code=demo_code(300 + 2 * n + k), school=SCHOOL,
                        fields={"age_group": "basic"}).reference
        escalate(app.db, app.rt, ref, coordinator, "several_institutions", urgent=urgent)
        refs.append(ref)
    return refs[0], refs[1]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_the_chair_picks_an_agenda_and_decides_one_case(
        served: tuple[App, str, Browser], lang: str, width: int) -> None:
    app, base, browser = served
    urgent, ordinary = _queue(app, LANGS.index(lang) * 2 + WIDTHS.index(width))
    shots = lang == "lv" and width == 1366
    chair = Session(browser, base, width=width, lang=lang)
    chair.log_in("vaditajs")
    page = chair.go("/group/meetings/new")
    fits(page)
    # listed in the queue's order, the urgent case ticked, the ordinary one not
    boxes = page.locator("input[name=case]")
    values = [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]
    assert values.index(urgent) < values.index(ordinary)
    expect(page.locator(f"input[name=case][value='{urgent}']")).to_be_checked()
    expect(page.locator(f"input[name=case][value='{ordinary}']")).not_to_be_checked()
    for i in range(boxes.count()):   # only this run's urgent case goes on this agenda
        if values[i] != urgent:
            boxes.nth(i).uncheck()
    page.locator("#time").fill("14:00")
    page.locator("#place").fill("Lielā iela 11, Jelgava")
    if shots:
        screenshot(page, "15-agenda-pick")
    page.locator("form[action='/group/meetings'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/group/meetings/\d+\?planned=1$"))
    fits(page)
    expect(page.locator("dl.summary")).to_contain_text("14:00")
    expect(page.locator("table.rows")).to_contain_text(urgent)   # (and earlier runs' reviews)
    expect(page.locator("table.rows")).not_to_contain_text(ordinary)
    expect(page.locator("textarea[name=summary]")).to_have_count(0)   # no forms here
    page.locator(f"a[href$='/cases/{urgent}']").last.click()
    expect(page).to_have_url(re.compile(rf"/group/meetings/\d+/cases/{urgent}$"))
    fits(page)
    page.locator("#summary").fill("Sociālajam dienestam turpināt darbu ar ģimeni.")
    page.locator("#a1-institution").select_option("jslp")
    page.locator("#a1-days").fill("5")
    page.locator("#a1-text").fill("Apmeklēt ģimeni.")
    if shots:
        screenshot(page, "16-decision-one-case")
    page.locator("form[action*='/cases/'] button[type=submit]").click()
    # saved (303): on to the next undecided case, or the meeting when none is left
    expect(page.get_by_role("status")).to_contain_text(urgent)
    fits(page)
    # the ordinary case stays queued
    queue = chair.go("/group")
    row = queue.locator("table.rows tbody tr").filter(has=queue.locator(f"a:text-is('{ordinary}')"))
    expect(row).to_have_count(1)
    fits(queue)
    chair.assert_no_errors()
    chair.close()

