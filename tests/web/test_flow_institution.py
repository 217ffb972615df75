"""An institution answering with context, in a real browser (Debian's chromium,
Playwright), in Latvian and English at 1366 px and 390 px (issue 12, point 4).

The social service finds its task in the inbox (a card per task on a phone, a due badge
in words), reads what is asked and why on the task page (the coordinator's referral, the
case fields it may read, whom to contact) and confirms receipt there; then it answers
from the email's link, with the same context, reporting the task done with no next step
(a step's fields show only when that step is chosen); back in the inbox the task waits
for the coordinator, apart from the open ones.  Every page fits the width.

Screenshot (``make screenshots``, Latvian at 1366 px): ``14-link-task-context``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect

from engine.answers import TaskAction
from engine.cases import fire, open_case
from engine.notes import add_note
from engine.queries import actor_for
from engine.store import OUTBOX, TASK, load_case_row
from gaita.bootstrap import App
from gaita.demo import demo_code
from notifications.links import ActionLink, LinkSigner, action_path, link_expiry
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

SCHOOL = "jelgavas-4-vsk"
PROBLEM = "Ģimenes situācija: māte strādā maiņās"
WORDS = {
    "lv": {"inbox": "Iestādes uzdevumi", "task": "Uzdevums lietā {ref}",
           "brief": "Kas tiek lūgts un kāpēc", "ack": "Apstiprinu saņemšanu",
           "done_title": "Ziņot par izpildi", "done": "Ziņot par izpildi",
           "police": "Iesaistīt pašvaldības policiju",
           "waiting": "Izpildīts, gaida koordinatora lēmumu", "thanks": "Paldies — izpilde reģistrēta.",
           "ack_means": "Apstiprināt saņemšanu: tikai apliecina"},
    "en": {"inbox": "Institution's tasks", "task": "Task on case {ref}",
           "brief": "What is asked and why", "ack": "Confirm receipt",
           "done_title": "Report the task done", "done": "Report done",
           "police": "Involve the municipal police",
           "waiting": "Done, waiting for the coordinator",
           "thanks": "Thank you — the task is recorded as done.",
           "ack_means": "Confirm receipt: only says the task has arrived"},
}


@dataclass
class Served:
    app: App
    base: str
    browser: Browser


_children = itertools.count(700)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One app (SQLite, the demo users and cases) and one browser for the module."""
    app = demo_app(tmp_path_factory, "flow-institution")
    with serve(app) as base, chromium() as browser:
        yield Served(app, base, browser)
    app.db.dispose()


def at_social_service(app: App) -> tuple[str, int]:
    """A new absences case the coordinator referred to the social service, with a note:
    its reference and the social service's task."""
    n = next(_children)
    school, coordinator = actor_for(app.db, "skola"), actor_for(app.db, "koordinatore")
    opened = open_case(app.db, app.rt, "absences", school, child_name=f"Bērns Nr. {n}",
                       child_code=demo_code(n), school=SCHOOL, fields={"age_group": "basic"})
    ref = opened.reference
    fire(app.db, app.rt, ref, "record_unjustified", school, {"parents_reached": False})
    fire(app.db, app.rt, ref, "report_to_board", school,
         {"unjustified_lessons": 26, "school_actions": "Sarunas ar vecākiem un klases audzinātāju"})
    fire(app.db, app.rt, ref, "refer_to_social_service", coordinator,
         {"social_problem": True, "problem_description": PROBLEM})
    add_note(app.db, app.rt, ref, coordinator, "Lūdzu sazinieties ar ģimeni līdz piektdienai.")
    with app.db.connect() as conn:
        case = load_case_row(conn, ref)
        task_id = conn.execute(sa.select(TASK.c.id).where(
            TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None))).scalar_one()
    return ref, int(task_id)


