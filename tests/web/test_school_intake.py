"""Absence cases as schools report them, through the web (issue 11 §6): a case opened at
B4 with the count already over the threshold, then moved to another school, which takes
it over (the case stays open and is not a "repeated" one)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.store import CASE, ESCALATION
from gaita.bootstrap import App
from gaita.users import UserFields, create_user
from tests.conftest import snapshot
from tests.web.conftest import CHILD_CODE, DEMO_PASSWORD, SCHOOL, form_csrf

Client = Callable[[str | None], TestClient]
NEW_SCHOOL = "jelgavas-spidolas-gimnazija"


def b4_opening(csrf: str, lessons: str) -> dict[str, str]:
    return {"csrf": csrf, "child_name": "Līga Ozoliņa", "child_code": CHILD_CODE,
            "school": SCHOOL, "risk_level": "medium", "f.open.age_group": "basic",
            "f.open.grade": "7", "start_state": "board_assessment",
            "f.at_board_assessment.unjustified_lessons": lessons,
            "f.at_board_assessment.school_actions": "Sarunas ar vecākiem, atbalsta plāns"}


def test_a_school_opens_at_b4_and_the_case_moves_to_the_new_school(
        web: App, browser_client: Client) -> None:
    school = browser_client("skola")
    form = school.get("/cases/new/absences")
    assert 'name="start_state" value="board_assessment"' in form.text
    before = snapshot(web.db)
    refused = school.post("/cases/new/absences", data=b4_opening(form_csrf(form.text), "20"))
    assert refused.status_code == 422   # 20 is not over the threshold (> 20)
    assert snapshot(web.db) == before
    done = school.post("/cases/new/absences", data=b4_opening(form_csrf(form.text), "24"))
    assert done.status_code == 303, done.text
    page = school.get(done.headers["location"])
    assert "Izglītības pārvaldes izvērtējums" in page.text or "izvērtējum" in page.text
    reference = done.headers["location"].split("/")[2].split("?")[0]
    with web.db.connect() as conn:
        case = conn.execute(sa.select(CASE).where(CASE.c.reference == reference)).mappings().one()
    assert (case["state"], case["owner_institution"]) == ("board_assessment", "jip")

    coordinator = browser_client("koordinatore")
    shown = coordinator.get(f"/cases/{reference}")
    asked = coordinator.post(f"/cases/{reference}/transfer", data={
        "csrf": form_csrf(shown.text), "expected_version": str(case["version"]),
        "transfer_school": NEW_SCHOOL, "transfer_reason": "Ģimene pārcēlās uz citu rajonu"})
    assert asked.status_code == 303, asked.text

    create_user(web.db, web.rt, "admin", "spidola", UserFields(
        "Spīdolas ģimnāzijas sociālā pedagoģe", "institution_staff", NEW_SCHOOL),
        DEMO_PASSWORD)
    new_school = browser_client("spidola")
    waiting = new_school.get(f"/cases/{reference}")
    assert waiting.status_code == 200 and "/transfer/accept" in waiting.text
    accepted = new_school.post(f"/cases/{reference}/transfer/accept",
                               data={"csrf": form_csrf(waiting.text)})
    assert accepted.status_code == 303, accepted.text
    with web.db.connect() as conn:
        moved = conn.execute(sa.select(CASE).where(CASE.c.reference == reference)).mappings().one()
        queued = conn.execute(sa.select(sa.func.count()).select_from(ESCALATION)).scalar_one()
    assert (moved["school_institution"], moved["status"], moved["state"]) == (
        NEW_SCHOOL, "open", "board_assessment")
    assert queued == 0   # the same case: never flagged as a repeated one
