"""When a queued email goes out, and which emails go out together.

The engine queues one outbox row per notice, in the transaction of the change
(``engine.outbox``); this module decides, when the delivery worker has claimed a
row, whether it is sent now or later, and with which other rows:

* **urgent**: an ``urgent_report`` email, or any email about a task of a state
  whose deadline is the same day (BTAL 73(1), MK 89): sent at once and alone,
  never held and never merged into a later email, at any hour of any day;
* **reminder**: a reminder, overdue notice or escalation to a head: sent only
  within the municipality's working hours on working days (``mail.working_hours``
  in ``municipality.yaml``), and at the earliest ``coalesce_minutes`` after it was
  queued; every reminder waiting for one recipient goes out in one email, whatever
  the case (one scheduler run over many cases: one email per recipient);
* **digest**: the daily digest: within working hours (from when it was queued), alone;
* **notice**: any other email about a case: sent ``coalesce_minutes`` after it was
  queued, together with every other notice waiting for the same recipient about
  the same case (a case that changes six times in two minutes: one email);
* **alone**: a delivery failure notice, an email about no case, to another
  municipality, or about a case whose declaration is gone (it fails at once, visibly):
  at once, alone.

All times come from the injectable clock; working days from ``rt.calendar``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from engine.errors import NotFound
from engine.outbox import TO_HEAD
from engine.runtime import Runtime
from engine.store import CASE, TASK
from engine.tables import TaskKind
from notifications.catalogue import (
    DIGEST_TEMPLATES,
    IMMEDIATE_TEMPLATES,
    REMINDER_TEMPLATES,
    URGENT_TEMPLATES,
)


class SendKind(StrEnum):
    URGENT = "urgent"
    REMINDER = "reminder"
    DIGEST = "digest"
    NOTICE = "notice"
    ALONE = "alone"


#: A group of rows sent as one email: ``("row", id)`` for a row sent alone.
GroupKey = tuple[Any, ...]


@dataclass(frozen=True)
class Timing:
    kind: SendKind
    release_at: datetime     # not before
    key: GroupKey            # rows with one key are sent as one email


def timing(conn: sa.Connection, rt: Runtime, row: Mapping[str, Any], now: datetime) -> Timing:
    """When ``row`` may be sent, at ``now``, and what it goes out with."""
    kind = send_kind(conn, rt, row)
    mail = rt.municipality.municipality.mail
    window = timedelta(minutes=mail.coalesce_minutes)
    to = (row["recipient_institution"], row["recipient_user"], row["payload"].get("to") == TO_HEAD)
    match kind:
        case SendKind.URGENT | SendKind.ALONE:
            return Timing(kind, now, ("row", row["id"]))
        case SendKind.NOTICE:
            return Timing(kind, row["created_at"] + window, ("case", row["case_id"], *to))
        case SendKind.REMINDER | SendKind.DIGEST:
            hours = mail.working_hours
            # a digest is queued whole (one transaction): it has no one to wait for
            earliest = row["created_at"] + (window if kind is SendKind.REMINDER else timedelta())
            release = rt.calendar.working_time(max(earliest, now), hours.start, hours.end)
            key = ("reminders", *to) if kind is SendKind.REMINDER else ("row", row["id"])
            return Timing(kind, release, key)
    raise AssertionError(kind)   # pragma: no cover


def send_kind(conn: sa.Connection, rt: Runtime, row: Mapping[str, Any]) -> SendKind:
    template = row["template"]
    same_day = _same_day_task(conn, rt, row)
    if template in URGENT_TEMPLATES or same_day:
        return SendKind.URGENT
    if template in IMMEDIATE_TEMPLATES or same_day is None:
        return SendKind.ALONE
    if template in REMINDER_TEMPLATES:
        return SendKind.REMINDER
    if template in DIGEST_TEMPLATES:
        return SendKind.DIGEST
    if row["case_id"] is None or row["payload"].get("external") is not None:
        return SendKind.ALONE
    return SendKind.NOTICE


def _same_day_task(conn: sa.Connection, rt: Runtime, row: Mapping[str, Any]) -> bool | None:
    """The email is about a task whose deadline is a same-day legal duty: the task of a
    state with ``deadline: {same_day: …}``, or a report filed in such a state.  None: the
    case's declaration is gone (the email cannot be built)."""
    task_id = row["task_id"] or row["payload"].get("task")
    if task_id is None:
        return False
    task = conn.execute(sa.select(TASK.c.state, TASK.c.kind, CASE.c.case_type,
                                  CASE.c.definition_version)
                        .join(CASE, CASE.c.id == TASK.c.case_id)
                        .where(TASK.c.id == task_id)).first()
    if task is None or task.kind not in (TaskKind.STATE, TaskKind.REPORT):
        return False
    try:
        wf = rt.registry.get(task.case_type, task.definition_version)
    except NotFound:
        return None
    if task.state not in wf.states:
        return False
    state = wf.state(task.state)
    return state.deadline is not None and state.deadline.same_day is not None