def done_link(app: App, task_id: int) -> str:
    """The "done" link of the social service's email about its task."""
    with app.db.connect() as conn:
        mail = conn.execute(sa.select(OUTBOX.c.id, OUTBOX.c.created_at).where(
            OUTBOX.c.task_id == task_id, OUTBOX.c.recipient_institution == "jslp")).one()
    token = LinkSigner(app.settings.secret_key).sign(ActionLink(
        mail.id, task_id, TaskAction.DONE, link_expiry(app.rt, mail.created_at)))
    return action_path(TaskAction.DONE, token)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("lang", LANGS)
def test_an_institution_answers_with_context_from_the_inbox_and_the_email_link(
        served: Served, lang: str, width: int) -> None:
    app, w = served.app, WORDS[lang]
    ref, task_id = at_social_service(app)

    # --- the inbox: the task with a due badge; its page briefs the institution ----------
    staff = Session(served.browser, served.base, width=width, lang=lang)
    staff.log_in("socdienests")
    page = staff.go(f"/lang/{lang}?next=/inbox")   # the user's own language is English
    checked(page, w["inbox"], lang=lang)
    fits(page)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=ref))
    expect(row).to_have_count(1)
    row.get_by_role("link", name="Sociālais darbs ar ģimeni" if lang == "lv"
                    else "Social work with the family").click()
    checked(page, w["task"].format(ref=ref), lang=lang)
    brief = page.locator("section.brief")
    expect(brief).to_contain_text(w["brief"])
    expect(brief).to_contain_text(PROBLEM)
    expect(brief).to_contain_text("Lūdzu sazinieties ar ģimeni līdz piektdienai.")
    expect(brief).to_contain_text("Sarunas ar vecākiem un klases audzinātāju")
    expect(brief).to_contain_text("Inese Koordinatore")
    expect(brief.get_by_role("link", name="+371 63000000")).to_be_visible()
    expect(page.get_by_text(w["ack_means"])).to_be_visible()
    # declining is folded away below the other answers
    expect(page.locator("details.secondary > summary")).to_be_visible()
    expect(page.locator("details.secondary button")).to_be_hidden()
    fits(page)
    page.get_by_role("button", name=w["ack"]).click()
    checked(page, w["inbox"], lang=lang)
    expect(page.locator("p.notice")).to_be_visible()

    # --- the email link (no account): the same context, then "done" ---------------------
    mail = Session(served.browser, served.base, width=width, lang=lang)
    page = mail.go(done_link(app, task_id) + ("?lang=en" if lang == "en" else ""))
    checked(page, w["done_title"], lang=lang)
    brief = page.locator("section.brief")
    expect(brief).to_contain_text(w["brief"])
    expect(brief).to_contain_text(PROBLEM)
    expect(brief.get_by_role("link", name="+371 63000000")).to_be_visible()
    fits(page)
    if lang == "lv" and width == 1366:
        screenshot(page, "14-link-task-context")
    # a next step's fields show only while that step is chosen
    reason = page.locator('select[name="f.involve_police.reason"]')
    expect(reason).to_be_hidden()
    page.get_by_label(w["police"]).check()
    expect(reason).to_be_visible()
    fits(page)
    page.locator("#trigger-none").check()
    expect(reason).to_be_hidden()
    page.locator("#note").fill("Ģimene apmeklēta; atbalsts sākts.")
    page.get_by_role("button", name=w["done"]).click()
    checked(page, w["thanks"], lang=lang)
    fits(page)

    # --- back in the inbox: done, waiting for the coordinator, out of the open list ------
    page = staff.go("/inbox")
    waiting = page.locator("section", has=page.get_by_role("heading", name=w["waiting"]))
    expect(waiting.get_by_role("link", name=ref)).to_be_visible()
    open_rows = page.locator("table.rows").first.get_by_role("link", name=ref)
    if page.locator("table.rows").count() > 1:
        expect(open_rows).to_have_count(0)
    fits(page)
    for s in (staff, mail):
        s.assert_no_errors()
        s.close()
