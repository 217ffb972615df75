"""An institution's answers on its task: acknowledge, accept, decline, done, more time.

Staff answer from the email's action links (``notifications.links``), often
with no account, so the actor is the institution itself.  Each answer is one
transaction through the case's write path (``engine.cases``): the task row,
a hash-chained event with the reason, and an outbox row telling the
coordinating institution.  Completing a task by a declared transition goes
through ``fire_in``, so guards, fields and roles are checked as for anyone.
A ``decision`` task (an action the cooperation group agreed, engine.group) has
no transition: answering ``done`` closes it.

The scheduler (``engine.escalation``) records the tasks whose assignee has not
confirmed receipt in time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine.cases import (
    CASE, DECISION_TASK, STATE_TASK, TASK, FireResult, TaskInfo, append_event, fire_in,
    load_case_row, queue_mail, tell_coordinating,
)
from engine.errors import NotFound, NotPermitted, PermissionDenied
from engine.runtime import Actor, Runtime
from engine.tables import ActionToken

ACTION_TOKEN = ActionToken.__table__


class TaskAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    DECLINE = "decline"
    DONE = "done"
    MORE_TIME = "more_time"


#: Actions whose reason is required (``done`` takes an optional note).
NEEDS_REASON = frozenset({TaskAction.DECLINE, TaskAction.MORE_TIME})
#: Event kind of every answer; the action is in the payload.
TASK_EVENT = "task"
#: The email telling the coordinating institution of an answer.
ANSWER_TEMPLATE = "case_update"


class TaskNotFound(NotFound):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"no task {task_id}")


class TaskClosed(NotPermitted):
    """The task was closed (the case moved on): its links and answers no longer apply."""


class AlreadyAnswered(NotPermitted):
    """This answer was already given (or a link was already used)."""


class ReasonRequired(NotPermitted):
    def __init__(self, action: TaskAction) -> None:
        self.action = action
        super().__init__(f"{action.value!r} needs a reason")


@dataclass(frozen=True)
class AnswerResult:
    reference: str
    task_id: int
    action: TaskAction
    event_id: int | None
    fired: FireResult | None = None   # set when ``done`` fired a transition


def answer(
    db: sa.Engine, rt: Runtime, task_id: int, action: TaskAction, actor: Actor, *,
    reason: str | None = None, days: int | None = None, trigger: str | None = None,
    fields: dict[str, Any] | None = None, link: int | None = None,
) -> AnswerResult:
    """Record ``actor``'s ``action`` on an open task.

    ``reason`` is the decline reason, the request's justification, or the note
    on ``done``.  ``days`` is the extra working days asked for (``more_time``).
    ``trigger`` and ``fields``: ``done`` by firing that declared transition.
    ``link``: the outbox row whose link was used; a second use is refused.
    """
    reason = (reason or "").strip() or None
    if action in NEEDS_REASON and reason is None:
        raise ReasonRequired(action)
    if action is TaskAction.MORE_TIME and (days is None or days < 1):
        raise NotPermitted("'more_time' needs the number of extra working days (1 or more)")
    now = rt.clock.now()
    with db.begin() as conn:
        task = _open_task(conn, task_id)
        case = load_case_row(conn, task["reference"])
        _check_actor(rt, actor, task)
        check_answer(task, action)
        decision_done = task["kind"] == DECISION_TASK and action is TaskAction.DONE
        if decision_done and trigger is not None:
            raise NotPermitted("a task the cooperation group agreed is done without a transition "
                               "(leave out --trigger); the case's own task moves the case")
        if action is TaskAction.DONE and trigger is not None:
            fired = fire_in(conn, rt, case["reference"], trigger, actor, fields, note=reason)
            _use_link(conn, link, task_id, action, now, None)
            return AnswerResult(case["reference"], task_id, action, None, fired)
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        payload: dict[str, Any] = {"action": action.value, "task": task_id}
        if reason is not None:
            payload["reason"] = reason
        if days is not None:
            payload["days"] = days
        event_id = append_event(conn, wf, case, actor, now, kind=TASK_EVENT, payload=payload)
        change = _task_change(task, action, now, days)
        if decision_done:   # no transition closes it: the answer does (engine.group)
            change.update(closed_at=now, status="done", closed_by_event=event_id,
                          next_check_at=None, check_token=None)
        conn.execute(sa.update(TASK).where(TASK.c.id == task_id).values(**change))
        _use_link(conn, link, task_id, action, now, event_id)
        if action is not TaskAction.ACKNOWLEDGE:   # the answer, never the free text
            tell_coordinating(conn, rt, now, ANSWER_TEMPLATE, case=case, event_id=event_id,
                              extra={"answer": action.value, "days": days})
    return AnswerResult(case["reference"], task_id, action, event_id)


def open_task_of(db: sa.Engine, reference: str) -> int:
    """The id of the case's open task."""
    with db.connect() as conn:
        case = load_case_row(conn, reference)
        task_id = conn.execute(sa.select(TASK.c.id).where(
            TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None),
            TASK.c.kind == STATE_TASK)).scalar()
    if task_id is None:
        raise NotFound(f"{reference} has no open task (it is {case['status']}, at {case['state']})")
    return int(task_id)


