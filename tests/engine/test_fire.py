"""The one write path, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from engine.cases import fire, open_case
from engine.errors import (
    CaseNotFound,
    FieldError,
    GuardFailed,
    InvalidPersonalCode,
    PermissionDenied,
    StaleCase,
    TransitionNotAllowed,
    UnknownCaseType,
    UnknownTrigger,
)
from engine.events import verify_chain
from engine.personal_code import NEW_FORMAT_CHECKSUM_WARNING
from engine.queries import actor_for, case_view
from engine.runtime import Actor
from engine.tables import Case, Child, Outbox, Task
from gaita.bootstrap import App
from tests.conftest import snapshot

SCHOOL = "jelgavas-4-vsk"
CODE = "120514-21234"


def open_absence(gaita: App, **kw: Any) -> str:
    actor = actor_for(gaita.db, "skola")
    return open_case(gaita.db, gaita.rt, "absences", actor, child_name="Jānis Bērziņš",
                     child_code=CODE, school=SCHOOL, fields={"age_group": "basic"}, **kw).reference


def act(gaita: App, ref: str, trigger: str, user: str, **fields: Any) -> Any:
    return fire(gaita.db, gaita.rt, ref, trigger, actor_for(gaita.db, user), fields)


def test_absence_case_walks_from_school_report_to_closure(gaita: App, clock: Any) -> None:
    ref = open_absence(gaita)
    assert ref.startswith("KAV-2026-")
    r = act(gaita, ref, "record_unjustified", "skola", parents_reached="false")
    assert (r.to_state, r.task.assignee) == ("in_school_support", SCHOOL)
    r = act(gaita, ref, "report_to_board", "skola", unjustified_lessons=24,
            school_actions="Sarunas ar vecākiem")
    assert (r.to_state, r.task.assignee) == ("board_assessment", "jip")
    # 5 working days from Monday 30 Nov 2026: Monday 7 Dec, end of day in Riga.
    assert gaita.rt.calendar.local_date(r.task.due_at).isoformat() == "2026-12-07"
    r = act(gaita, ref, "refer_to_social_service", "koordinatore", social_problem=True,
            problem_description="Ģimenē sociālas problēmas")
    assert (r.to_state, r.task.assignee) == ("social_work", "jslp")
    clock.advance(days=3)
    r = act(gaita, ref, "attendance_restored", "socdienests")
    assert r.task.assignee == SCHOOL
    r = act(gaita, ref, "monitoring_complete", "koordinatore")
    assert (r.to_state, r.outcome, r.task) == ("closed_restored", "attendance_restored", None)
    with gaita.db.connect() as conn:
        case_id = conn.execute(sa.select(Case.__table__.c.id)).scalar_one()
        assert verify_chain(conn, case_id) == []
        tasks = conn.execute(sa.select(Task.__table__)).mappings().all()
        assert [t["closed_at"] is not None for t in tasks] == [True] * len(tasks)
        mails = conn.execute(sa.select(Outbox.__table__.c.template)).scalars().all()
    assert mails.count("task_assigned") == 5   # opening + every new owner (4 steps)


def test_latvian_text_survives_the_database(gaita: App) -> None:
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached="jā")
    act(gaita, ref, "report_to_board", "skola", unjustified_lessons=21,
        school_actions="ā č ē ģ ī ķ ļ ņ š ū ž Ā Č Ē Ģ Ī Ķ Ļ Ņ Š Ū Ž")
    view = case_view(gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"))
    assert view["data"]["school_actions"] == "ā č ē ģ ī ķ ļ ņ š ū ž Ā Č Ē Ģ Ī Ķ Ļ Ņ Š Ū Ž"
    with gaita.db.connect() as conn:
        assert conn.execute(sa.select(Child.__table__.c.name)).scalar_one() == "Jānis Bērziņš"


@pytest.mark.parametrize(("trigger", "user", "fields", "error", "message"), [
    ("no_such_trigger", "skola", {}, UnknownTrigger, "has no trigger 'no_such_trigger'"),
    ("monitoring_complete", "skola", {}, TransitionNotAllowed, "valid triggers: absence_justified, record_unjustified"),
    ("record_unjustified", "auditors", {"parents_reached": "true"}, PermissionDenied, "role 'auditor'"),
    ("record_unjustified", "socdienests", {"parents_reached": "true"}, PermissionDenied, "holds no task on this case"),
    ("record_unjustified", "skola", {}, FieldError, "field 'parents_reached': required"),
    ("record_unjustified", "skola", {"parents_reached": "maybe"}, FieldError, "expected true or false"),
    ("record_unjustified", "skola", {"parents_reached": "true", "extra": "1"}, FieldError, "not a field of this step"),
])
def test_bad_trigger_input_is_refused_and_changes_nothing(
        gaita: App, trigger: str, user: str, fields: dict[str, Any], error: type, message: str) -> None:
    ref = open_absence(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(error, match=message):
        act(gaita, ref, trigger, user, **fields)
    assert snapshot(gaita.db) == before


def test_failing_guard_is_named_and_changes_nothing(gaita: App) -> None:
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached="true")
    before = snapshot(gaita.db)
    with pytest.raises(GuardFailed, match=r"absence_threshold_reached.*more than 20"):
        act(gaita, ref, "report_to_board", "skola", unjustified_lessons=20, school_actions="x")
    assert snapshot(gaita.db) == before


def test_stale_version_is_a_conflict_and_changes_nothing(gaita: App) -> None:
    ref = open_absence(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(StaleCase, match="expected version 7"):
        fire(gaita.db, gaita.rt, ref, "record_unjustified", actor_for(gaita.db, "skola"),
             {"parents_reached": "true"}, expected_version=7)
    assert snapshot(gaita.db) == before


def test_concurrent_writer_loses_with_a_conflict(gaita: App) -> None:
    """Two writers read version 1; the second UPDATE finds version 2 and fails."""
    ref = open_absence(gaita)
    skola = actor_for(gaita.db, "skola")
    fire(gaita.db, gaita.rt, ref, "record_unjustified", skola, {"parents_reached": "true"},
         expected_version=1)
    with pytest.raises(StaleCase):
        fire(gaita.db, gaita.rt, ref, "report_to_board", skola,
             {"unjustified_lessons": 30, "school_actions": "x"}, expected_version=1)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"child_code": "120514-21235"}, InvalidPersonalCode, "check digit"),
    ({"child_code": "abc"}, InvalidPersonalCode, "invalid personal code"),
    ({"fields": {"age_group": "university"}}, FieldError, "expected one of preschool"),
    ({"fields": {}}, FieldError, "age_group"),
    ({"school": None}, FieldError, "need a school"),
    ({"school": "jip"}, FieldError, "not a school"),
    ({"case_type": "nope"}, UnknownCaseType, "unknown case type 'nope'"),
    ({"child_name": " \u200b "}, FieldError, "child_name"),
    ({"user": "auditors"}, PermissionDenied, "may not open"),
])
def test_bad_opening_is_refused_and_writes_nothing(
        gaita: App, kwargs: dict[str, Any], error: type, message: str) -> None:
    args: dict[str, Any] = {"child_name": "Anna", "child_code": CODE, "school": SCHOOL,
                            "fields": {"age_group": "basic"}}
    kwargs = dict(kwargs)   # the parameter dict is shared by both backends
    user = kwargs.pop("user", "koordinatore")
    case_type = kwargs.pop("case_type", "absences")
    args.update(kwargs)
    before = snapshot(gaita.db)
    with pytest.raises(error, match=message):
        open_case(gaita.db, gaita.rt, case_type, actor_for(gaita.db, user), **args)
    assert snapshot(gaita.db) == before


def test_new_format_code_with_bad_checksum_is_a_warning(gaita: App) -> None:
    result = open_case(gaita.db, gaita.rt, "absences", actor_for(gaita.db, "koordinatore"),
                       child_name="Anna", child_code="32000000000", school=SCHOOL,
                       fields={"age_group": "basic"})
    assert result.warnings == (NEW_FORMAT_CHECKSUM_WARNING,)


def test_unknown_case_reference(gaita: App) -> None:
    with pytest.raises(CaseNotFound, match="KAV-2000-00001"):
        act(gaita, "KAV-2000-00001", "record_unjustified", "skola")


def test_every_case_read_is_logged(gaita: App) -> None:
    ref = open_absence(gaita)
    case_view(gaita.db, gaita.rt, ref, Actor("auditors", "auditor"))
    with gaita.db.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor, action FROM access_log")).all()
    assert [tuple(r) for r in rows] == [("auditors", "read")]


def test_tampered_event_breaks_the_hash_chain(gaita: App) -> None:
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached="true")
    with gaita.db.begin() as conn:
        conn.execute(sa.text("UPDATE case_event SET actor = 'mallory' WHERE seq = 1"))
        case_id = conn.execute(sa.select(Case.__table__.c.id)).scalar_one()
        problems = verify_chain(conn, case_id)
    assert problems and "event 1" in problems[0]


def test_repeated_cases_for_one_child_share_the_child_row(gaita: App) -> None:
    first, second = open_absence(gaita), open_absence(gaita)
    assert first != second
    other_name = open_case(gaita.db, gaita.rt, "absences", actor_for(gaita.db, "skola"),
                           child_name="Jānis  Cits", child_code=CODE, school=SCHOOL,
                           fields={"age_group": "basic"})
    assert "registered name was kept" in str(other_name.warnings[0])
    with gaita.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Child.__table__)).scalar() == 1
        children = conn.execute(sa.select(Case.__table__.c.child_id)).scalars().all()
    assert len(set(children)) == 1


def test_concurrent_openings_get_distinct_references_and_one_child(gaita: App) -> None:
    """The first cases of a year race for the reference counter; the same child twice."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        refs = list(pool.map(lambda _: open_absence(gaita), range(12)))
    assert len(set(refs)) == 12
    assert sorted(refs) == [f"KAV-2026-{n:05d}" for n in range(1, 13)]
    with gaita.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Child.__table__)).scalar() == 1


def test_removing_the_last_event_breaks_the_hash_chain(gaita: App) -> None:
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached="true")
    with gaita.db.begin() as conn:   # someone with database access hides the last step
        last = conn.execute(sa.text("SELECT id FROM case_event WHERE seq = 2")).scalar_one()
        conn.execute(sa.text("DELETE FROM outbox WHERE event_id = :e"), {"e": last})
        conn.execute(sa.text("DELETE FROM task WHERE opened_by_event = :e"), {"e": last})
        conn.execute(sa.text("UPDATE task SET closed_by_event = NULL, closed_at = NULL"))
        conn.execute(sa.text("DELETE FROM case_event WHERE id = :e"), {"e": last})
        case_id = conn.execute(sa.select(Case.__table__.c.id)).scalar_one()
        problems = verify_chain(conn, case_id)
    assert problems == [problems[0]] and "records 2 events" in problems[0]
