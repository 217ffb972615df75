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
* **digest**: the daily digest: within working hours, alone;
* **notice**: any other email about a case: sent ``coalesce_minutes`` after it was
  queued, together with every other notice waiting for the same recipient about
  the same case (a case that changes six times in two minutes: one email);
* **alone**: an email about no case, or to another municipality: at once, alone.

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
from notifications.catalogue import DIGEST_TEMPLATES, REMINDER_TEMPLATES, URGENT_TEMPLATES


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
            release = rt.calendar.working_time(max(row["created_at"] + window, now),
                                               hours.start, hours.end)
            key = ("reminders", *to) if kind is SendKind.REMINDER else ("row", row["id"])
            return Timing(kind, release, key)
    raise AssertionError(kind)   # pragma: no cover


def send_kind(conn: sa.Connection, rt: Runtime, row: Mapping[str, Any]) -> SendKind:
    template = row["template"]
    if template in URGENT_TEMPLATES or _same_day_task(conn, rt, row):
        return SendKind.URGENT
    if template in REMINDER_TEMPLATES:
        return SendKind.REMINDER
    if template in DIGEST_TEMPLATES:
        return SendKind.DIGEST
    if row["case_id"] is None or row["payload"].get("external") is not None:
        return SendKind.ALONE
    return SendKind.NOTICE


def _same_day_task(conn: sa.Connection, rt: Runtime, row: Mapping[str, Any]) -> bool:
    """The email is about a task whose deadline is a same-day legal duty: the task of a
    state with ``deadline: {same_day: …}``, or a report filed in such a state."""
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
        state = rt.registry.get(task.case_type, task.definition_version).state(task.state)
    except NotFound:
        return False
    return state.deadline is not None and state.deadline.same_day is not None
