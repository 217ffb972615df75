"""Absence cases as schools report them (issue 11 point 6): opening at B3 or B4, the
threshold's `>` boundary, a referral below it with a social-problem reason, ages 5-6
counted in days, and a school move that transfers the case (engine walks, fixed clock)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from engine.answers import ReasonRequired, TaskAction, answer
from engine.cases import fire, open_case
from engine.errors import AccessDenied, FieldError, GuardFailed, NotFound, NotPermitted
from engine.events import EventKind, verify_chain
from engine.queries import actor_for, case_view
from engine.store import ACCESS, CASE, EVENT, OUTBOX, TASK, USER
from engine.tables import CaseStatus, TaskKind
from engine.transfer import pending_task_of, transfer_school
from gaita.bootstrap import App
from tests.conftest import snapshot

SCHOOL = "jelgavas-4-vsk"
NEW_SCHOOL = "jelgavas-spidolas-gimnazija"
CODE = "120514-21234"


def open_absence(gaita: App, *, start: str | None = None, age: str = "basic",
                 **fields: Any) -> Any:
    return open_case(gaita.db, gaita.rt, "absences", actor_for(gaita.db, "skola"),
                     child_name="Jānis Bērziņš", child_code=CODE, school=SCHOOL,
                     fields={"age_group": age, **fields}, start_state=start)


def act(gaita: App, ref: str, trigger: str, user: str, **fields: Any) -> Any:
    return fire(gaita.db, gaita.rt, ref, trigger, actor_for(gaita.db, user), fields)


@pytest.fixture
def new_school_user(gaita: App) -> str:
    with gaita.db.begin() as conn:
        conn.execute(sa.insert(USER).values(
            username="spidola", display_name="Spīdolas ģimnāzijas sociālā pedagoģe",
            role="institution_staff", institution_code=NEW_SCHOOL, locale="lv", digest=False,
            active=True))
    return "spidola"


# --- opening at a later state ------------------------------------------------------------


def test_a_school_opens_a_case_at_b4_over_the_threshold(gaita: App) -> None:
    r = open_absence(gaita, start="board_assessment", unjustified_lessons=21,
                     school_actions="Sarunas ar vecākiem")
    assert (r.to_state, r.task.assignee) == ("board_assessment", "jip")
    view = case_view(gaita.db, gaita.rt, r.reference, actor_for(gaita.db, "koordinatore"))
    assert view["state"] == "board_assessment" and view["data"]["unjustified_lessons"] == 21
    assert view["timeline"][0]["kind"] == EventKind.OPENED
    assert view["timeline"][0]["to"] == "board_assessment"
    with gaita.db.connect() as conn:
        told = sorted(conn.execute(sa.select(OUTBOX.c.recipient_institution)).scalars())
    assert told == sorted([SCHOOL, "jip"])   # the opening's notify and the start state's


def test_the_default_start_is_still_parent_contact(gaita: App) -> None:
    assert open_absence(gaita).to_state == "parent_contact"


@pytest.mark.parametrize(("start", "fields", "error"), [
    ("board_assessment", {"unjustified_lessons": 20, "school_actions": "x"}, GuardFailed),
    ("board_assessment", {"school_actions": "x"}, GuardFailed),           # no count at all
    ("board_assessment", {"unjustified_lessons": 25}, FieldError),        # school_actions
    ("board_assessment", {"unjustified_lessons": -1, "school_actions": "x"}, FieldError),
    ("in_school_support", {"unjustified_lessons": 10}, GuardFailed),
    ("closed_restored", {}, FieldError),                                  # not offered
    ("no_such_state", {}, FieldError),
])
def test_a_bad_opening_is_refused_with_nothing_stored(gaita: App, start: str,
                                                      fields: dict[str, Any],
                                                      error: type[Exception]) -> None:
    before = snapshot(gaita.db)
    with pytest.raises(error) as info:
        open_absence(gaita, start=start, **fields)
    refused = info.value
    if isinstance(refused, FieldError) and start in ("closed_restored", "no_such_state"):
        assert refused.field == "start_state"
        assert "board_assessment" in str(refused.reason.params["offered"])
    assert snapshot(gaita.db) == before


def test_opening_at_b3_reads_the_in_school_intervention_threshold(gaita: App) -> None:
    limit = gaita.rt.param("absences.in_school_intervention_from_lessons")
    assert limit == 10
    r = open_absence(gaita, start="in_school_support", unjustified_lessons=11)
    assert (r.to_state, r.task.assignee) == ("in_school_support", SCHOOL)


# --- the threshold ------------------------------------------------------------------------


def _at_support(gaita: App, age: str = "basic") -> str:
    ref = open_absence(gaita, age=age).reference
    act(gaita, ref, "record_unjustified", "skola", parents_reached="true")
    return ref


def test_the_threshold_is_more_than_20_lessons(gaita: App) -> None:
    ref = _at_support(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(GuardFailed) as info:
        act(gaita, ref, "report_to_board", "skola", unjustified_lessons=20, school_actions="x")
    assert info.value.guard == "absence_threshold_reached"
    assert info.value.reason.code == "guard.below_threshold"
    assert snapshot(gaita.db) == before
    r = act(gaita, ref, "report_to_board", "skola", unjustified_lessons=21, school_actions="x")
    assert r.to_state == "board_assessment"


def test_below_the_threshold_only_with_a_social_problem_reason(gaita: App) -> None:
    ref = _at_support(gaita)
    before = snapshot(gaita.db)
    for blank in (None, "   "):
        with pytest.raises(GuardFailed):
            act(gaita, ref, "report_to_board", "skola", unjustified_lessons=8,
                school_actions="Sarunas", **({} if blank is None else
                                             {"social_problem_reason": blank}))
    assert snapshot(gaita.db) == before
    r = act(gaita, ref, "report_to_board", "skola", unjustified_lessons=8,
            school_actions="Sarunas", social_problem_reason="Vecāki zaudējuši darbu, bērns pieskata brāli")
    assert r.to_state == "board_assessment"
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"))
    assert view["data"]["social_problem_reason"].startswith("Vecāki")


def test_ages_5_6_count_days_more_than_3(gaita: App) -> None:
    ref = _at_support(gaita, age="preschool")
    before = snapshot(gaita.db)
    with pytest.raises(GuardFailed) as info:   # lessons do not count for ages 5-6
        act(gaita, ref, "report_to_board", "skola", unjustified_lessons=40, school_actions="x")
    assert info.value.reason.params["reason"].code == "guard.preschool_days_missing"
    with pytest.raises(GuardFailed) as info:
        act(gaita, ref, "report_to_board", "skola", unjustified_days=3, school_actions="x")
    assert info.value.reason.params["reason"].code == "guard.preschool_days"
    assert snapshot(gaita.db) == before
    assert act(gaita, ref, "report_to_board", "skola", unjustified_days=4,
               school_actions="x").to_state == "board_assessment"


def test_ages_5_6_open_at_b4_by_days(gaita: App) -> None:
    with pytest.raises(GuardFailed):
        open_absence(gaita, start="board_assessment", age="preschool", unjustified_days=3,
                     school_actions="x")
    r = open_absence(gaita, start="board_assessment", age="preschool", unjustified_days=4,
                     school_actions="x")
    assert r.to_state == "board_assessment"
    with pytest.raises(GuardFailed):   # B3 for ages 5-6: more than 1 day
        open_absence(gaita, start="in_school_support", age="preschool", unjustified_days=1)
    assert open_absence(gaita, start="in_school_support", age="preschool",
                        unjustified_days=2).to_state == "in_school_support"


# --- a school move ------------------------------------------------------------------------


def test_a_case_opened_at_b4_is_transferred_between_schools(gaita: App, clock: Any,
                                                            new_school_user: str) -> None:
    r = open_absence(gaita, start="board_assessment", unjustified_lessons=24,
                     school_actions="Sarunas ar vecākiem")
    ref = r.reference
    act(gaita, ref, "attendance_restored", "koordinatore")   # back at school: its task
    asked = transfer_school(gaita.db, gaita.rt, ref, NEW_SCHOOL,
                            actor_for(gaita.db, "skola"), reason="Ģimene pārcēlās")
    assert (asked.from_school, asked.to_school) == (SCHOOL, NEW_SCHOOL)
    # 3 working days from Monday 30 Nov 2026
    assert gaita.rt.calendar.local_date(asked.due_at).isoformat() == "2026-12-03"
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"))
    assert view["school"] == SCHOOL and view["transfer"]["to"] == NEW_SCHOOL
    clock.advance(days=1)
    answer(gaita.db, gaita.rt, pending_task_of(gaita.db, ref), TaskAction.ACCEPT,
           actor_for(gaita.db, new_school_user))
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"))
    assert (view["status"], view["state"]) == (CaseStatus.OPEN, "attendance_monitoring")
    assert (view["school"], view["owner"], view["transfer"]) == (NEW_SCHOOL, NEW_SCHOOL, None)
    kinds = [e["kind"] for e in view["timeline"]]
    assert EventKind.TRANSFER_REQUESTED in kinds and EventKind.TRANSFERRED in kinds
    assert EventKind.QUEUED not in kinds   # not a repeated case: it is the same case
    with gaita.db.connect() as conn:
        case_id = conn.execute(sa.select(CASE.c.id)).scalar_one()
        assert verify_chain(conn, case_id) == []
        assert conn.execute(sa.select(sa.func.count()).select_from(CASE)).scalar_one() == 1
        open_tasks = conn.execute(sa.select(TASK.c.kind, TASK.c.assignee_institution).where(
            TASK.c.closed_at.is_(None))).all()
        assert open_tasks == [(TaskKind.STATE, NEW_SCHOOL)]
        writes = conn.execute(sa.select(ACCESS.c.detail).where(
            ACCESS.c.action == "write")).scalars().all()
        assert writes == [f"transfer_request:{NEW_SCHOOL}", f"transfer_accepted:{NEW_SCHOOL}"]
        mails = conn.execute(sa.select(OUTBOX.c.template, OUTBOX.c.recipient_institution)
                             .order_by(OUTBOX.c.id)).all()
    assert ("transfer_request", NEW_SCHOOL) in mails and ("case_update", SCHOOL) in mails
    # the new school now acts on the case; the old one no longer holds its task
    assert act(gaita, ref, "monitoring_complete", new_school_user).to_state == "closed_restored"


def test_a_declined_transfer_leaves_the_case_where_it_was(gaita: App,
                                                         new_school_user: str) -> None:
    ref = _at_support(gaita)
    transfer_school(gaita.db, gaita.rt, ref, NEW_SCHOOL, actor_for(gaita.db, "koordinatore"))
    task = pending_task_of(gaita.db, ref)
    before = snapshot(gaita.db)
    with pytest.raises(ReasonRequired):
        answer(gaita.db, gaita.rt, task, TaskAction.DECLINE, actor_for(gaita.db, new_school_user))
    with pytest.raises(NotPermitted):   # taking a case over is accepting it, not "done"
        answer(gaita.db, gaita.rt, task, TaskAction.DONE, actor_for(gaita.db, new_school_user))
    with pytest.raises(AccessDenied):   # only the new school answers
        answer(gaita.db, gaita.rt, task, TaskAction.ACCEPT, actor_for(gaita.db, "skola"))
    assert snapshot(gaita.db) == before
    answer(gaita.db, gaita.rt, task, TaskAction.DECLINE, actor_for(gaita.db, new_school_user),
           reason="Skolēns pie mums nav uzņemts")
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"))
    assert (view["school"], view["owner"], view["transfer"]) == (SCHOOL, SCHOOL, None)
    assert view["timeline"][-1]["kind"] == EventKind.TRANSFER_DECLINED


@pytest.mark.parametrize(("school", "user", "error"), [
    (SCHOOL, "koordinatore", FieldError),            # the same school
    ("jip", "koordinatore", FieldError),             # not a school
    ("nav-tadas-skolas", "koordinatore", NotFound),
    (NEW_SCHOOL, "socdienests", AccessDenied),       # neither coordinating nor holding it
])
def test_a_bad_transfer_is_refused_with_nothing_stored(gaita: App, school: str, user: str,
                                                       error: type[Exception]) -> None:
    ref = _at_support(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(error):
        transfer_school(gaita.db, gaita.rt, ref, school, actor_for(gaita.db, user))
    assert snapshot(gaita.db) == before


def test_a_second_transfer_or_a_closed_case_is_refused(gaita: App) -> None:
    ref = _at_support(gaita)
    transfer_school(gaita.db, gaita.rt, ref, NEW_SCHOOL, actor_for(gaita.db, "koordinatore"))
    before = snapshot(gaita.db)
    with pytest.raises(NotPermitted) as info:
        transfer_school(gaita.db, gaita.rt, ref, "jelgavas-centra-psk",
                        actor_for(gaita.db, "koordinatore"))
    assert info.value.code == "transfer.pending"
    assert snapshot(gaita.db) == before
    closed = open_absence(gaita).reference
    act(gaita, closed, "absence_justified", "skola", reason="Ārsta zīme")
    with pytest.raises(NotPermitted) as info:
        transfer_school(gaita.db, gaita.rt, closed, NEW_SCHOOL, actor_for(gaita.db, "koordinatore"))
    assert info.value.code == "transfer.case_closed"


def test_the_transfer_events_are_on_the_case(gaita: App, new_school_user: str) -> None:
    ref = _at_support(gaita)
    transfer_school(gaita.db, gaita.rt, ref, NEW_SCHOOL, actor_for(gaita.db, "skola"))
    answer(gaita.db, gaita.rt, pending_task_of(gaita.db, ref), TaskAction.ACCEPT,
           actor_for(gaita.db, new_school_user))
    with gaita.db.connect() as conn:
        payloads = conn.execute(sa.select(EVENT.c.kind, EVENT.c.payload).where(
            EVENT.c.kind.in_([EventKind.TRANSFER_REQUESTED, EventKind.TRANSFERRED]))
            .order_by(EVENT.c.seq)).all()
    assert [(k, p["from"], p["to"]) for k, p in payloads] == [
        (EventKind.TRANSFER_REQUESTED, SCHOOL, NEW_SCHOOL),
        (EventKind.TRANSFERRED, SCHOOL, NEW_SCHOOL)]