def decide_extension(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, *,
                     approve: bool) -> datetime | None:
    """Approve or refuse the open task's pending request for more time.  Approval
    moves the due date (and the reminder) by the requested working days; the
    institution is told either way.  Returns the due date after the decision.

    Decided by the coordinating institution's users (or an administrator)."""
    roles = rt.registry.roles
    coordinating = rt.municipality.institution_for_role(roles.coordinating).code
    if (actor.role in roles.read_only or roles.own_tasks_only(actor.role)
            or not (roles.administers(actor.role) or actor.institution == coordinating)):
        raise PermissionDenied(f"requests for more time are decided by {coordinating}'s "
                               f"coordinators, not by role {actor.role!r} of {actor.institution}")
    now = rt.clock.now()
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        task = conn.execute(sa.select(TASK).where(
            TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None),
            TASK.c.kind == STATE_TASK)).mappings().first()
        if task is None or task["extension_days"] is None:
            raise NotFound(f"{reference} has no pending request for more time")
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        days = task["extension_days"]
        due, remind = task["due_at"], task["remind_at"]
        if approve and due is not None:
            due = rt.calendar.due_at(due, days)
            remind = rt.calendar.due_at(remind, days) if remind is not None else None
        decision = "extension_approved" if approve else "extension_refused"
        event_id = append_event(conn, wf, case, actor, now, kind=TASK_EVENT, payload={
            "action": decision, "task": task["id"], "days": days,
            "due_at": due.isoformat() if due else None})
        conn.execute(sa.update(TASK).where(TASK.c.id == task["id"]).values(
            extension_days=None, due_at=due, remind_at=remind))
        assignee, owner = task["assignee_institution"], wf.state(task["state"]).owner
        assert owner is not None, "a state with a task has an owner"
        queue_mail(conn, case, event_id, now, [(ANSWER_TEMPLATE, owner, assignee)],   # with links
                   TaskInfo(task["state"], assignee, due, task["id"]),
                   extra={"answer": decision, "days": days})
    return due


def _open_task(conn: sa.Connection, task_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(TASK, CASE.c.reference, CASE.c.state.label("case_state")).join(
        CASE, CASE.c.id == TASK.c.case_id).where(TASK.c.id == task_id)).mappings().first()
    if row is None:
        raise TaskNotFound(task_id)
    if row["closed_at"] is not None:
        raise TaskClosed(f"the task ({row['state']}) of {row['reference']} is closed; "
                         f"the case is now at {row['case_state']}")
    return dict(row)


def _check_actor(rt: Runtime, actor: Actor, task: dict[str, Any]) -> None:
    if actor.role in rt.registry.roles.read_only:
        raise PermissionDenied(f"role {actor.role!r} is read-only")
    if actor.institution != task["assignee_institution"]:
        raise PermissionDenied(f"the task of {task['reference']} belongs to "
                               f"{task['assignee_institution']}, not to {actor.institution}")


def check_answer(task: Mapping[str, Any], action: TaskAction) -> None:
    """Raise ``AlreadyAnswered`` unless ``action`` may still be given on ``task`` (a row
    with ``reference`` and the answer columns); the link pages ask before showing a form."""
    def already(what: str, at: datetime) -> AlreadyAnswered:
        return AlreadyAnswered(f"the task of {task['reference']} was already {what} "
                               f"({at.isoformat(timespec='minutes')})")
    if task["declined_at"] is not None:
        raise already("declined", task["declined_at"])
    if action is TaskAction.ACKNOWLEDGE and task["acknowledged_at"] is not None:
        raise already("acknowledged", task["acknowledged_at"])
    if action is TaskAction.ACCEPT and task["accepted_at"] is not None:
        raise already("accepted", task["accepted_at"])
    if task["reported_done_at"] is not None and action in (
            TaskAction.DONE, TaskAction.ACCEPT, TaskAction.DECLINE):
        raise already("reported done", task["reported_done_at"])
    if action is TaskAction.MORE_TIME and task["extension_days"] is not None:
        raise AlreadyAnswered(f"the task of {task['reference']} already has a request for "
                              f"{task['extension_days']} more working days awaiting the coordinator")


def _task_change(task: dict[str, Any], action: TaskAction, now: datetime,
                 days: int | None) -> dict[str, Any]:
    received = {"acknowledged_at": task["acknowledged_at"] or now}   # any answer confirms receipt
    match action:
        case TaskAction.ACKNOWLEDGE:
            return received
        case TaskAction.ACCEPT:
            return {**received, "accepted_at": now}
        case TaskAction.DECLINE:
            return {**received, "declined_at": now}
        case TaskAction.DONE:
            return {**received, "reported_done_at": now}
        case TaskAction.MORE_TIME:
            return {**received, "extension_days": days}


def _use_link(conn: sa.Connection, link: int | None, task_id: int, action: TaskAction,
              now: datetime, event_id: int | None) -> None:
    if link is None:
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(ACTION_TOKEN).values(
                outbox_id=link, task_id=task_id, purpose=action.value, used_at=now,
                event_id=event_id))
    except IntegrityError:
        raise AlreadyAnswered("this link has already been used") from None
