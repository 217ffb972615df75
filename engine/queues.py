"""Work queues: the named selections of open cases behind the dashboard's counters.

Each ``Queue`` is one SQL condition on ``case`` outer-joined with its open state task
(``OPEN_TASK``, via ``WITH_TASK``).  The dashboard counts with these conditions and the
case list (``/cases?queue=<name>``, ``engine.reports.case_page(queue=)``) selects with
the very same ones, so a counter always equals the rows of the list it opens.

- ``overdue``, ``due_today``, ``due_this_week``: the open state task's ``due_at``
  against now (see ``engine.reports``); never a paused case, and never a case whose
  institution has reported its step done: that case waits for the coordinator
  (``reported_done``), its deadline no longer counts as the institution's overdue work;
- ``unacknowledged``: the state task's receipt was not acknowledged in time, and still
  is not;
- ``paused_too_long``: the clock has been paused longer than ``engine.pause`` allows;
- ``failed_emails``: the case has an email that could not be delivered (a dead letter);
- ``my_tasks``: an open task of the viewer's institution on the case (the state task,
  an agreed action, a report to answer, a school move), unless it is a state task it
  has already reported done;
- ``reported_done``: the institution holding the step has reported it done; the
  coordinator chooses the next step;
- ``extension_requests``: the state task's holder asked for more time, undecided;
- ``information_requests``: a report filed to another institution (``engine.filings``,
  ``TaskKind.REPORT``) that is not answered yet.

The last four are the coordinator's own queues (``COORDINATOR_QUEUES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

import sqlalchemy as sa

from engine.calendar import WorkingDayCalendar
from engine.pause import pause_limit_at
from engine.runtime import Runtime
from engine.store import CASE, OUTBOX, TASK
from engine.tables import OutboxStatus, TaskKind


class Queue(StrEnum):
    """A work queue (``/cases?queue=<value>``)."""

    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    DUE_THIS_WEEK = "due_this_week"
    UNACKNOWLEDGED = "unacknowledged"
    PAUSED_TOO_LONG = "paused_too_long"
    FAILED_EMAILS = "failed_emails"
    MY_TASKS = "my_tasks"
    REPORTED_DONE = "reported_done"
    EXTENSION_REQUESTS = "extension_requests"
    INFORMATION_REQUESTS = "information_requests"


#: The coordinator's own queues, shown on the dashboard to users who coordinate.
COORDINATOR_QUEUES = (Queue.MY_TASKS, Queue.REPORTED_DONE, Queue.EXTENSION_REQUESTS,
                      Queue.INFORMATION_REQUESTS)

#: The open state task of a case (at most one: ``uq_task_one_open_per_case``), so an
#: outer join with it never repeats a case.  An alias: a ``where`` of the access policy
#: may have its own ``EXISTS`` on ``task``, correlated with ``case`` only.
OPEN_TASK = TASK.alias("open_task")
WITH_TASK = CASE.outerjoin(OPEN_TASK, sa.and_(
    OPEN_TASK.c.case_id == CASE.c.id, OPEN_TASK.c.closed_at.is_(None),
    OPEN_TASK.c.kind == TaskKind.STATE))
#: A task of the case beside its open state task, for the queues that look at any task.
_OTHER = TASK.alias("queue_task")


def midnight(cal: WorkingDayCalendar, day: date) -> datetime:
    """The start of ``day`` in the calendar's timezone, in UTC."""
    return datetime.combine(day, time(0), tzinfo=cal.timezone).astimezone(UTC)


def long_pause_threshold(rt: Runtime, now: datetime) -> datetime:
    """A pause that began before this instant has run too long at ``now``.

    ``pause_limit_at`` depends only on the local day a pause began and grows with
    it, so the last day whose limit has passed is found walking back from today.
    """
    day = rt.calendar.local_date(now)
    while pause_limit_at(rt, midnight(rt.calendar, day)) > now:
        day -= timedelta(days=1)
    return midnight(rt.calendar, day + timedelta(days=1))


