"""Clock pauses (engine.pause) and the scheduler's paused branch, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.answers import TaskAction, answer
from engine.errors import PermissionDenied, StaleCase
from engine.escalation import tick
from engine.events import verify_chain
from engine.pause import (
    AlreadyPaused,
    NotPausable,
    NotPaused,
    UnknownPauseReason,
    pause,
    pause_limit_at,
    resume,
)
from engine.queries import actor_for, case_view, list_cases
from engine.runtime import Actor
from engine.tables import Case, CaseEvent, Escalation, Outbox, Task, TaskEffect
from engine.tasks import open_task_of
from gaita.bootstrap import App
from tests.conftest import snapshot
from tests.engine.test_fire import act, open_absence
from tests.engine.test_municipality import JELGAVA, assert_reports, edit, line_of, load, rejected

CASE, TASK, EVENT, OUTBOX = Case.__table__, Task.__table__, CaseEvent.__table__, Outbox.__table__
EFFECT, ESCALATION = TaskEffect.__table__, Escalation.__table__
SCHOOL = "jelgavas-4-vsk"


def riga(text: str) -> datetime:
    """A Riga wall-clock time in winter (UTC+2)."""
    return datetime.fromisoformat(f"{text}+02:00")


def user(gaita: App, name: str) -> Actor:
    return actor_for(gaita.db, name)


def supported_case(gaita: App) -> str:
    """An absence case in ``in_school_support`` (pausable; the school's task, 20 working days)."""
    ref = open_absence(gaita)
    act(gaita, ref, "record_unjustified", "skola", parents_reached="false")
    return ref


def case_row(gaita: App, ref: str) -> Any:
    with gaita.db.connect() as conn:
        return conn.execute(sa.select(CASE).where(CASE.c.reference == ref)).mappings().one()


def open_tasks(gaita: App, ref: str) -> list[Any]:
    with gaita.db.connect() as conn:
        return list(conn.execute(sa.select(TASK).join(CASE, CASE.c.id == TASK.c.case_id).where(
            CASE.c.reference == ref, TASK.c.closed_at.is_(None)).order_by(TASK.c.id)).mappings())


def events(gaita: App, ref: str) -> list[Any]:
    with gaita.db.connect() as conn:
        return list(conn.execute(sa.select(EVENT).join(CASE, CASE.c.id == EVENT.c.case_id).where(
            CASE.c.reference == ref).order_by(EVENT.c.seq)).mappings())


def chain_ok(gaita: App, ref: str) -> bool:
    with gaita.db.connect() as conn:
        return verify_chain(conn, case_row(gaita, ref)["id"]) == []


def local_day(gaita: App, instant: datetime) -> date:
    return gaita.rt.calendar.local_date(instant)


# --- shifting due dates ---------------------------------------------------------------


@pytest.mark.parametrize(("opened", "paused", "resumed", "days", "due_before", "due_after"), [
    # Thursday to Tuesday over a weekend: Fri, Mon, Tue.  Due 30 Dec 2026 + 3 working
    # days skips 31 Dec and 1 Jan (holidays): 6 Jan 2027.
    ("2026-11-30T09:00", "2026-12-03T10:00", "2026-12-08T10:00", 3, "2026-12-30", "2027-01-06"),
    # Tuesday to Thursday over Wednesday 18 November 2026 (Proclamation Day): one day.
    ("2026-11-16T09:00", "2026-11-17T12:00", "2026-11-19T12:00", 1, "2026-12-15", "2026-12-16"),
    # 23 to 28 December over Christmas (24-26 Dec) and a weekend: only Monday counts,
    # and the due date skips 31 Dec and 1 Jan.
    ("2026-11-30T09:00", "2026-12-23T10:00", "2026-12-28T10:00", 1, "2026-12-30", "2027-01-04"),
    # Paused and resumed on the same day: nothing moves.
    ("2026-11-30T09:00", "2026-12-02T09:00", "2026-12-02T16:00", 0, "2026-12-30", "2026-12-30"),
])
def test_resume_moves_the_due_date_by_exactly_the_paused_working_days(
        gaita: App, clock: Any, opened: str, paused: str, resumed: str, days: int,
        due_before: str, due_after: str) -> None:
    cal = gaita.rt.calendar
    clock.set(riga(opened))
    ref = supported_case(gaita)
    [before] = open_tasks(gaita, ref)
    assert local_day(gaita, before["due_at"]).isoformat() == due_before
    clock.set(riga(paused))
    result = pause(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"), "child_abroad")
    assert result.limit_at == cal.due_at(riga(paused), 20)
    clock.set(riga(resumed))
    done = resume(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"))
    assert (done.working_days, done.total_working_days, done.reason) == (days, days, "child_abroad")
    [after] = open_tasks(gaita, ref)
    assert local_day(gaita, after["due_at"]).isoformat() == due_after == local_day(
        gaita, done.due_at).isoformat()
    assert after["due_at"] == cal.end_of_day(date.fromisoformat(due_after))   # still end of day
    assert cal.working_days_between(local_day(gaita, before["due_at"]),
                                    local_day(gaita, after["due_at"])) == days
    for key in ("remind_at", "ack_due_at"):   # every pending time moves alike
        assert after[key] == cal.shift_for_pause(before[key], riga(paused), riga(resumed))
    assert after["next_check_at"] == min(after["ack_due_at"], after["remind_at"], after["due_at"])
    row = case_row(gaita, ref)
    assert (row["paused_at"], row["pause_reason"], row["paused_working_days"]) == (None, None, days)
    kinds = [(e["kind"], e["payload"]) for e in events(gaita, ref)][-2:]
    assert kinds == [("paused", {"reason": "child_abroad"}),
                     ("resumed", {"reason": "child_abroad", "working_days": days,
                                  "paused_at": riga(paused).astimezone(UTC).isoformat()})]
    assert chain_ok(gaita, ref)


def test_paused_days_add_up_over_several_pauses(gaita: App, clock: Any) -> None:
    ref = supported_case(gaita)
    coordinator = user(gaita, "koordinatore")
    for paused, resumed in (("2026-12-01T10:00", "2026-12-03T10:00"),     # Wed, Thu: 2
                            ("2026-12-04T10:00", "2026-12-09T10:00")):    # Mon, Tue, Wed: 3
        clock.set(riga(paused))
        pause(gaita.db, gaita.rt, ref, coordinator, "awaiting_police")
        clock.set(riga(resumed))
        last = resume(gaita.db, gaita.rt, ref, coordinator)
    assert (last.working_days, last.total_working_days) == (3, 5)
    assert case_row(gaita, ref)["paused_working_days"] == 5
    assert local_day(gaita, open_tasks(gaita, ref)[0]["due_at"]) == date(2027, 1, 8)   # 30 Dec + 5
    assert chain_ok(gaita, ref)


def test_a_task_opened_during_the_pause_moves_only_by_the_days_since_it_opened(
        gaita: App, clock: Any) -> None:
    ref = supported_case(gaita)
    pause(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"), "court_proceedings")   # Mon 30 Nov
    clock.set(riga("2026-12-02T09:00"))   # Wednesday: the school reports to the board
    r = act(gaita, ref, "report_to_board", "skola", unjustified_lessons=24,
            school_actions="Sarunas ar vecākiem")
    assert local_day(gaita, r.task.due_at) == date(2026, 12, 9)   # 5 working days
    clock.set(riga("2026-12-04T09:00"))   # Friday: 4 paused days, 2 of them the task's
    done = resume(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"))
    assert done.working_days == 4
    assert local_day(gaita, open_tasks(gaita, ref)[0]["due_at"]) == date(2026, 12, 11)


# --- the scheduler leaves a paused case alone ----------------------------------------------


def effects(gaita: App) -> list[str]:
    with gaita.db.connect() as conn:
        return sorted(conn.execute(sa.select(EFFECT.c.effect)).scalars())


def test_a_paused_case_never_escalates_and_a_pause_past_the_limit_is_flagged_once(
        gaita: App, clock: Any) -> None:
    cal = gaita.rt.calendar
    ref = supported_case(gaita)
    answer(gaita.db, gaita.rt, open_task_of(gaita.db, ref), TaskAction.ACKNOWLEDGE,
           user(gaita, "skola"))
    [task] = open_tasks(gaita, ref)
    assert local_day(gaita, task["due_at"]) == date(2026, 12, 30)
    clock.set(riga("2026-12-29T00:30"))   # the scheduler reminds the school as usual
    assert dict(tick(gaita.db, gaita.rt).effects) == {"reminder": 1}
    clock.set(riga("2026-12-29T10:00"))   # the day before the deadline
    pause(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"), "child_abroad")
    limit = pause_limit_at(gaita.rt, riga("2026-12-29T10:00"))
    assert local_day(gaita, limit) == date(2027, 1, 28)   # 20 working days (31 Dec, 1 Jan off)
    assert open_tasks(gaita, ref)[0]["next_check_at"] == limit
    mail_before = outbox(gaita)

    # Far past the deadline and every ladder step, but before the limit: nothing happens.
    clock.set(riga("2027-01-28T12:00"))   # the limit's last day
    report = tick(gaita.db, gaita.rt)
    assert (report.examined, dict(report.effects)) == (0, {})   # not even claimed
    # A claim forced now (a tick after the task's check time) still does nothing.
    _force_check(gaita, ref, riga("2027-01-28T12:00"))
    report = tick(gaita.db, gaita.rt)
    assert (report.examined, dict(report.effects)) == (1, {})
    assert open_tasks(gaita, ref)[0]["next_check_at"] == limit

    # After the limit: one pause_too_long event and one notice to the coordinating
    # institution, however often and however many ticks run.
    clock.set(riga("2027-04-01T12:00"))
    report = tick(gaita.db, gaita.rt)
    assert dict(report.effects) == {"pause_too_long": 1}
    for _ in range(2):
        _force_check(gaita, ref, riga("2027-04-01T12:00"))
        assert dict(tick(gaita.db, gaita.rt).effects) == {}
    clock.set(riga("2027-06-01T12:00"))
    assert tick(gaita.db, gaita.rt).examined == 0   # released with no next check
    assert open_tasks(gaita, ref)[0]["next_check_at"] is None

    kinds = [e["kind"] for e in events(gaita, ref)]
    assert kinds.count("pause_too_long") == 1
    assert kinds.count("reminded") == 1   # before the pause
    assert not {"overdue", "escalated", "queued", "unacknowledged"} & set(kinds)
    [flag] = [e for e in events(gaita, ref) if e["kind"] == "pause_too_long"]
    assert flag["actor"] == "gaita" and flag["payload"]["reason"] == "child_abroad"
    assert flag["payload"]["max_working_days"] == 20
    assert flag["payload"]["working_days"] == cal.working_days_between(
        date(2026, 12, 29), date(2027, 4, 1))
    new_mail = [m for m in outbox(gaita) if m not in mail_before]
    assert [(m["template"], m["recipient_institution"], m["event_id"]) for m in new_mail] == [
        ("case_update", "jip", flag["id"])]
    assert new_mail[0]["payload"]["extra"]["pause"] == "too_long"
    assert effects(gaita) == ["pause_limit:20261229080000", "reminder"]
    with gaita.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ESCALATION)).scalar() == 0
    assert case_row(gaita, ref)["paused_at"] is not None   # flagged, still paused

    # Resumed: the deadline has moved past today, so the next tick breaches nothing.
    done = resume(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"))
    assert done.due_at is not None and done.due_at > clock.now()
    [task] = open_tasks(gaita, ref)
    assert task["next_check_at"] == task["due_at"]   # the reminder was sent before the pause
    _force_check(gaita, ref, clock.now())
    assert dict(tick(gaita.db, gaita.rt).effects) == {}
    # Its deadline is then missed: the ordinary ladder resumes.
    clock.set(done.due_at)
    clock.advance(minutes=1)
    assert tick(gaita.db, gaita.rt).effects["breach"] == 1

    # A second pause is a new pause: flagged once more when it outlasts the limit.
    pause(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"), "awaiting_police")
    clock.advance(days=60)
    assert dict(tick(gaita.db, gaita.rt).effects) == {"pause_too_long": 1}
    assert len([e for e in effects(gaita) if e.startswith("pause_limit:")]) == 2
    assert chain_ok(gaita, ref)


def outbox(gaita: App) -> list[Any]:
    with gaita.db.connect() as conn:
        return list(conn.execute(sa.select(OUTBOX).order_by(OUTBOX.c.id)).mappings())


def _force_check(gaita: App, ref: str, at: datetime) -> None:
    """Make the case's tasks due for the next tick (as a stale next_check_at would)."""
    with gaita.db.begin() as conn:
        case_id = conn.execute(sa.select(CASE.c.id).where(CASE.c.reference == ref)).scalar_one()
        conn.execute(sa.update(TASK).where(TASK.c.case_id == case_id,
                                           TASK.c.closed_at.is_(None)).values(next_check_at=at))


def test_two_ticks_at_the_same_instant_flag_a_long_pause_once(gaita: App, clock: Any) -> None:
    ref = supported_case(gaita)
    pause(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"), "medical_treatment")
    clock.advance(days=60)
    first, second = tick(gaita.db, gaita.rt), tick(gaita.db, gaita.rt)
    _force_check(gaita, ref, clock.now())
    third = tick(gaita.db, gaita.rt)
    assert [dict(r.effects) for r in (first, second, third)] == [{"pause_too_long": 1}, {}, {}]


# --- who may pause, where, and the errors ---------------------------------------------


@pytest.mark.parametrize("username", ["koordinatore"])
def test_the_coordinating_institution_pauses_and_resumes(
        gaita: App, clock: Any, username: str) -> None:
    ref = supported_case(gaita)
    result = pause(gaita.db, gaita.rt, ref, user(gaita, username), "  awaiting_police ")
    assert (result.reason, result.version) == ("awaiting_police", case_row(gaita, ref)["version"])
    [e] = events(gaita, ref)[-1:]
    assert (e["kind"], e["actor"], e["from_state"], e["to_state"]) == (
        "paused", username, "in_school_support", "in_school_support")
    clock.advance(days=1)
    resume(gaita.db, gaita.rt, ref, user(gaita, username))
    assert events(gaita, ref)[-1]["kind"] == "resumed"
    assert chain_ok(gaita, ref)


@pytest.mark.parametrize(("username", "reason", "error", "message"), [
    ("koordinatore", "abroad", UnknownPauseReason,
     "unknown pause reason 'abroad'; valid reasons: child_abroad, awaiting_police, "
     "awaiting_state_institution, court_proceedings, medical_treatment"),
    ("auditors", "child_abroad", PermissionDenied, "role 'auditor' is read-only"),
    ("socdienests", "child_abroad", PermissionDenied,
     "may not pause or resume the clock (KAV-2026-00001): only the coordinating institution's"),
    ("skola", "child_abroad", PermissionDenied,   # the task's holder: the coordinator pauses
     "may not pause or resume the clock (KAV-2026-00001): only the coordinating institution's"),
    ("admin", "child_abroad", PermissionDenied, "admin does not work on cases"),
    ("grupa", "child_abroad", PermissionDenied,
     "role 'group_member' may not pause or resume the clock (KAV-2026-00001): only the "
     "coordinating institution's users"),
])
def test_pause_refused_for_a_reason_or_a_role_changes_nothing(
        gaita: App, username: str, reason: str, error: type[Exception], message: str) -> None:
    ref = supported_case(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(error) as info:
        pause(gaita.db, gaita.rt, ref, user(gaita, username), reason)
    assert message in str(info.value)
    assert snapshot(gaita.db) == before


def test_pause_refused_in_a_state_that_is_not_pausable(gaita: App) -> None:
    ref = open_absence(gaita)   # parent_contact: a same-day duty
    before = snapshot(gaita.db)
    with pytest.raises(NotPausable, match=(
            r"cannot be paused in state 'parent_contact' \(Contact the parents\); pausable states "
            r"of absences: in_school_support, board_assessment, social_work, police_involvement, "
            r"orphans_court_review")):
        pause(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"), "child_abroad")
    assert snapshot(gaita.db) == before


def test_pause_twice_resume_unpaused_and_closed_cases_are_refused(gaita: App, clock: Any) -> None:
    coordinator = user(gaita, "koordinatore")
    ref = supported_case(gaita)
    before = snapshot(gaita.db)
    with pytest.raises(NotPaused, match=f"{ref} is not paused"):
        resume(gaita.db, gaita.rt, ref, coordinator)
    assert snapshot(gaita.db) == before
    pause(gaita.db, gaita.rt, ref, coordinator, "child_abroad")
    before = snapshot(gaita.db)
    with pytest.raises(AlreadyPaused, match=f"{ref} is already paused since 30.11.2026 09:00 "
                                            r"\(child_abroad\)"):
        pause(gaita.db, gaita.rt, ref, coordinator, "awaiting_police")
    with pytest.raises(PermissionDenied, match="only the coordinating institution's users"):
        resume(gaita.db, gaita.rt, ref, user(gaita, "socdienests"))
    with pytest.raises(StaleCase):
        resume(gaita.db, gaita.rt, ref, coordinator, expected_version=1)
    assert snapshot(gaita.db) == before

    closed = open_absence(gaita)
    act(gaita, closed, "absence_justified", "skola", reason="Slimība")
    before = snapshot(gaita.db)
    with pytest.raises(NotPausable, match="is closed"):
        pause(gaita.db, gaita.rt, closed, coordinator, "child_abroad")
    assert snapshot(gaita.db) == before


def test_case_view_shows_the_pause_and_freezes_days_left(gaita: App, clock: Any) -> None:
    coordinator = user(gaita, "koordinatore")
    ref = supported_case(gaita)
    view = case_view(gaita.db, gaita.rt, ref, coordinator)
    assert (view["paused"], view["working_days_left"], view["paused_working_days"]) == (None, 20, 0)
    clock.set(riga("2026-12-01T10:00"))
    pause(gaita.db, gaita.rt, ref, coordinator, "child_abroad")
    clock.set(riga("2027-01-04T10:00"))   # past the due date (30 Dec), the limit's last day
    view = case_view(gaita.db, gaita.rt, ref, coordinator)
    assert view["paused"]["reason"] == "child_abroad"
    assert view["paused"]["reason_title"]["lv"] == "Bērns ārzemēs, gaida apstiprinājumu"
    assert view["paused"]["since"] == riga("2026-12-01T10:00")
    assert (view["paused"]["working_days"], view["paused"]["over_limit"]) == (20, False)
    assert (view["working_days_left"], view["overdue"]) == (19, False)   # as at the pause
    clock.set(riga("2027-01-05T10:00"))
    assert case_view(gaita.db, gaita.rt, ref, coordinator)["paused"]["over_limit"] is True


# --- pauses.yaml ---------------------------------------------------------------------------


def test_jelgava_pause_reasons_and_limit_are_configured() -> None:
    pauses = load().pauses
    assert pauses.max_working_days.value == 20 and pauses.max_working_days.tag == "U"
    assert pauses.reasons["court_proceedings"].title.lv == "Tiesvedība"
    assert pauses.reasons["awaiting_police"].title.lv == "Gaida policijas informāciju"


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "jelgava"
    shutil.copytree(JELGAVA, target)
    return target


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("  value: 20\n", "  value: 0\n", "greater than 0"),
    ("  value: 20\n", "  value: twenty\n", "valid integer"),
    ("  tag: U\n", "  tag: X\n", "'V', 'J' or 'U'"),
    ("  child_abroad:\n", "  Child-Abroad:\n", "is not a code like 'child_abroad'"),
    ("en: Court proceedings}", "de: Gerichtsverfahren}", "unknown key 'de'"),
])
def test_a_bad_pauses_file_is_reported_with_file_and_line(
        config_copy: Path, old: str, new: str, reason: str) -> None:
    edit(config_copy, "pauses.yaml", old, new)
    assert_reports(rejected(config_copy), "pauses.yaml",
                   line_of(config_copy, "pauses.yaml", new.strip()), reason)


def test_the_pauses_file_is_required(config_copy: Path) -> None:
    (config_copy / "pauses.yaml").unlink()
    assert_reports(rejected(config_copy), "pauses.yaml", None, "file not found")


def test_a_paused_case_is_not_listed_as_overdue(gaita: App, clock: Any) -> None:
    ref = supported_case(gaita)
    pause(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"), "court_proceedings")
    clock.set(riga("2027-03-01T09:00"))   # long past the task's deadline
    assert ref not in [r["reference"] for r in list_cases(gaita.db, gaita.rt, overdue=True)]
    resume(gaita.db, gaita.rt, ref, user(gaita, "koordinatore"))
    clock.set(riga("2027-06-01T09:00"))
    assert ref in [r["reference"] for r in list_cases(gaita.db, gaita.rt, overdue=True)]
