"""An institution's answers on its task: acknowledge, accept, decline, done, more time.

Staff answer from the email's action links (``notifications.links``), often
with no account, so the actor is the institution itself.  The access policy
decides who answers (the institution holding the task) and who decides a
request for more time (the coordinating institution).  Each answer is one
transaction: the task row, a hash-chained event with the reason, and an
outbox row telling the coordinating institution.  Completing a task by a declared transition goes
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

from engine import policy
from engine.cases import FireResult, fire_in
from engine.errors import NotFound, NotPermitted
from engine.events import EventKind, append_event
from engine.fields import coerce_fields
from engine.outbox import Template, queue_mail, tell_coordinating
from engine.runtime import Actor, Runtime
from engine.store import ACTION_TOKEN, CASE, TASK, load_case_row
from engine.tables import Channel, TaskKind, TaskStatus
from engine.tasks import TaskInfo
from engine.transfer import TransferAnswer, accept_in, decline_in


class TaskAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    DECLINE = "decline"
    DONE = "done"
    MORE_TIME = "more_time"


class ExtensionDecision(StrEnum):
    """The coordinator's decision on a request for more time (``decide_extension``)."""

    APPROVED = "extension_approved"
    REFUSED = "extension_refused"


#: The most extra working days one request for more time may ask for (a parameter).
MAX_EXTENSION_PARAM = "tasks.max_extension_days"
#: Actions whose reason is required (``done`` takes an optional note).
NEEDS_REASON = frozenset({TaskAction.DECLINE, TaskAction.MORE_TIME})
#: What a ``task`` event's ``action`` says: an answer, or a decision on a request.
TASK_EVENT_ACTIONS = frozenset({*TaskAction, *ExtensionDecision})


class TaskNotFound(NotFound):
    def __init__(self, task_id: int) -> None:
        super().__init__("task.not_found", task_id=task_id)


class TaskClosed(NotPermitted):
    """The task was closed (the case moved on): its links and answers no longer apply."""


class AlreadyAnswered(NotPermitted):
    """This answer was already given (or a link was already used)."""


class ReasonRequired(NotPermitted):
    def __init__(self, action: TaskAction) -> None:
        self.action = action
        super().__init__("answer.reason_required", action=action)


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
    channel: Channel = Channel.LINK,
) -> AnswerResult:
    """Record ``actor``'s ``action`` on an open task.

    ``reason`` is the decline reason, the request's justification, or the note
    on ``done``.  ``days`` is the extra working days asked for (``more_time``: 1 to the
    parameter ``tasks.max_extension_days``).
    ``trigger`` and ``fields``: ``done`` by firing that declared transition.
    ``link``: the outbox row whose link was used; a second use is refused.
    A ``transfer`` task (``engine.transfer``) is accepted or declined, never done:
    accepting it moves the case to the new school.  ``channel``: how the answer came
    (the access log of a transfer's answer).
    """
    reason = (reason or "").strip() or None
    if action in NEEDS_REASON and reason is None:
        raise ReasonRequired(action)
    if action is TaskAction.MORE_TIME and (days is None or days < 1):
        raise NotPermitted("answer.days_required")
    if action is TaskAction.MORE_TIME and days is not None and days > max_extension_days(rt):
        raise NotPermitted("answer.days_too_many", days=days, max=max_extension_days(rt),
                           param=MAX_EXTENSION_PARAM)
    now = rt.clock.now()
    with db.begin() as conn:
        task = _open_task(conn, task_id)
        case = load_case_row(conn, task["reference"])
        policy.require(rt, actor, policy.Action.ANSWER_TASK, policy.task_scope(conn, task),
                       reference=task["reference"])
        check_answer(task, action)
        # an agreed action or a report has no transition: answering "done" closes it
        closes_itself = (task["kind"] in (TaskKind.DECISION, TaskKind.REPORT)
                         and action is TaskAction.DONE)
        if closes_itself and trigger is not None:
            raise NotPermitted("answer.decision_without_trigger")
        if task["kind"] == TaskKind.TRANSFER and action in (
                TaskAction.ACCEPT, TaskAction.DECLINE, TaskAction.DONE):
            if action is TaskAction.DONE:   # taking the case over is accepting it
                raise NotPermitted("transfer.accept_not_done", reference=task["reference"])
            if action is TaskAction.ACCEPT:
                event_id = accept_in(conn, rt, task, case, actor, now, note=reason,
                                     channel=channel)
            else:
                event_id = decline_in(conn, rt, task, case, actor, now, reason=reason or "",
                                      channel=channel)
            _use_link(conn, link, task_id, action, now, event_id)
            told = (TransferAnswer.ACCEPTED if action is TaskAction.ACCEPT
                    else TransferAnswer.DECLINED)
            tell_coordinating(conn, rt, now, Template.CASE_UPDATE, case=case, event_id=event_id,
                              extra={"answer": told.value})
            return AnswerResult(case["reference"], task_id, action, event_id)
        if action is TaskAction.DONE and trigger is not None:
            fired = fire_in(conn, rt, case["reference"], trigger, actor, fields, note=reason)
            _use_link(conn, link, task_id, action, now, None)
            return AnswerResult(case["reference"], task_id, action, None, fired)
        payload: dict[str, Any] = {"action": action.value, "task": task_id}
        if reason is not None:
            payload["reason"] = reason
        if days is not None:
            payload["days"] = days
        answered = (_report_answer(rt, case, task, fields)
                    if task["kind"] == TaskKind.REPORT and action is TaskAction.DONE else None)
        if answered:
            payload["answer"] = answered
        event_id = append_event(conn, case, actor, now, kind=EventKind.TASK, payload=payload)
        change = _task_change(task, action, now, days)
        if closes_itself:
            change.update(closed_at=now, status=TaskStatus.DONE, closed_by_event=event_id,
                          next_check_at=None, check_token=None)
        if answered:
            change["details"] = {**(task["details"] or {}), "answer": answered}
        conn.execute(sa.update(TASK).where(TASK.c.id == task_id).values(**change))
        _use_link(conn, link, task_id, action, now, event_id)
        if action is not TaskAction.ACKNOWLEDGE:   # the answer, never the free text
            tell_coordinating(conn, rt, now, Template.CASE_UPDATE, case=case, event_id=event_id,
                              extra={"answer": action.value, "days": days})
    return AnswerResult(case["reference"], task_id, action, event_id)


