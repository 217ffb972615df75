"""The case page in a real browser (Debian's chromium), in Latvian and English, on a
laptop (1366 px) and a phone (390 px): a refused step focuses its field, with the error
beside it; the corrected step saves, the page says what changed, and reloading sends
nothing again; the timeline reads newest first, or oldest first by its toggle.  No page
scrolls sideways.  ``20-case-page-phone``: the case page at 390 px in Latvian."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from engine.cases import open_case
from engine.queries import actor_for
from engine.store import load_case_row
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
from tests.web.test_case_page import SCHOOL_ACTIONS, TO_BOARD, walk

pytestmark = BROWSER_MARKS
SCHOOL = "jelgavas-4-vsk"
STEP = "report_to_board"
FIELD = f"#f-{STEP}-unjustified_lessons"
SAVED = {"lv": "Saglabāts: lieta pārvietota uz posmu «Izglītības pārvaldes izvērtējums»",
         "en": "Saved: the case moved to the stage “Education board assessment”"}
REFUSED = {"lv": "Sistēma šo soli neatļāva.", "en": "The system did not allow this step."}
TOGGLE = {"lv": ("rādīt vecākos augšā", "rādīt jaunākos augšā"),
          "en": ("show the oldest first", "show the newest first")}
_children = itertools.count(700)


class Served:
    def __init__(self, app: App, base: str, browser: Browser) -> None:
        self.app, self.base, self.browser = app, base, browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One app with the demo data, served once for the module, and one chromium."""
    app = demo_app(tmp_path_factory, "flow_case_page")
    with serve(app) as base, chromium() as browser:
        yield Served(app, base, browser)
    app.db.dispose()


def at_school_support(app: App) -> str:
    """An absences case of a child of its own, where the next step is the board's."""
    ref = open_case(app.db, app.rt, "absences", actor_for(app.db, "koordinatore"),
                    child_name="Līga Ērgle", child_code=demo_code(next(_children)),
                    school=SCHOOL, fields={"age_group": "basic"}).reference
    walk(app, ref, TO_BOARD[0])
    return ref


def events(app: App, ref: str) -> tuple[int, str]:
    with app.db.connect() as conn:
        row = load_case_row(conn, ref)
    return row["event_seq"], row["state"]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_refused_step_focuses_its_field_and_the_saved_step_says_what_changed(
        served: Served, lang: str, width: int) -> None:
    app = served.app
    ref = at_school_support(app)
    s = Session(served.browser, served.base, width=width, lang=lang)
    s.log_in("koordinatore")
    page = s.go(f"/cases/{ref}")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_contain_text(ref)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("#diagram-box")).not_to_have_attribute("open", "")
    fits(page)

    # refused: 10 lessons is not over the threshold
    page.locator(f"#step-{STEP} > summary").click()
    page.locator(FIELD).fill("10")
    page.locator(f"#f-{STEP}-school_actions").fill(SCHOOL_ACTIONS)
    page.locator(f"#step-{STEP} button[type=submit]").click()
    field = page.locator(FIELD)
    expect(field).to_be_focused()
    expect(field).to_be_in_viewport()
    expect(field).to_have_attribute("aria-invalid", "true")
    error = page.locator(f"#f-{STEP}-unjustified_lessons-error")
    expect(error).to_contain_text(REFUSED[lang])
    expect(error).to_be_in_viewport()
    above, box = error.bounding_box(), field.bounding_box()
    assert above is not None and box is not None
    gap = box["y"] - (above["y"] + above["height"])
    assert 0 <= gap < 40, gap   # right above the field
    expect(page.locator(f"#step-{STEP}")).to_have_attribute("open", "")
    assert events(app, ref)[1] == "in_school_support"
    fits(page)

    # corrected: saved, the notice says where the case went; a reload sends nothing
    field.fill("24")
    page.locator(f"#step-{STEP} button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/cases/{ref}\?notice=saved&event=\d+$"))
    notice = page.get_by_role("status").filter(has_text=SAVED[lang])
    expect(notice).to_be_visible()
    if lang == "lv" and width == 390:
        screenshot(page, "20-case-page-phone")
    fits(page)
    after = events(app, ref)
    assert after[1] == "board_assessment"
    page.reload()
    expect(page.get_by_role("status").filter(has_text=SAVED[lang])).to_be_visible()
    assert events(app, ref) == after

    # the timeline: newest first, then oldest first by its toggle (kept in the URL)
    first = page.locator("ol.timeline > li").first
    expect(first).to_have_id(f"event-{after[0]}")
    page.get_by_role("link", name=TOGGLE[lang][0]).click()
    expect(page).to_have_url(re.compile(r"\?order=oldest#timeline$"))
    expect(page.locator("ol.timeline > li").first).to_have_id("event-1")
    expect(page.get_by_role("link", name=TOGGLE[lang][1])).to_be_visible()
    fits(page)
    # chromium reports the refused form's 422 response itself; nothing else may show
    s.errors = [e for e in s.errors if "status of 422" not in e]
    s.assert_no_errors()
    s.close()
