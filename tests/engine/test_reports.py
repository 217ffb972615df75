"""The dashboard's figures and the case page (engine.reports), on SQLite and PostgreSQL.

One hand-built set of absence cases, each in a known bucket at Tuesday 1 Dec 2026 10:00
Riga: overdue, due today, due this week, later, paused, paused too long, closed, and one
at another school (outside the school's own view).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from engine.cases import fire, open_case
from engine.clock import FixedClock
from engine.errors import InvalidQuery, UnknownCaseType, UnknownState
from engine.pause import pause
from engine.policy import Subject, visible_cases
from engine.queries import actor_for, list_cases
from engine.reports import PAGE_COLUMNS, case_page, dashboard
from engine.tables import Case, Outbox, Task
from gaita.bootstrap import App
from gaita.demo import demo_code

CASE, TASK, OUTBOX = Case.__table__, Task.__table__, Outbox.__table__
SCHOOL, OTHER_SCHOOL = "jelgavas-4-vsk", "jelgavas-spidolas-gimnazija"
NOW = "2026-12-01T10:00"


def riga(text: str) -> datetime:
    """A Riga wall-clock time in autumn and winter (UTC+2)."""
    return datetime.fromisoformat(f"{text}+02:00")


@dataclass
class Cases:
    long_pause: str     # in_school_support since Mon 26 Oct, paused then: over the 20-day limit
    week: str           # board_assessment since Wed 25 Nov: due Wed 2 Dec
    closed: str         # open 25 Nov, closed Mon 30 Nov 12:00
    overdue: str        # parent_contact since Mon 30 Nov: due that day
    later: str          # in_school_support since Mon 30 Nov; unacknowledged, a failed email
    paused: str         # in_school_support since Mon 30 Nov, paused that day
    other: str          # parent_contact at another school since Mon 30 Nov: overdue
    today: str          # parent_contact since Tue 1 Dec 09:00: due today


@pytest.fixture
def cases(gaita: App, clock: FixedClock) -> Cases:
    coordinator = actor_for(gaita.db, "koordinatore")
    made = 0

    def opened(at: str, *steps: str, school: str = SCHOOL) -> str:
        nonlocal made
        clock.set(riga(at))
        made += 1
        ref = open_case(gaita.db, gaita.rt, "absences", coordinator, child_name="Līga Ozoliņa",
                        child_code=demo_code(made), school=school,
                        fields={"age_group": "basic"}).reference
        for step in steps:
            fields = {"record_unjustified": {"parents_reached": False},
                      "report_to_board": {"unjustified_lessons": 24, "school_actions": "Sarunas"},
                      }.get(step, {})
            fire(gaita.db, gaita.rt, ref, step, coordinator, fields)
        return ref

    long_pause = opened("2026-10-26T09:00", "record_unjustified")
    clock.set(riga("2026-10-26T10:00"))
    pause(gaita.db, gaita.rt, long_pause, coordinator, "court_proceedings")
    week = opened("2026-11-25T09:00", "record_unjustified", "report_to_board")
    closed = opened("2026-11-25T09:00")
    clock.set(riga("2026-11-30T12:00"))
    fire(gaita.db, gaita.rt, closed, "absence_justified", coordinator,
         {"reason": "Ārsta zīme"})
    overdue = opened("2026-11-30T09:00")
    later = opened("2026-11-30T09:00", "record_unjustified")
    paused = opened("2026-11-30T09:00", "record_unjustified")
    clock.set(riga("2026-11-30T11:00"))
    pause(gaita.db, gaita.rt, paused, coordinator, "child_abroad")
    other = opened("2026-11-30T09:00", school=OTHER_SCHOOL)
    today = opened("2026-12-01T09:00")
    clock.set(riga(NOW))
    with gaita.db.begin() as conn:
        def case_id(ref: str) -> int:
            return conn.execute(sa.select(CASE.c.id).where(CASE.c.reference == ref)).scalar_one()
        conn.execute(sa.update(TASK).where(TASK.c.case_id == case_id(later),
                                           TASK.c.closed_at.is_(None))
                     .values(unacknowledged_at=clock.now()))
        for ref in (later, closed):   # a closed case's failed email is not counted
            first = sa.select(sa.func.min(OUTBOX.c.id)).where(OUTBOX.c.case_id == case_id(ref))
            conn.execute(sa.update(OUTBOX).where(OUTBOX.c.id == first.scalar_subquery())
                         .values(status="failed", last_error="550 no such user"))
    return Cases(long_pause, week, closed, overdue, later, paused, other, today)


def school_view(gaita: App) -> sa.ColumnElement[bool]:
    """What the school's staff reach: cases where their school holds or held a task."""
    return visible_cases(gaita.rt.registry.roles,
                         Subject(actor_for(gaita.db, "skola"), frozenset({"school"})))


