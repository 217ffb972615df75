"""Task rows: who must do what, by when.

A state gives its owner one task (kind ``state``; at most one open per case,
enforced by a partial unique index), opened and closed by the write path
(``engine.cases``).  The cooperation group's decisions add ``decision`` tasks
beside it (``engine.group.decisions``).  Either kind carries its due,
reminder and acknowledgement times, and ``next_check_at``: the earliest of
them, which the scheduler's claim reads (``engine.escalation``).

The answers an institution gives on its task are ``engine.answers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.definitions import Workflow
from engine.errors import NotFound
from engine.store import TASK, Row, load_case_row
from engine.tables import TaskKind, TaskStatus


@dataclass(frozen=True)
class TaskInfo:
    """A task just opened (or the one an email is about)."""

    state: str
    assignee: str | None
    due_at: datetime | None
    id: int | None = None


_INSERT_TASK = sa.insert(TASK).returning(TASK.c.id)
_CLOSE_STATE_TASK = sa.update(TASK).where(
    TASK.c.case_id == sa.bindparam("b_case_id"), TASK.c.closed_at.is_(None),
    TASK.c.kind == TaskKind.STATE.value)
_OPEN_STATE_TASK = sa.select(TASK.c.id).where(
    TASK.c.case_id == sa.bindparam("b_case_id"), TASK.c.closed_at.is_(None),
    TASK.c.kind == TaskKind.STATE.value)


def task_title(wf: Workflow, task: Row) -> dict[str, str] | None:
    """A task beside the state task in words, ``{lv, en}``: a decision task's agreed
    action, a report's declared title; None for a state task (its state's title)."""
    if task["kind"] == TaskKind.DECISION and task["title"]:
        return {"lv": task["title"], "en": task["title"]}
    state = wf.states.get(task["state"])
    report = (state.report(task["report"] or "") if state is not None
              and task["kind"] == TaskKind.REPORT else None)
    return {"lv": report.title.lv, "en": report.title.en} if report is not None else None


def first_check(*times: datetime | None) -> datetime | None:
    """When the scheduler must first look at a task with these times."""
    return min((t for t in times if t is not None), default=None)


def insert_task(conn: sa.Connection, *, case_id: int, kind: TaskKind, state: str,
                assignee: str | None, now: datetime, due_at: datetime | None,
                remind_at: datetime | None, ack_due_at: datetime | None, event_id: int,
                title: str | None = None, decision_id: int | None = None,
                report: str | None = None, details: dict[str, Any] | None = None) -> int:
    """Open a task; returns its id."""
    return int(conn.execute(_INSERT_TASK, {
        "case_id": case_id, "kind": kind.value, "state": state, "title": title,
        "report": report, "details": details,
        "decision_id": decision_id, "assignee_institution": assignee, "opened_at": now,
        "due_at": due_at, "remind_at": remind_at, "status": TaskStatus.OPEN.value,
        "ack_due_at": ack_due_at, "next_check_at": first_check(remind_at, due_at, ack_due_at),
        "opened_by_event": event_id, "closed_at": None, "closed_by_event": None,
    }).scalar_one())


def close_state_task(conn: sa.Connection, case_id: int, now: datetime, event_id: int) -> None:
    """Close the case's open state task (if any): the step it was for is taken."""
    conn.execute(_CLOSE_STATE_TASK, {"b_case_id": case_id, "closed_at": now,
                                     "status": TaskStatus.DONE.value, "closed_by_event": event_id})


_CANCEL_OPEN_TASKS = sa.update(TASK).where(
    TASK.c.case_id == sa.bindparam("b_case_id"), TASK.c.closed_at.is_(None))


def cancel_open_tasks(conn: sa.Connection, case_id: int, now: datetime, event_id: int) -> None:
    """The case closed: its tasks beside the state task (agreed actions, reports) end too,
    so nobody is reminded or escalated about a closed case."""
    conn.execute(_CANCEL_OPEN_TASKS, {"b_case_id": case_id, "closed_at": now,
                                      "status": TaskStatus.CANCELLED.value,
                                      "closed_by_event": event_id, "next_check_at": None,
                                      "check_token": None})


def open_task_of(db: sa.Engine, reference: str) -> int:
    """The id of the case's open state task."""
    with db.connect() as conn:
        case = load_case_row(conn, reference)
        task_id = conn.execute(_OPEN_STATE_TASK, {"b_case_id": case["id"]}).scalar()
    if task_id is None:
        raise NotFound("task.none_open", reference=reference, status=case["status"],
                       state=case["state"])
    return int(task_id)
