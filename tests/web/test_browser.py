"""A real browser (Debian's chromium, driven by Playwright) through a real server (uvicorn)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from engine.answers import TaskAction
from engine.store import load_case_row
from gaita.bootstrap import App
from tests.web.browser import BROWSER_MARKS, chromium, serve
from tests.web.conftest import CHILD_MARKS, LINK_ACTOR, OpenTask, link_url

pytestmark = BROWSER_MARKS


def test_acknowledge_then_done_in_a_browser(gaita: App, task: OpenTask) -> None:
    with serve(gaita) as base, chromium() as browser:
        context = browser.new_context()   # a fresh profile: no cookies yet
        page = context.new_page()

        # Acknowledge, by keyboard only.
        page.goto(base + link_url(gaita, task, TaskAction.ACKNOWLEDGE))
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Apstiprināt uzdevuma saņemšanu")
        expect(page.locator("html")).to_have_attribute("lang", "lv")
        button = page.get_by_role("button", name="Apstiprinu saņemšanu")
        # the inline stylesheet is allowed by the Content-Security-Policy
        assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 79, 138)"
        for _ in range(10):
            if button.evaluate("b => b === document.activeElement"):
                break
            page.keyboard.press("Tab")
        else:
            pytest.fail("the confirm button cannot be reached with Tab")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Paldies — uzdevuma saņemšana apstiprināta.")
        assert task.reference in page.content()

        # Done, choosing the next step and filling its field.
        page.goto(base + link_url(gaita, task, TaskAction.DONE))
        expect(page.get_by_role("heading", level=1)).to_have_text("Ziņot par izpildi")
        page.get_by_label("Kavējums neattaisnots").check()
        page.get_by_role("group", name="Vecāki sasniegti").get_by_label("Nē").check()
        page.get_by_label("Piezīme").fill("Zvanījām divreiz; māte neatbild")
        page.get_by_role("button", name="Ziņot par izpildi").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Paldies — izpilde reģistrēta.")
        html = page.content()
        assert "Atbalsts izglītības iestādē un kavējumu uzskaite" in html
        assert not [mark for mark in CHILD_MARKS if mark in html]
        context.close()

    with gaita.db.connect() as conn:
        case = load_case_row(conn, task.reference)
        actors = conn.execute(sa.text(
            "SELECT kind, actor FROM case_event WHERE case_id = :c ORDER BY seq"),
            {"c": case["id"]}).all()
    assert (case["state"], case["data"]["parents_reached"]) == ("in_school_support", False)
    assert [tuple(a) for a in actors][1:] == [("task", LINK_ACTOR), ("transition", LINK_ACTOR)]