def test_dashboard_counts_each_bucket(gaita: App, cases: Cases) -> None:
    d = dashboard(gaita.db, gaita.rt, weeks=3)
    assert {k: d[k] for k in ("open", "overdue", "due_today", "due_this_week", "unacknowledged",
                              "paused", "paused_too_long", "failed_emails")} == {
        "open": 7, "overdue": 2, "due_today": 1, "due_this_week": 1, "unacknowledged": 1,
        "paused": 2, "paused_too_long": 1, "failed_emails": 1}
    assert d["by_type"] == {"absences": {"open": 7, "overdue": 2},
                            "substances": {"open": 0, "overdue": 0},
                            "unregistered_child": {"open": 0, "overdue": 0},
                            "violence": {"open": 0, "overdue": 0}}
    assert d["by_owner"] == {SCHOOL: {"open": 5, "overdue": 1}, "jip": {"open": 1, "overdue": 0},
                             OTHER_SCHOOL: {"open": 1, "overdue": 1}}
    # Sundays 22 and 29 Nov, then now; the closed case was open on 29 Nov.
    assert d["open_over_time"] == [(date(2026, 11, 22), 1), (date(2026, 11, 29), 3),
                                   (date(2026, 12, 1), 7)]
    # Working days in the state until now, or until the pause: the long pause stopped at 0.
    assert d["time_in_state"] == [
        {"case_type": "absences", "state": "board_assessment", "cases": 1,
         "avg_working_days": 4.0, "max_working_days": 4},
        {"case_type": "absences", "state": "in_school_support", "cases": 3,
         "avg_working_days": 0.3, "max_working_days": 1},
        {"case_type": "absences", "state": "parent_contact", "cases": 3,
         "avg_working_days": 0.7, "max_working_days": 1},
    ]


def test_dashboard_follows_the_clock_and_the_access_policy(
        gaita: App, cases: Cases, clock: FixedClock) -> None:
    mine = dashboard(gaita.db, gaita.rt, school_view(gaita))
    assert (mine["open"], mine["overdue"], mine["by_type"]["absences"]) == (
        6, 1, {"open": 6, "overdue": 1})
    assert OTHER_SCHOOL not in mine["by_owner"] and mine["failed_emails"] == 1
    assert len(mine["open_over_time"]) == 12 and mine["open_over_time"][-1] == (date(2026, 12, 1), 6)
    assert dashboard(gaita.db, gaita.rt, sa.false())["open"] == 0
    clock.set(riga("2026-12-03T10:00"))   # Thursday: the board's task (due Wednesday) is late
    d = dashboard(gaita.db, gaita.rt)
    assert (d["overdue"], d["due_today"], d["due_this_week"]) == (4, 0, 0)