@dataclass(frozen=True)
class Moments:
    """The instants the deadline queues compare with: now, the end of today and the
    end of the current ISO week (Sunday), Riga time, and the long-pause threshold."""

    now: datetime
    tomorrow: datetime
    next_monday: datetime
    long_pause: datetime

    @classmethod
    def of(cls, rt: Runtime, now: datetime) -> Moments:
        cal = rt.calendar
        today = cal.local_date(now)
        return cls(now, midnight(cal, today + timedelta(days=1)),
                   midnight(cal, today + timedelta(days=7 - today.weekday())),
                   long_pause_threshold(rt, now))


#: The state task's holder reported its step done: the case waits for the coordinator.
WAITING_FOR_COORDINATOR = OPEN_TASK.c.reported_done_at.is_not(None)
_RUNNING = CASE.c.paused_at.is_(None) & OPEN_TASK.c.reported_done_at.is_(None)
#: Task kinds as SQL literals, not parameters: SQLite uses a partial index only when the
#: query repeats its condition (``engine.tables.Task``'s ``ix_task_*`` indexes).
_STATE: sa.ColumnElement[str] = sa.literal_column(f"'{TaskKind.STATE.value}'")
_REPORT: sa.ColumnElement[str] = sa.literal_column(f"'{TaskKind.REPORT.value}'")
_FAILED: sa.ColumnElement[str] = sa.literal_column(f"'{OutboxStatus.FAILED.value}'")
#: "A state task", checked on the few rows a partial index found: as a plain ``kind =``
#: SQLite would rather walk ``ix_task_open_kind`` over every open state task.


#: "A state task", checked on the few rows a partial index found: as a plain ``kind =``
#: SQLite would rather walk ``ix_task_open_kind`` over every open state task.
_STATE_TASK = sa.func.coalesce(_OTHER.c.kind, "") == _STATE


def _with_open_task(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """Cases with an open task meeting ``conditions``: ``case.id IN (SELECT case_id …)``,
    so the database starts from the (few) tasks through their partial index instead of
    probing every open case."""
    return CASE.c.id.in_(sa.select(_OTHER.c.case_id).where(_OTHER.c.closed_at.is_(None),
                                                           *conditions))


def condition(queue: Queue, at: Moments, institution: str | None) -> sa.ColumnElement[bool]:
    """The queue's condition on ``WITH_TASK`` (open cases are the caller's to ask for);
    ``institution``: the viewer's, for ``my_tasks`` (none: no case)."""
    due = OPEN_TASK.c.due_at
    if queue is Queue.OVERDUE:
        return _RUNNING & (due < at.now)
    if queue is Queue.DUE_TODAY:
        return _RUNNING & (due >= at.now) & (due < at.tomorrow)
    if queue is Queue.DUE_THIS_WEEK:
        return _RUNNING & (due >= at.tomorrow) & (due < at.next_monday)
    if queue is Queue.UNACKNOWLEDGED:
        return _with_open_task(_OTHER.c.unacknowledged_at.is_not(None),
                               _OTHER.c.acknowledged_at.is_(None), _STATE_TASK)
    if queue is Queue.PAUSED_TOO_LONG:
        return CASE.c.paused_at.is_not(None) & (CASE.c.paused_at < at.long_pause)
    if queue is Queue.FAILED_EMAILS:
        return CASE.c.id.in_(sa.select(OUTBOX.c.case_id).where(OUTBOX.c.status == _FAILED))
    if queue is Queue.MY_TASKS:
        if institution is None:
            return sa.false()
        return _with_open_task(_OTHER.c.assignee_institution == institution, sa.or_(
            _OTHER.c.kind != _STATE, _OTHER.c.reported_done_at.is_(None)))
    if queue is Queue.REPORTED_DONE:
        return _with_open_task(_OTHER.c.reported_done_at.is_not(None), _STATE_TASK)
    if queue is Queue.EXTENSION_REQUESTS:
        return _with_open_task(_OTHER.c.extension_days.is_not(None), _STATE_TASK)
    if queue is Queue.INFORMATION_REQUESTS:
        return _with_open_task(_OTHER.c.kind == _REPORT)
    raise AssertionError(queue)   # pragma: no cover - every member is handled above
