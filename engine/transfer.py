"""A case moves with its child to another school (DOMAIN.md §2.4 B10: "the pupil moved
school (the case transfers)"): the move does not close the case.

``transfer_school`` asks the new school to take the case over: an event on the case,
a ``transfer`` task for the new school (due in ``transfer.accept_working_days``, with
the usual acknowledgement, reminders and action links) and an email carrying its
links.  The new school answers that task like any other (``engine.answers``):
accepting it (``accept_in``) makes the new school the case's school, hands it the
case's open task if the old school held it, and tells the old school; declining it
(with a reason) leaves the case where it was.  Either answer is an event.  The case
is the same case: no new case is opened, so nothing is flagged as repeated
(``engine.group.queue.queue_if_repeated``).  The access policy decides who may ask
(``Action.TRANSFER_SCHOOL``) and who answers (the new school, holding the task);
both steps are written to the access log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.access_log import log_access
from engine.deadlines import acknowledge_due, due_and_reminder
from engine.errors import FieldError, NotFound, NotPermitted, msg
from engine.events import EventKind, append_event
from engine.outbox import Template, queue_mail
from engine.runtime import Actor, Runtime
from engine.store import CASE, INSTITUTION, TASK, load_case_row, require_version
from engine.tables import AccessAction, CaseStatus, Channel, TaskKind, TaskStatus
from engine.tasks import TaskInfo, insert_task

ACCEPT_DAYS_PARAM = "transfer.accept_working_days"


class TransferAnswer(StrEnum):
    """What the emails about a transfer say (``extra["answer"]``): to the coordinating
    institution, the new school's answer; to the old school, that the case moved."""

    ACCEPTED = "transfer_accept"
    DECLINED = "transfer_decline"
    MOVED = "transferred"


@dataclass(frozen=True)
class TransferResult:
    reference: str
    from_school: str | None
    to_school: str
    task_id: int
    due_at: datetime
    version: int


def pending_transfer(conn: sa.Connection, case_id: int) -> dict[str, Any] | None:
    """The case's open ``transfer`` task, if one waits for the new school."""
    row = conn.execute(sa.select(TASK).where(
        TASK.c.case_id == case_id, TASK.c.kind == TaskKind.TRANSFER,
        TASK.c.closed_at.is_(None))).mappings().first()
    return None if row is None else dict(row)


def transfer_school(db: sa.Engine, rt: Runtime, reference: str, new_school: str, actor: Actor,
                    *, reason: str | None = None, expected_version: int | None = None,
                    channel: Channel = Channel.CLI) -> TransferResult:
    """Ask ``new_school`` to take the case over (``accept_in`` completes the move)."""
    now = rt.clock.now()
    new_school = new_school.strip()
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        policy.require_on_case(conn, rt, actor, policy.Action.TRANSFER_SCHOOL, case)
        require_version(case, expected_version)
        if case["status"] != CaseStatus.OPEN:
            raise NotPermitted("transfer.case_closed", reference=reference,
                               outcome=case["outcome"])
        old = case["school_institution"]
        if old is None:
            raise NotPermitted("transfer.no_school", reference=reference)
        roles = conn.execute(sa.select(INSTITUTION.c.roles).where(
            INSTITUTION.c.code == new_school)).scalar()
        if roles is None:
            raise NotFound("institution.not_found", code=new_school)
        if not rt.registry.roles.per_case & set(roles):
            raise FieldError("school", msg("field.not_a_school", code=new_school))
        if new_school == old:
            raise FieldError("school", msg("transfer.same_school", code=new_school))
        waiting = pending_transfer(conn, case["id"])
        if waiting is not None:
            raise NotPermitted("transfer.pending", reference=reference,
                               school=waiting["assignee_institution"])
        payload: dict[str, Any] = {"from": old, "to": new_school}
        if reason and reason.strip():
            payload["reason"] = reason.strip()
        event_id = append_event(conn, case, actor, now, kind=EventKind.TRANSFER_REQUESTED,
                                payload=payload)
        due, remind = due_and_reminder(rt, now, rt.period(ACCEPT_DAYS_PARAM), None)
        task_id = insert_task(conn, case_id=case["id"], kind=TaskKind.TRANSFER,
                              state=case["state"], assignee=new_school, now=now, due_at=due,
                              remind_at=remind, ack_due_at=acknowledge_due(rt, now),
                              event_id=event_id)
        school_role = sorted(rt.registry.roles.per_case)[0]
        queue_mail(conn, case, event_id, now, [(Template.TRANSFER_REQUEST, school_role,
                                                new_school)],
                   TaskInfo(case["state"], new_school, due, task_id), extra={"from": old})
        log_access(conn, case["id"], actor.username, AccessAction.WRITE, channel, now,
                   detail=f"transfer_request:{new_school}")
    return TransferResult(reference, old, new_school, task_id, due, case["version"] + 1)


