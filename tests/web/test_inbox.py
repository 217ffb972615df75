"""The institution inbox: open tasks, answered from the web app (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.cases import fire
from engine.queries import actor_for
from engine.store import TASK, load_case_row
from gaita.bootstrap import App
from tests.conftest import snapshot
from tests.web.conftest import (
    CHILD_MARKS,
    DEMO_PASSWORD,
    form_csrf,
    open_task,
    without_access_log,
)

Client = Callable[[str | None], TestClient]
SOCIAL = "jslp"


def login(browser_client: Client, username: str) -> TestClient:
    """A browser logged in as ``username`` (not following the home page: other pages'
    helpers build those)."""
    c = browser_client(None)
    page = c.get("/login")
    done = c.post("/login", data={"csrf": form_csrf(page.text), "username": username,
                                  "password": DEMO_PASSWORD})
    assert done.status_code == 303, done.text
    return c


def csrf(c: TestClient) -> str:
    return form_csrf(c.get("/inbox").text)


def at_board(web: App) -> str:
    """An absences case the school reported to the education board (its task is jip's)."""
    task = open_task(web)
    school = actor_for(web.db, "skola")
    fire(web.db, web.rt, task.reference, "record_unjustified", school, {"parents_reached": False})
    fire(web.db, web.rt, task.reference, "report_to_board", school,
         {"unjustified_lessons": 24, "school_actions": "Sarunas ar vecākiem"})
    return task.reference


def at_social_service(web: App) -> str:
    reference = at_board(web)
    fire(web.db, web.rt, reference, "refer_to_social_service", actor_for(web.db, "koordinatore"),
         {"social_problem": True, "problem_description": "Ģimenes situācija"})
    return reference


def open_tasks(web: App, reference: str) -> list[dict[str, Any]]:
    with web.db.connect() as conn:
        case = load_case_row(conn, reference)
        return [dict(r) for r in conn.execute(sa.select(TASK).where(
            TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None))
            .order_by(TASK.c.id)).mappings()]


def task_id_in(html: str, reference: str) -> int:
    row = re.search(rf'{re.escape(reference)}</a></td>.*?href="/inbox/(\d+)"', html, re.S)
    assert row, f"{reference} is not in the inbox"
    return int(row.group(1))


def test_social_service_answers_its_task_from_the_inbox(web: App, browser_client: Client) -> None:
    reference = at_board(web)
    # the coordinator moves the case to the social service from its own inbox
    coordinator = login(browser_client, "koordinatore")
    inbox = coordinator.get("/inbox")
    assert inbox.status_code == 200
    board_task = task_id_in(inbox.text, reference)
    page = coordinator.get(f"/inbox/{board_task}")
    assert page.status_code == 200
    assert "Nodot sociālajam dienestam" in page.text   # a step the coordinator may take
    moved = coordinator.post(f"/inbox/{board_task}/done", data={
        "csrf": form_csrf(page.text), "trigger": "refer_to_social_service",
        "f.refer_to_social_service.social_problem": "true",
        "f.refer_to_social_service.problem_description": "Ģimenes situācija"})
    assert (moved.status_code, moved.headers["location"]) == (303, "/inbox?done=done")
    with web.db.connect() as conn:
        assert load_case_row(conn, reference)["state"] == "social_work"

    social = login(browser_client, "socdienests")   # an English-speaking user (demo.yaml)
    inbox = social.get("/inbox")
    assert inbox.status_code == 200
    task_id = task_id_in(inbox.text, reference)
    assert [t["id"] for t in open_tasks(web, reference)] == [task_id]
    due = web.rt.calendar.local_date(open_tasks(web, reference)[0]["due_at"])
    for shown in (f'href="/cases/{reference}"', "Unjustified absences", "Social work with the family",
                  due.strftime("%-d %B %Y"), "10 working days left", "receipt not confirmed"):
        assert shown in inbox.text, shown
    assert not any(mark in inbox.text for mark in CHILD_MARKS)

    page = social.get(f"/inbox/{task_id}")
    assert page.status_code == 200
    assert all(f'action="/inbox/{task_id}/{a}"' in page.text
               for a in ("acknowledge", "accept", "decline", "done", "more_time"))
    token = form_csrf(page.text)
    acked = social.post(f"/inbox/{task_id}/acknowledge", data={"csrf": token})
    assert (acked.status_code, acked.headers["location"]) == (303, "/inbox?done=acknowledge")
    notice = social.get(acked.headers["location"])
    assert "Thank you — receipt of the task is confirmed." in notice.text
    assert "receipt confirmed 30 November 2026, 09:00" in notice.text
    assert open_tasks(web, reference)[0]["acknowledged_at"] is not None
    again = social.post(f"/inbox/{task_id}/acknowledge", data={"csrf": token})
    assert again.status_code == 409

    done = social.post(f"/inbox/{task_id}/done", data={
        "csrf": token, "trigger": "attendance_restored", "note": "Skolēns atkal apmeklē skolu"})
    assert (done.status_code, done.headers["location"]) == (303, "/inbox?done=done")
    with web.db.connect() as conn:
        case = load_case_row(conn, reference)
    assert (case["state"], case["owner_institution"]) == ("attendance_monitoring", "jelgavas-4-vsk")
    assert reference not in social.get("/inbox").text
    assert social.get(f"/inbox/{task_id}").status_code == 410   # closed: the case moved on