def test_case_page_filters_sorts_and_counts(gaita: App, cases: Cases) -> None:
    rows, total = case_page(gaita.db, gaita.rt)
    assert total == 7 and [r["reference"] for r in rows] == [
        cases.long_pause, cases.overdue, cases.other, cases.today, cases.week, cases.later,
        cases.paused]   # by due date (the long pause's was 24 Nov); equal ones by case id
    assert all(tuple(r) == PAGE_COLUMNS for r in rows)
    first = {r["reference"]: r for r in rows}
    assert (first[cases.overdue]["overdue"], first[cases.overdue]["working_days_left"]) == (True, -1)
    assert (first[cases.today]["overdue"], first[cases.today]["working_days_left"]) == (False, 0)
    long_pause = first[cases.long_pause]
    assert (long_pause["paused"], long_pause["overdue"], long_pause["working_days_left"]) == (
        True, False, 20)   # as at the pause
    assert first[cases.week]["owner_institution"] == "jip"

    rows, total = case_page(gaita.db, gaita.rt, overdue=True, sort="reference", descending=True)
    assert (total, [r["reference"] for r in rows]) == (2, sorted([cases.overdue, cases.other],
                                                                 reverse=True))
    rows, total = case_page(gaita.db, gaita.rt, where=school_view(gaita), overdue=True)
    assert (total, [r["reference"] for r in rows]) == (1, [cases.overdue])
    rows, total = case_page(gaita.db, gaita.rt, include_closed=True, sort="due", descending=True)
    assert total == 8 and rows[-1]["reference"] == cases.closed   # no deadline: always last
    assert rows[-1]["status"] == "closed" and rows[-1]["working_days_left"] is None
    assert case_page(gaita.db, gaita.rt, state="in_school_support", institution=SCHOOL)[1] == 3
    assert case_page(gaita.db, gaita.rt, school=OTHER_SCHOOL)[1] == 1
    assert case_page(gaita.db, gaita.rt, case_type="violence") == ([], 0)
    assert case_page(gaita.db, gaita.rt, risk="high") == ([], 0)

    pages = [case_page(gaita.db, gaita.rt, sort="risk", offset=i, limit=3)[0] for i in (0, 3, 6)]
    by_id = case_page(gaita.db, gaita.rt, sort="opened", limit=50)[0]
    assert [r["reference"] for p in pages for r in p] == [r["reference"] for r in sorted(
        by_id, key=lambda r: r["reference"][-5:])]   # one risk level: ties go by case id


def test_case_page_refuses_unknown_names(gaita: App) -> None:
    with pytest.raises(InvalidQuery, match="allowed: due, opened, reference, state, type, risk"):
        case_page(gaita.db, gaita.rt, sort="child")
    with pytest.raises(InvalidQuery, match="risk level 'extreme'"):
        case_page(gaita.db, gaita.rt, risk="extreme")
    with pytest.raises(UnknownCaseType, match="nope"):
        case_page(gaita.db, gaita.rt, case_type="nope")
    with pytest.raises(UnknownState, match="no state 'nosuch'"):
        case_page(gaita.db, gaita.rt, case_type="absences", state="nosuch")
    with pytest.raises(UnknownState, match="no state 'nosuch'"):
        case_page(gaita.db, gaita.rt, state="nosuch")


def test_list_cases_is_the_case_page_in_opening_order(gaita: App, cases: Cases) -> None:
    rows = list_cases(gaita.db, gaita.rt)
    assert [r["reference"] for r in rows][:2] == [cases.long_pause, cases.week]
    assert set(rows[0]) == {"reference", "case_type", "state", "status", "owner_institution",
                            "version", "due_at", "working_days_left"}
    assert [r["reference"] for r in list_cases(gaita.db, gaita.rt, overdue=True)] == [
        cases.overdue, cases.other]


def test_time_in_state_counts_from_the_local_day_near_midnight(
        gaita: App, clock: FixedClock) -> None:
    """Entered at 23:30 and 00:30 Riga time, winter and summer: the local day counts,
    not the UTC one (00:30 is 22:30 or 21:30 UTC the day before)."""
    coordinator = actor_for(gaita.db, "koordinatore")
    entered = [datetime.fromisoformat(t) for t in (
        "2026-11-30T23:30:00+02:00", "2026-12-01T00:30:00+02:00", "2026-07-01T00:30:00+03:00",
        "2026-06-30T23:30:00+03:00")]
    for n, at in enumerate(entered):
        clock.set(at)
        open_case(gaita.db, gaita.rt, "absences", coordinator, child_name="Ūna Zvaigzne",
                  child_code=demo_code(50 + n), school=SCHOOL, fields={"age_group": "basic"})
    clock.set(riga("2026-12-02T10:00"))
    cal = gaita.rt.calendar
    days = [cal.working_days_between(cal.local_date(at), date(2026, 12, 2)) for at in entered]
    assert len(set(days)) == 4   # each a different local day
    [row] = dashboard(gaita.db, gaita.rt)["time_in_state"]
    assert (row["cases"], row["avg_working_days"], row["max_working_days"]) == (
        4, round(sum(days) / 4, 1), max(days))
