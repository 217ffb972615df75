"""Deadline, reminder and acknowledgement times of a task entering a state.

A state declares its deadline (``deadline:`` in its workflow: N working days,
the same working day, or a parameter's number of working days), when to remind
(``remind_before`` working days earlier: a number or a parameter) and how long
the assignee has to confirm receipt (``acknowledge_within``, default the
parameter ``tasks.acknowledge_days``).  Days are counted on the municipality's calendar
(``engine.calendar``: day 0 is the day the task opens); a deadline falls due at
the end of its last day.
"""

from __future__ import annotations

from datetime import datetime

from engine.definitions import Workflow
from engine.runtime import Runtime

#: The municipality parameter for states that declare no ``acknowledge_within``.
DEFAULT_ACKNOWLEDGE_PARAM = "tasks.acknowledge_days"


def deadline_for(rt: Runtime, wf: Workflow, state: str, start: datetime
                 ) -> tuple[datetime | None, datetime | None]:
    """(due_at, remind_at) for a task entering ``state`` at ``start``."""
    spec = wf.state(state)
    if spec.deadline is None:
        return None, None
    if spec.deadline.same_day:
        days = 0
    elif spec.deadline.param is not None:
        days = rt.days(spec.deadline.param)
    else:
        days = spec.deadline.working_days or 0
    remind_before = None if spec.remind_before is None else rt.days(spec.remind_before)
    return due_and_reminder(rt, start, days, remind_before)


def due_and_reminder(rt: Runtime, start: datetime, days: int, remind_before: int | None
                     ) -> tuple[datetime, datetime | None]:
    """Due ``days`` working days after ``start``; reminded ``remind_before`` working
    days earlier, when that is still after ``start``."""
    due = rt.calendar.due_at(start, days)
    remind = None
    if remind_before and days > remind_before:
        remind = rt.calendar.due_at(start, days - remind_before)
    return due, remind


def acknowledge_due(rt: Runtime, start: datetime, within: int | str | None = None) -> datetime:
    """When the assignee of a task opened at ``start`` must have confirmed receipt
    (``within``: working days or a parameter; default ``tasks.acknowledge_days``)."""
    return rt.calendar.due_at(start, rt.days(DEFAULT_ACKNOWLEDGE_PARAM if within is None
                                             else within))
