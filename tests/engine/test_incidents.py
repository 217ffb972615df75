"""Same-day duties by the law's own days, counted from the incident (issue 11 §1).

BTAL 73(1) "no later than the same day" is a calendar day: an incident on a Saturday
is due that Saturday at 23:59.  MK 89's parent contact is "the same school day".  A
case entered after its first deadline has passed opens already overdue, marked as
reported late; it is not given a fresh deadline.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from engine.calendar import WorkingDayCalendar
from engine.cases import open_case
from engine.clock import FixedClock
from engine.errors import FieldError
from engine.periods import DayKind, Period, Unit
from engine.queries import actor_for, case_view
from engine.reports import case_page
from gaita.bootstrap import App
from gaita.demo import sample_fields
from tests.conftest import snapshot
from tests.engine.test_escalation import state_task, tick_at

RIGA = "+02:00"
SCHOOL = "jelgavas-4-vsk"
CODE = "120514-21234"   # born 12.05.2014


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + RIGA)


def open_typed(app: App, case_type: str, **kw: Any) -> Any:
    wf = app.rt.registry.latest(case_type)
    by_school = case_type != "unregistered_child"
    return open_case(app.db, app.rt, case_type,
                     actor_for(app.db, "skola" if by_school else "koordinatore"),
                     child_name="Anna Bērziņa", child_code=CODE,
                     school=SCHOOL if by_school else None,
                     fields=sample_fields(wf.open.fields), **kw)


def riga(app: App, instant: datetime) -> str:
    return app.rt.calendar.format_local(instant)


# -- the calendar ----------------------------------------------------------------------

CAL = WorkingDayCalendar(school_holidays=[(date(2026, 10, 19), date(2026, 10, 23))])


def test_a_calendar_same_day_is_the_incident_s_own_day_even_on_a_weekend_or_holiday() -> None:
    for local in ("2026-12-05T10:00", "2026-12-06T23:00", "2026-11-18T08:00"):  # Sat, Sun, 18 Nov
        due = CAL.same_day(at(local), DayKind.CALENDAR)
        assert CAL.format_local(due) == f"{local[8:10]}.{local[5:7]}.2026 23:59"


def test_a_working_same_day_on_a_day_off_is_the_next_working_day() -> None:
    assert CAL.format_local(CAL.same_day(at("2026-12-05T10:00"), DayKind.WORKING_DAY)) == \
        "07.12.2026 23:59"


def test_a_school_same_day_skips_weekends_and_the_school_holidays() -> None:
    assert CAL.format_local(CAL.same_day(at("2026-10-16T10:00"), DayKind.SCHOOL_DAY)) == \
        "16.10.2026 23:59"   # a Friday with lessons
    # Saturday before the autumn holiday: the next school day is Monday after it
    assert CAL.format_local(CAL.same_day(at("2026-10-17T10:00"), DayKind.SCHOOL_DAY)) == \
        "26.10.2026 23:59"
    assert not CAL.is_school_day(date(2026, 10, 21)) and CAL.is_working_day(date(2026, 10, 21))


def test_periods_in_calendar_days_and_months_end_at_the_end_of_their_last_day() -> None:
    start = at("2026-01-31T10:00")
    assert CAL.format_local(CAL.add_period(start, Period(3, Unit.DAYS))) == "03.02.2026 23:59"
    assert CAL.format_local(CAL.add_period(start, Period(1, Unit.MONTHS))) == "28.02.2026 23:59"
    assert CAL.add_period(start, Period(2)) == CAL.due_at(start, 2)
    with pytest.raises(ValueError, match="not a unit of time"):
        Period(3, Unit.LESSONS)


def test_working_days_before_counts_back_across_years() -> None:
    assert CAL.working_days_before(date(2027, 1, 5), 3) == date(2026, 12, 29)
    assert CAL.working_days_between(date(2026, 12, 29), date(2027, 1, 5)) == 3


def test_typed_times_are_read_in_riga_time() -> None:
    assert CAL.parse_local("05.12.2026 14:30") == at("2026-12-05T14:30")
    assert CAL.parse_local(" 05.12.2026 ") == at("2026-12-05T00:00")
    assert CAL.parse_local("2026-12-05T14:30") == at("2026-12-05T14:30")
    assert CAL.parse_local("2026-12-05T12:30Z") == at("2026-12-05T14:30")
    for bad in ("31.02.2026", "5/12/2026", "šodien", ""):
        with pytest.raises(ValueError, match="Invalid isoformat"):
            CAL.parse_local(bad)


# -- opening a case ------------------------------------------------------------------


def test_a_saturday_incident_is_due_that_saturday_at_23_59(gaita: App, clock: FixedClock) -> None:
    clock.set(at("2026-12-05T15:00"))   # Saturday
    r = open_typed(gaita, "violence", incident_at=at("2026-12-05T11:20"))
    assert riga(gaita, r.task.due_at) == "05.12.2026 23:59"
    assert r.late_days is None and r.warnings == ()


def test_an_absence_is_due_the_same_school_day(gaita: App, clock: FixedClock) -> None:
    clock.set(at("2026-12-05T15:00"))   # Saturday: no lessons, so Monday
    r = open_typed(gaita, "absences", incident_at=at("2026-12-05T09:00"))
    assert riga(gaita, r.task.due_at) == "07.12.2026 23:59"


def test_a_case_entered_two_days_late_opens_overdue_and_says_so(
        gaita: App, clock: FixedClock) -> None:
    clock.set(at("2026-12-07T09:00"))   # Monday; the violence happened on Saturday
    r = open_typed(gaita, "violence", incident_at=at("2026-12-05T11:20"))
    assert riga(gaita, r.task.due_at) == "05.12.2026 23:59"   # not a fresh deadline
    assert r.late_days == 2
    assert [w.code for w in r.warnings] == ["case.reported_late"]
    view = case_view(gaita.db, gaita.rt, r.reference, actor_for(gaita.db, "koordinatore"))
    assert (view["overdue"], view["late_days"], view["incident_at"]) == (
        True, 2, at("2026-12-05T11:20"))
    rows, _ = case_page(gaita.db, gaita.rt)
    assert [(row["reference"], row["late_days"]) for row in rows] == [(r.reference, 2)]
    # the scheduler acts at once: the urgent ladder's first steps, not a reminder
    effects = tick_at(gaita, at("2026-12-07T09:01")).effects
    assert effects["breach"] == 1 and effects["ladder:notify_coordinator"] == 1
    assert state_task(gaita, r.reference)["remind_at"] is None


def test_an_incident_without_a_time_counts_from_now(gaita: App, clock: FixedClock) -> None:
    r = open_typed(gaita, "violence")
    view = case_view(gaita.db, gaita.rt, r.reference, actor_for(gaita.db, "koordinatore"))
    assert view["incident_at"] == clock.now() and view["late_days"] is None


@pytest.mark.parametrize(("incident", "code"), [
    (lambda now: now + timedelta(minutes=5), "incident.future"),
    (lambda now: at("2010-01-01T12:00"), "incident.before_birth"),
    (lambda now: now.replace(tzinfo=None), "incident.no_timezone"),
])
def test_an_impossible_incident_time_is_refused_and_nothing_is_stored(
        gaita: App, clock: FixedClock, incident: Any, code: str) -> None:
    before = snapshot(gaita.db)
    with pytest.raises(FieldError) as exc:
        open_typed(gaita, "violence", incident_at=incident(clock.now()))
    assert (exc.value.field, exc.value.reason.code) == ("incident_at", code)
    assert snapshot(gaita.db) == before


def test_a_working_day_deadline_of_the_opening_state_counts_from_the_incident_too(
        gaita: App, clock: FixedClock) -> None:
    clock.set(at("2026-12-07T09:00"))
    r = open_typed(gaita, "unregistered_child", incident_at=at("2026-09-01T09:00"))
    assert r.task.due_at < clock.now() and r.late_days is not None and r.late_days > 60
    with gaita.db.connect() as conn:
        assert conn.execute(sa.text('select late_days from "case"')).scalar_one() == r.late_days
    assert state_task(gaita, r.reference)["remind_at"] is None


@pytest.mark.parametrize(("case_type", "due"), [
    ("violence", "05.12.2026 23:59"),     # BTAL 73(1): that Saturday
    ("substances", "05.12.2026 23:59"),   # BTAL 73(1): that Saturday
    ("absences", "07.12.2026 23:59"),     # MK 89: the next school day
    ("unregistered_child", None),         # working days, counted from the incident's day
])
def test_each_case_type_counts_its_first_deadline_from_a_saturday_incident(
        gaita: App, clock: FixedClock, case_type: str, due: str | None) -> None:
    clock.set(at("2026-12-05T18:00"))
    incident = at("2026-12-05T10:00")
    r = open_typed(gaita, case_type, incident_at=incident)
    wf = gaita.rt.registry.latest(case_type)
    if due is None:
        expected = gaita.rt.calendar.add_period(
            incident, gaita.rt.period(wf.state(wf.initial).deadline.param))
        assert r.task.due_at == expected
    else:
        assert riga(gaita, r.task.due_at) == due
    assert r.late_days is None
