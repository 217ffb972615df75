"""Deadline, reminder and acknowledgement times of a task entering a state.

A state declares its deadline (``deadline:`` in its workflow): N working days, the same
day of a named kind (``same_day: calendar | school_day | working_day``, as the law
says), or a parameter counted in its unit (working days, calendar days, months).  It
may declare when to remind (``remind_before`` working days earlier: a number or a
parameter) and how long the assignee has to confirm receipt (``acknowledge_within``,
default the parameter ``tasks.acknowledge_days``).  Days are counted on the municipality's calendar
(``engine.calendar``: day 0 is the day the step starts); a deadline falls due at the
end of its last day.

A step starts when the case enters the state, except the opening state, whose deadline
counts from the incident (``open_case(incident_at=...)``): a case entered after that
deadline has passed is opened already overdue.
"""

from __future__ import annotations

from datetime import datetime

from engine.definitions import Deadline, Workflow
from engine.periods import Period
from engine.runtime import Runtime

#: The municipality parameter for states that declare no ``acknowledge_within``.
DEFAULT_ACKNOWLEDGE_PARAM = "tasks.acknowledge_days"


def deadline_for(rt: Runtime, wf: Workflow, state: str, start: datetime, now: datetime
                 ) -> tuple[datetime | None, datetime | None]:
    """(due_at, remind_at) for a step of ``state`` that started at ``start`` (the
    incident, or ``now``); no reminder when it would not come after ``now``."""
    spec = wf.state(state)
    if spec.deadline is None:
        return None, None
    remind_before = None if spec.remind_before is None else rt.days(spec.remind_before)
    due, remind = due_and_reminder(rt, start, spec.deadline, remind_before)
    return due, remind if remind is not None and remind > now else None


def due_and_reminder(rt: Runtime, start: datetime, deadline: Deadline | Period,
                     remind_before: int | None) -> tuple[datetime, datetime | None]:
    """Due at the end of ``deadline`` counted from ``start``; reminded ``remind_before``
    working days earlier, when that is still after ``start``."""
    if isinstance(deadline, Deadline) and deadline.same_day is not None:
        return rt.calendar.same_day(start, deadline.same_day), None
    cal = rt.calendar
    period = deadline if isinstance(deadline, Period) else _period(rt, deadline)
    due = cal.add_period(start, period)
    if not remind_before:
        return due, None
    # the end of the working day that many working days before the due day, if later
    remind_day = cal.working_days_before(cal.local_date(due), remind_before)
    return due, cal.end_of_day(remind_day) if remind_day > cal.local_date(start) else None


def _period(rt: Runtime, deadline: Deadline) -> Period:
    if deadline.param is not None:
        return rt.period(deadline.param)
    return Period(deadline.working_days or 0)


def acknowledge_due(rt: Runtime, start: datetime, within: int | str | None = None) -> datetime:
    """When the assignee of a task opened at ``start`` must have confirmed receipt
    (``within``: working days or a parameter; default ``tasks.acknowledge_days``)."""
    return rt.calendar.add_period(start, rt.period(DEFAULT_ACKNOWLEDGE_PARAM if within is None
                                                   else within))