def _report_answer(rt: Runtime, case: Mapping[str, Any], task: Mapping[str, Any],
                   fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """The recipient's answer on a report task, checked against the report's declared
    ``answer`` fields (``engine.filings``)."""
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    spec = wf.state(task["state"]).report(task["report"] or "") if (
        task["state"] in wf.states) else None
    return coerce_fields(spec.answer, fields or {}) if spec is not None else {}


def max_extension_days(rt: Runtime) -> int:
    """The most extra working days one request for more time may ask for."""
    return rt.days(MAX_EXTENSION_PARAM)


def decide_extension(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, *,
                     approve: bool) -> datetime | None:
    """Approve or refuse the open task's pending request for more time.  Approval
    moves the due date (and the reminder) by the requested working days; the
    institution is told either way.  Returns the due date after the decision.
    Decided by the coordinating institution's users (``engine.policy``)."""
    now = rt.clock.now()
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        policy.require_on_case(conn, rt, actor, policy.Action.DECIDE_EXTENSION, case)
        task = conn.execute(sa.select(TASK).where(
            TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None),
            TASK.c.kind == TaskKind.STATE)).mappings().first()
        if task is None or task["extension_days"] is None:
            raise NotFound("extension.none_pending", reference=reference)
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        days = task["extension_days"]
        due: datetime | None = task["due_at"]
        remind: datetime | None = task["remind_at"]
        if approve and due is not None:
            due = rt.calendar.due_at(due, days)
            remind = rt.calendar.due_at(remind, days) if remind is not None else None
        decision = ExtensionDecision.APPROVED if approve else ExtensionDecision.REFUSED
        event_id = append_event(conn, case, actor, now, kind=EventKind.TASK, payload={
            "action": decision.value, "task": task["id"], "days": days,
            "due_at": due.isoformat() if due else None})
        conn.execute(sa.update(TASK).where(TASK.c.id == task["id"]).values(
            extension_days=None, due_at=due, remind_at=remind))
        assignee, owner = task["assignee_institution"], wf.state(task["state"]).owner
        assert owner is not None, "a state with a task has an owner"
        queue_mail(conn, case, event_id, now, [(Template.CASE_UPDATE, owner, assignee)],  # links
                   TaskInfo(task["state"], assignee, due, task["id"]),
                   extra={"answer": decision.value, "days": days})
    return due


def _open_task(conn: sa.Connection, task_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(TASK, CASE.c.reference, CASE.c.case_type,
                                 CASE.c.state.label("case_state")).join(
        CASE, CASE.c.id == TASK.c.case_id).where(TASK.c.id == task_id)).mappings().first()
    if row is None:
        raise TaskNotFound(task_id)
    if row["closed_at"] is not None:
        raise TaskClosed("task.closed", state=row["state"], reference=row["reference"],
                         case_state=row["case_state"])
    return dict(row)


def check_answer(task: Mapping[str, Any], action: TaskAction) -> None:
    """Raise ``AlreadyAnswered`` unless ``action`` may still be given on ``task`` (a row
    with ``reference`` and the answer columns); the link pages ask before showing a form."""
    def already(what: str, at: datetime) -> AlreadyAnswered:
        return AlreadyAnswered(f"answer.already_{what}", reference=task["reference"],
                               at=at.isoformat(timespec="minutes"))
    if task["declined_at"] is not None:
        raise already("declined", task["declined_at"])
    if action is TaskAction.ACKNOWLEDGE and task["acknowledged_at"] is not None:
        raise already("acknowledged", task["acknowledged_at"])
    if action is TaskAction.ACCEPT and task["accepted_at"] is not None:
        raise already("accepted", task["accepted_at"])
    if task["reported_done_at"] is not None and action in (
            TaskAction.DONE, TaskAction.ACCEPT, TaskAction.DECLINE):
        raise already("done", task["reported_done_at"])
    if action is TaskAction.MORE_TIME and task["extension_days"] is not None:
        raise AlreadyAnswered("answer.extension_pending", reference=task["reference"],
                              days=task["extension_days"])


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
        raise AlreadyAnswered("link.used") from None
