"""Several reports at once (issue 11 §2-3): a state's declared reports, each a task of
its recipient, filed beside the state's own task; a transition that waits for them.

D2: violence is reported the same day to the police and/or the orphan's court; when it
happens at home the orphan's court must be told.  Filing the second report no longer
takes the case off the MK 474 p. 11-12 track.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from engine.answers import TaskAction, answer
from engine.cases import fire, open_case
from engine.errors import AccessDenied, FieldError, NotFound, NotPermitted, StaleCase
from engine.events import verify_chain
from engine.filings import file_report, report_details, report_status, waive_report
from engine.parties import add_aggressor
from engine.queries import actor_for, case_view, link_actor
from engine.store import CASE, ESCALATION, OUTBOX, TASK, load_case_row
from engine.tables import TaskKind, TaskStatus
from gaita.bootstrap import App
from gaita.demo import demo_code
from tests.conftest import snapshot
from tests.engine.test_escalation import tick_at

SCHOOL = "jelgavas-4-vsk"
REPORT = {"description": "Tēvs sita bērnu mājās; zilumi uz rokas", "contact": "Direktore, 63000000"}
ANSWER = {"taken_up": "proceedings_started", "file_number": "VP-2026-118"}


def open_violence(app: App, kind: str = "at_home") -> str:
    return open_case(app.db, app.rt, "violence", actor_for(app.db, "skola"),
                     child_name="Anna Bērziņa", child_code="120514-21234", school=SCHOOL,
                     fields={"violence_kind": kind, "violence_form": "physical",
                             "finding": "found"}).reference


def act(app: App, ref: str, trigger: str, user: str = "skola", **fields: Any) -> Any:
    return fire(app.db, app.rt, ref, trigger, actor_for(app.db, user), fields)


def file(app: App, ref: str, report: str, user: str = "skola") -> Any:
    return file_report(app.db, app.rt, ref, report, actor_for(app.db, user), REPORT)


def tasks(app: App, ref: str) -> list[dict[str, Any]]:
    with app.db.connect() as conn:
        case = load_case_row(conn, ref)
        return [dict(t) for t in conn.execute(sa.select(TASK).where(
            TASK.c.case_id == case["id"]).order_by(TASK.c.id)).mappings()]


def test_violence_at_home_is_reported_to_the_police_and_the_orphans_court_then_follows_p12(
        gaita: App) -> None:
    ref = open_violence(gaita)
    protected = {"victim_protected": True, "first_aid_given": False}
    police = file(gaita, ref, "state_police")
    assert police.task.assignee == "vp-jelgava"
    with pytest.raises(NotPermitted) as refused:   # at home: the orphan's court must be told
        act(gaita, ref, "protected_and_reported", **protected)
    assert refused.value.code == "report.required_missing"
    assert "orphans_court" in str(refused.value)
    court = file(gaita, ref, "orphans_court")
    # the case did not move: both reports are tasks beside the school's own task
    with gaita.db.connect() as conn:
        assert load_case_row(conn, ref)["state"] == "immediate_protection"
    by_kind = {(t["kind"], t["report"]): t for t in tasks(gaita, ref)}
    assert by_kind[("state", None)]["assignee_institution"] == SCHOOL
    assert by_kind[("report", "state_police")]["assignee_institution"] == "vp-jelgava"
    assert by_kind[("report", "orphans_court")]["assignee_institution"] == court.task.assignee
    with gaita.db.connect() as conn:
        mails = conn.execute(sa.select(OUTBOX.c.template, OUTBOX.c.recipient_institution,
                                       OUTBOX.c.task_id)).all()
    assert ("urgent_report", "vp-jelgava", police.task.id) in mails   # carries the task links
    assert ("urgent_report", court.task.assignee, court.task.id) in mails
    # the MK 474 p. 11-12 track: school measures, no improvement, the group
    act(gaita, ref, "protected_and_reported", **protected)
    act(gaita, ref, "founder_informed", victim_parents_informed=True)
    act(gaita, ref, "school_to_resolve", user="koordinatore", support_given="Psihologs")
    add_aggressor(gaita.db, gaita.rt, ref, actor_for(gaita.db, "skola"), name="Pēteris Kalns",
                  code=demo_code(9), school=SCHOOL, municipality="jelgava")
    r = act(gaita, ref, "report_to_municipality", no_improvement=True,
            parents_not_cooperating=True, measures_taken="Sarunas, atbalsta plāns")
    assert r.to_state == "mk545_examination"
    with gaita.db.connect() as conn:
        assert conn.execute(sa.select(ESCALATION.c.reasons)).scalar_one() == ["mk474_p12"]
        assert verify_chain(conn, load_case_row(conn, ref)["id"]) == []
    # the police's task is still theirs: reports do not close with the state
    assert {t["report"]: t["closed_at"] for t in tasks(gaita, ref) if t["report"]} == {
        "state_police": None, "orphans_court": None}


def test_at_least_one_report_before_moving_on_and_a_waiver_needs_a_reason(gaita: App) -> None:
    ref = open_violence(gaita, "pupil_to_pupil")
    with pytest.raises(NotPermitted) as refused:
        act(gaita, ref, "protected_and_reported", victim_protected=True, first_aid_given=True)
    assert refused.value.code == "report.too_few"
    before = snapshot(gaita.db)
    with pytest.raises(FieldError) as no_reason:
        waive_report(gaita.db, gaita.rt, ref, "orphans_court", actor_for(gaita.db, "skola"), " ")
    assert no_reason.value.reason.code == "report.waive_reason"
    assert snapshot(gaita.db) == before
    waive_report(gaita.db, gaita.rt, ref, "orphans_court", actor_for(gaita.db, "skola"),
                 "Vardarbība starp skolēniem; ģimenē apdraudējuma nav")
    with pytest.raises(NotPermitted) as twice:
        waive_report(gaita.db, gaita.rt, ref, "orphans_court", actor_for(gaita.db, "skola"), "x")
    assert twice.value.code == "report.already_waived"
    file(gaita, ref, "municipal_police")
    with pytest.raises(NotPermitted) as again:
        file(gaita, ref, "municipal_police")
    assert again.value.code == "report.already_filed"
    assert act(gaita, ref, "protected_and_reported", victim_protected=True,
               first_aid_given=True).to_state == "inform_parents_and_founder"


def test_a_required_report_may_be_waived_with_its_reason(gaita: App) -> None:
    ref = open_violence(gaita)
    file(gaita, ref, "state_police")
    waive_report(gaita.db, gaita.rt, ref, "orphans_court", actor_for(gaita.db, "koordinatore"),
                 "Bāriņtiesa informēta mutiski jau iepriekš, lieta Nr. 12")
    status = {s.report.code: s for s in _status(gaita, ref)}
    assert status["orphans_court"].required and status["orphans_court"].waived is not None
    assert act(gaita, ref, "protected_and_reported", victim_protected=True,
               first_aid_given=True).to_state == "inform_parents_and_founder"


def _status(app: App, ref: str) -> list[Any]:
    with app.db.connect() as conn:
        case = load_case_row(conn, ref)
        return report_status(conn, app.rt.registry.get("violence", 1), case)


def test_bad_reports_are_refused_and_nothing_is_stored(gaita: App) -> None:
    ref = open_violence(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(NotFound) as unknown:
        file(gaita, ref, "vsaa")
    assert unknown.value.code == "report.not_declared" and "state_police" in str(unknown.value)
    with pytest.raises(AccessDenied):
        file(gaita, ref, "state_police", user="auditors")
    with pytest.raises(FieldError) as missing:
        file_report(gaita.db, gaita.rt, ref, "state_police", actor_for(gaita.db, "skola"),
                    {"description": "Kautiņš"})
    assert missing.value.field == "contact"
    with pytest.raises(StaleCase):
        file_report(gaita.db, gaita.rt, ref, "state_police", actor_for(gaita.db, "skola"),
                    REPORT, expected_version=0)
    assert snapshot(gaita.db) == before


def test_the_recipient_reads_exactly_the_declared_fields_and_answers(gaita: App) -> None:
    ref = open_violence(gaita)
    police = file(gaita, ref, "state_police")
    wf = gaita.rt.registry.get("violence", 1)
    with gaita.db.connect() as conn:
        task = conn.execute(sa.select(TASK).where(TASK.c.id == police.task.id)).mappings().one()
        data = load_case_row(conn, ref)["data"]
    shown = report_details(wf, task["state"], task, data)
    assert shown["filed"] == REPORT
    assert set(shown["case"]) == {"violence_kind", "violence_form", "finding"}
    officer = link_actor(gaita.rt, "vp-jelgava")
    before = snapshot(gaita.db)
    with pytest.raises(FieldError) as bad:
        answer(gaita.db, gaita.rt, police.task.id, TaskAction.DONE, officer,
               fields={"taken_up": "maybe"})
    assert bad.value.field == "taken_up"
    assert snapshot(gaita.db) == before
    answer(gaita.db, gaita.rt, police.task.id, TaskAction.DONE, officer, fields=ANSWER)
    done = next(t for t in tasks(gaita, ref) if t["id"] == police.task.id)
    assert done["status"] == TaskStatus.DONE and done["details"]["answer"] == ANSWER
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"))
    answered = [e for e in view["timeline"] if e["kind"] == "task"]
    assert answered[-1]["fields"]["answer"] == ANSWER


def test_an_unanswered_report_is_chased_on_its_own_ladder(gaita: App) -> None:
    ref = open_violence(gaita, "pupil_to_pupil")
    police = file(gaita, ref, "state_police")
    report = next(t for t in tasks(gaita, ref) if t["id"] == police.task.id)
    effects = tick_at(gaita, report["ack_due_at"]).effects
    assert effects["unacknowledged"] == 1
    effects = tick_at(gaita, report["due_at"]).effects
    assert effects["breach"] == 1 and effects["ladder:notify_coordinator"] == 1
    with gaita.db.connect() as conn:
        overdue = conn.execute(sa.select(OUTBOX.c.recipient_institution).where(
            OUTBOX.c.template == "task_overdue", OUTBOX.c.task_id == police.task.id)).scalars()
        assert "vp-jelgava" in list(overdue)


def test_closing_a_case_ends_the_tasks_beside_it(gaita: App) -> None:
    ref = open_violence(gaita, "pupil_to_pupil")
    police = file(gaita, ref, "municipal_police")
    act(gaita, ref, "protected_and_reported", victim_protected=True, first_aid_given=True)
    act(gaita, ref, "founder_informed", victim_parents_informed=True)
    act(gaita, ref, "suspicion_not_confirmed", user="koordinatore", reason="Nepamatotas aizdomas")
    report = next(t for t in tasks(gaita, ref) if t["id"] == police.task.id)
    assert report["status"] == TaskStatus.CANCELLED and report["next_check_at"] is None
    assert tick_at(gaita, report["due_at"]).effects == {}
    with gaita.db.connect() as conn:
        open_left = conn.execute(sa.select(sa.func.count()).select_from(TASK).where(
            TASK.c.closed_at.is_(None))).scalar_one()
        assert open_left == 0
        assert conn.execute(sa.select(CASE.c.status)).scalar_one() == "closed"
    assert report["kind"] == TaskKind.REPORT