def accept_in(conn: sa.Connection, rt: Runtime, task: Mapping[str, Any],
              case: Mapping[str, Any], actor: Actor, now: datetime, *,
              note: str | None = None, channel: Channel | str = Channel.LINK) -> int:
    """The new school accepts (``engine.answers``, in its transaction): the case's school
    becomes the task's institution; the case's open task moves with it if the old school
    held it; the old school is told.  Returns the event's id."""
    old, new = case["school_institution"], task["assignee_institution"]
    payload: dict[str, Any] = {"action": "accept", "task": task["id"], "from": old, "to": new}
    if note:
        payload["note"] = note
    event_id = append_event(conn, case, actor, now, kind=EventKind.TRANSFERRED, payload=payload)
    conn.execute(sa.update(CASE).where(CASE.c.id == case["id"]).values(
        school_institution=new, **({"owner_institution": new}
                                   if case["owner_institution"] == old else {})))
    conn.execute(sa.update(TASK).where(
        TASK.c.case_id == case["id"], TASK.c.kind == TaskKind.STATE,
        TASK.c.closed_at.is_(None), TASK.c.assignee_institution == old,
    ).values(assignee_institution=new))
    conn.execute(sa.update(TASK).where(TASK.c.id == task["id"]).values(
        acknowledged_at=task["acknowledged_at"] or now, accepted_at=now, closed_at=now,
        status=TaskStatus.DONE, closed_by_event=event_id, next_check_at=None, check_token=None))
    school_role = sorted(rt.registry.roles.per_case)[0]
    if old is not None:
        queue_mail(conn, case, event_id, now, [(Template.CASE_UPDATE, school_role, old)], None,
                   extra={"answer": TransferAnswer.MOVED.value, "to": new})
    log_access(conn, case["id"], actor.username, AccessAction.WRITE, channel, now,
               detail=f"transfer_accepted:{new}")
    return event_id


def decline_in(conn: sa.Connection, rt: Runtime, task: Mapping[str, Any],
               case: Mapping[str, Any], actor: Actor, now: datetime, *, reason: str,
               channel: Channel | str = Channel.LINK) -> int:
    """The new school declines (a reason is required): the case stays where it was."""
    event_id = append_event(conn, case, actor, now, kind=EventKind.TRANSFER_DECLINED, payload={
        "action": "decline", "task": task["id"], "from": case["school_institution"],
        "to": task["assignee_institution"], "reason": reason})
    conn.execute(sa.update(TASK).where(TASK.c.id == task["id"]).values(
        acknowledged_at=task["acknowledged_at"] or now, declined_at=now, closed_at=now,
        status=TaskStatus.DONE, closed_by_event=event_id, next_check_at=None, check_token=None))
    log_access(conn, case["id"], actor.username, AccessAction.WRITE, channel, now,
               detail=f"transfer_declined:{task['assignee_institution']}")
    return event_id


def pending_task_of(db: sa.Engine, reference: str) -> int:
    """The id of the case's open transfer task (``NotFound`` if none waits)."""
    with db.connect() as conn:
        case = load_case_row(conn, reference)
        task = pending_transfer(conn, case["id"])
    if task is None:
        raise NotFound("transfer.none_pending", reference=reference)
    return int(task["id"])
