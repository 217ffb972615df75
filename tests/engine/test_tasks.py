"""Institutions' answers on their tasks (engine.tasks), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from engine.answers import (
    AlreadyAnswered,
    ReasonRequired,
    TaskAction,
    TaskClosed,
    answer,
    decide_extension,
)
from engine.errors import FieldError, NotFound, PermissionDenied, StaleCase
from engine.escalation import tick
from engine.events import verify_chain
from engine.runtime import Actor
from engine.tables import Case, CaseEvent, Outbox, Task
from engine.tasks import open_task_of
from gaita.bootstrap import App
from tests.conftest import snapshot
from tests.engine.test_fire import SCHOOL, act, open_absence

STAFF = Actor("skola", "institution_staff", SCHOOL)
LINK = Actor(f"link:{SCHOOL}", "institution_staff", SCHOOL)
COORDINATOR = Actor("koordinatore", "coordinator", "jip")
TASK, EVENT, OUTBOX = Task.__table__, CaseEvent.__table__, Outbox.__table__


def task_row(gaita: App, task_id: int) -> Any:
    with gaita.db.connect() as conn:
        return conn.execute(sa.select(TASK).where(TASK.c.id == task_id)).mappings().one()


def last_event(gaita: App) -> Any:
    with gaita.db.connect() as conn:
        return conn.execute(sa.select(EVENT).order_by(EVENT.c.id.desc())).mappings().first()


def test_acknowledge_records_the_time_and_a_chained_event_with_the_institution_as_actor(
        gaita: App) -> None:
    ref = open_absence(gaita)
    task_id = open_task_of(gaita.db, ref)
    answer(gaita.db, gaita.rt, task_id, TaskAction.ACKNOWLEDGE, LINK)
    assert task_row(gaita, task_id)["acknowledged_at"] == gaita.rt.clock.now()
    e = last_event(gaita)
    assert (e["kind"], e["actor"], e["actor_institution"], e["payload"]) == (
        "task", f"link:{SCHOOL}", SCHOOL, {"action": "acknowledge", "task": task_id})
    with gaita.db.connect() as conn:
        assert verify_chain(conn, e["case_id"]) == []
        # acknowledging tells nobody; the other answers tell the coordinating institution
        assert conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
            OUTBOX.c.event_id == e["id"])).scalar() == 0


@pytest.mark.parametrize("action", [TaskAction.DECLINE, TaskAction.MORE_TIME])
def test_decline_and_more_time_need_a_reason_and_store_nothing_without_one(
        gaita: App, action: TaskAction) -> None:
    ref = open_absence(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(ReasonRequired, match=f"'{action.value}' needs a reason"):
        answer(gaita.db, gaita.rt, open_task_of(gaita.db, ref), action, STAFF, reason="  ", days=2)
    assert snapshot(gaita.db) == before


def test_decline_keeps_the_reason_with_diacritics_and_tells_the_coordinator(gaita: App) -> None:
    ref = open_absence(gaita)
    task_id = open_task_of(gaita.db, ref)
    reason = "Skolēns pārcēlies uz Rīgu; ģimene neatbild — ņēmām vērā"
    answer(gaita.db, gaita.rt, task_id, TaskAction.DECLINE, STAFF, reason=reason)
    assert task_row(gaita, task_id)["declined_at"] is not None
    e = last_event(gaita)
    assert e["payload"]["reason"] == reason
    with gaita.db.connect() as conn:
        notice = conn.execute(sa.select(OUTBOX).where(OUTBOX.c.event_id == e["id"])).mappings().one()
    assert (notice["template"], notice["recipient_institution"], notice["task_id"]) == (
        "case_update", "jip", None)
    with pytest.raises(AlreadyAnswered, match="already declined"):
        answer(gaita.db, gaita.rt, task_id, TaskAction.ACCEPT, STAFF)


def test_answers_belong_to_the_institution_holding_the_task(gaita: App) -> None:
    ref = open_absence(gaita)
    task_id = open_task_of(gaita.db, ref)
    before = snapshot(gaita.db)
    other = Actor("link:jelgavas-spidolas-gimnazija", "institution_staff",
                  "jelgavas-spidolas-gimnazija")
    with pytest.raises(PermissionDenied, match="holds no task on this case"):
        answer(gaita.db, gaita.rt, task_id, TaskAction.ACKNOWLEDGE, other)
    with pytest.raises(PermissionDenied, match="read-only"):
        answer(gaita.db, gaita.rt, task_id, TaskAction.ACKNOWLEDGE, Actor("auditors", "auditor", SCHOOL))
    assert snapshot(gaita.db) == before


def test_done_with_a_trigger_fires_it_keeping_the_note_and_closes_the_task(gaita: App) -> None:
    ref = open_absence(gaita)
    task_id = open_task_of(gaita.db, ref)
    result = answer(gaita.db, gaita.rt, task_id, TaskAction.DONE, LINK, reason="Sazvanīju māti",
                    trigger="record_unjustified", fields={"parents_reached": "jā"})
    assert result.fired is not None and result.fired.to_state == "in_school_support"
    e = last_event(gaita)
    assert (e["trigger"], e["payload"]) == ("record_unjustified",
                                            {"parents_reached": True, "note": "Sazvanīju māti"})
    assert task_row(gaita, task_id)["closed_at"] is not None
    with pytest.raises(TaskClosed, match="is closed; the case is now at in_school_support"):
        answer(gaita.db, gaita.rt, task_id, TaskAction.ACKNOWLEDGE, LINK)


def test_done_with_a_bad_field_changes_nothing(gaita: App) -> None:
    ref = open_absence(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(FieldError):
        answer(gaita.db, gaita.rt, open_task_of(gaita.db, ref), TaskAction.DONE, LINK,
               trigger="record_unjustified", fields={"parents_reached": "varbūt"})
    assert snapshot(gaita.db) == before


def test_a_used_link_is_refused_the_second_time(gaita: App) -> None:
    ref = open_absence(gaita)
    task_id = open_task_of(gaita.db, ref)
    with gaita.db.connect() as conn:
        outbox_id = conn.execute(sa.select(OUTBOX.c.id).where(OUTBOX.c.task_id == task_id)).scalar_one()
    answer(gaita.db, gaita.rt, task_id, TaskAction.ACCEPT, LINK, link=outbox_id)
    before = snapshot(gaita.db)
    with pytest.raises(AlreadyAnswered):
        answer(gaita.db, gaita.rt, task_id, TaskAction.ACCEPT, LINK, link=outbox_id)
    assert snapshot(gaita.db) == before


def test_more_time_is_decided_by_the_coordinator_and_moves_the_due_date(gaita: App) -> None:
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached=True)
    task_id = open_task_of(gaita.db, ref)
    due = task_row(gaita, task_id)["due_at"]
    answer(gaita.db, gaita.rt, task_id, TaskAction.MORE_TIME, STAFF, reason="Gaidām ārsta izziņu",
           days=3)
    with pytest.raises(AlreadyAnswered, match="already has a request for 3 more working days"):
        answer(gaita.db, gaita.rt, task_id, TaskAction.MORE_TIME, STAFF, reason="vēl", days=1)
    with pytest.raises(PermissionDenied):
        decide_extension(gaita.db, gaita.rt, ref, STAFF, approve=True)
    new_due = decide_extension(gaita.db, gaita.rt, ref, COORDINATOR, approve=True)
    cal = gaita.rt.calendar
    assert new_due == cal.due_at(due, 3) and task_row(gaita, task_id)["due_at"] == new_due
    assert task_row(gaita, task_id)["extension_days"] is None
    with pytest.raises(NotFound, match="no pending request"):
        decide_extension(gaita.db, gaita.rt, ref, COORDINATOR, approve=False)


def test_an_answer_makes_an_older_version_stale(gaita: App) -> None:
    ref = open_absence(gaita)
    with gaita.db.connect() as conn:
        version = conn.execute(sa.select(Case.__table__.c.version)).scalar_one()
    answer(gaita.db, gaita.rt, open_task_of(gaita.db, ref), TaskAction.ACKNOWLEDGE, STAFF)
    from engine.cases import fire
    with pytest.raises(StaleCase):
        fire(gaita.db, gaita.rt, ref, "record_unjustified", STAFF, {"parents_reached": "true"},
             expected_version=version)


def test_unacknowledged_tasks_are_recorded_once_after_the_acknowledgement_deadline(
        gaita: App, clock: Any) -> None:
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached=True)
    task_id = open_task_of(gaita.db, ref)
    ack_due = task_row(gaita, task_id)["ack_due_at"]
    days = gaita.rt.days("tasks.acknowledge_days")
    assert ack_due == gaita.rt.calendar.due_at(clock.now(), days)
    assert tick(gaita.db, gaita.rt).effects == {}
    clock.set(ack_due + timedelta(seconds=1))
    assert tick(gaita.db, gaita.rt).effects == {"unacknowledged": 1}
    assert tick(gaita.db, gaita.rt).effects == {}
    assert task_row(gaita, task_id)["unacknowledged_at"] == clock.now()
    assert last_event(gaita)["kind"] == "unacknowledged"


def test_an_acknowledged_task_is_never_recorded_as_unacknowledged(gaita: App, clock: Any) -> None:
    ref = open_absence(gaita)
    task_id = open_task_of(gaita.db, ref)
    answer(gaita.db, gaita.rt, task_id, TaskAction.ACKNOWLEDGE, STAFF)
    clock.advance(days=30)
    assert "unacknowledged" not in tick(gaita.db, gaita.rt).effects


def test_only_the_coordinating_institution_decides_on_more_time_and_the_institution_is_told(
        gaita: App) -> None:
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached=True)
    task_id = open_task_of(gaita.db, ref)
    before = task_row(gaita, task_id)
    answer(gaita.db, gaita.rt, task_id, TaskAction.MORE_TIME, STAFF, reason="Ārsta izziņa", days=2)
    with gaita.db.connect() as conn:
        told = conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id.desc())).mappings().first()
    assert told["recipient_institution"] == "jip"
    assert told["payload"]["extra"] == {"answer": "more_time", "days": 2}   # never the reason
    for outsider in (Actor("grupa", "group_member", "jslp"), Actor("vaditajs", "group_chair", "dome")):
        with pytest.raises(PermissionDenied, match="only the coordinating institution's users"):
            decide_extension(gaita.db, gaita.rt, ref, outsider, approve=True)
    with pytest.raises(PermissionDenied, match="admin does not work on cases"):
        decide_extension(gaita.db, gaita.rt, ref, Actor("admin", "admin"), approve=True)
    decide_extension(gaita.db, gaita.rt, ref, Actor("koordinatore", "coordinator", "jip"),
                     approve=True)
    after = task_row(gaita, task_id)
    cal = gaita.rt.calendar
    assert after["due_at"] == cal.due_at(before["due_at"], 2)
    assert after["remind_at"] == cal.due_at(before["remind_at"], 2)
    with gaita.db.connect() as conn:
        told = conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id.desc())).mappings().first()
    assert (told["recipient_institution"], told["task_id"]) == (SCHOOL, task_id)   # with links
    assert told["payload"]["extra"] == {"answer": "extension_approved", "days": 2}


def test_after_done_is_reported_the_task_cannot_be_accepted_or_declined(gaita: App) -> None:
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached=True)
    task_id = open_task_of(gaita.db, ref)
    answer(gaita.db, gaita.rt, task_id, TaskAction.DONE, STAFF, reason="Paveikts")
    for action in (TaskAction.ACCEPT, TaskAction.DECLINE, TaskAction.DONE):
        with pytest.raises(AlreadyAnswered, match="already reported done"):
            answer(gaita.db, gaita.rt, task_id, action, STAFF, reason="x")