def test_another_institution_cannot_open_or_answer_the_task(web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    task_id = open_tasks(web, reference)[0]["id"]
    school = login(browser_client, "skola")
    token = csrf(school)
    assert reference not in school.get("/inbox").text
    before = snapshot(web.db)
    assert school.get(f"/inbox/{task_id}").status_code == 403
    for action, data in (("acknowledge", {}), ("decline", {"reason": "Nav mūsu"}),
                         ("done", {"trigger": "attendance_restored"}),
                         ("more_time", {"reason": "x", "days": "3"})):
        response = school.post(f"/inbox/{task_id}/{action}", data={"csrf": token, **data})
        assert response.status_code == 403, action
    assert snapshot(web.db) == before   # not even the access log
    assert login(browser_client, "socdienests").get(f"/inbox/{task_id}").status_code == 200


def test_decline_needs_a_reason(web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    task_id = open_tasks(web, reference)[0]["id"]
    social = login(browser_client, "socdienests")
    token = csrf(social)
    before = without_access_log(snapshot(web.db))
    refused = social.post(f"/inbox/{task_id}/decline", data={"csrf": token, "reason": "  "})
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text and 'href="#decline-reason"' in refused.text
    assert re.search(r'id="decline-reason"[^>]*aria-invalid="true"', refused.text)
    more = social.post(f"/inbox/{task_id}/more_time",
                       data={"csrf": token, "reason": "Ģimene prombūtnē", "days": "0"})
    assert more.status_code == 422 and 'href="#more_time-days"' in more.text
    assert "Ģimene prombūtnē" in more.text   # what was typed is kept
    assert without_access_log(snapshot(web.db)) == before
    declined = social.post(f"/inbox/{task_id}/decline",
                           data={"csrf": token, "reason": "Ģimene pārcēlusies uz Rīgu"})
    assert declined.status_code == 303
    assert open_tasks(web, reference)[0]["declined_at"] is not None


def test_answers_need_the_csrf_token(web: App, browser_client: Client) -> None:
    reference = at_social_service(web)
    task_id = open_tasks(web, reference)[0]["id"]
    social = login(browser_client, "socdienests")
    before = snapshot(web.db)
    assert social.post(f"/inbox/{task_id}/acknowledge").status_code == 403
    assert social.post(f"/inbox/{task_id}/acknowledge", data={"csrf": "x" * 64}).status_code == 403
    assert snapshot(web.db) == before
    assert social.post(f"/inbox/{task_id}/nonsense", data={"csrf": csrf(social)}).status_code == 404


def test_overdue_tasks_come_first_and_are_flagged(web: App, browser_client: Client) -> None:
    late = at_social_service(web)
    web.rt.clock.advance(days=7)   # Monday + 7 days: a week of the 10 working days gone
    fresh = at_social_service(web)
    web.rt.clock.advance(days=9)   # Wednesday 16 December: the first due on the 14th
    html = login(browser_client, "socdienests").get("/inbox").text
    assert html.index(late) < html.index(fresh)
    assert re.search(r'class="late">2 working days overdue<', html)
    assert "3 working days left" in html   # due Monday 21 December


def test_users_without_an_institution_see_why_the_inbox_is_empty(browser_client: Client) -> None:
    anonymous = browser_client(None)
    for path in ("/inbox", "/inbox/1", "/group"):
        response = anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    for username in ("auditors", "admin"):
        page = login(browser_client, username).get("/inbox")
        assert page.status_code == 200
        assert "nav piesaistīts nevienai iestādei" in page.text
