"""Outbox rows: the emails a change queues, in the change's own transaction.

The engine decides who is told (an institution, by the role it plays for the
case, or a user) and with which template; ``notifications`` renders and sends
the rows later (DESIGN.md §6).  A payload holds references, codes and counts,
never personal data.  The email to the institution holding a task carries
that task's action links (``task_id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from engine.runtime import Runtime
from engine.store import OUTBOX
from engine.tables import OutboxStatus
from engine.tasks import TaskInfo


class Template(StrEnum):
    """The emails the engine queues by itself; a workflow names its own in its
    declaration (``notify:``).  Each is a template in ``notifications/templates``."""

    CASE_UPDATE = "case_update"          # an answer, a decision on it, a long pause
    TASK_REMINDER = "task_reminder"
    TASK_OVERDUE = "task_overdue"
    ESCALATION_HEAD = "escalation_head"  # to the head of the institution holding the task
    GROUP_QUEUED = "group_queued"        # a case joined the cooperation group's queue
    MEETING_AGENDA = "meeting_agenda"
    DECISION_TASK = "decision_task"      # an action the cooperation group agreed
    GROUP_WAITING = "group_waiting"      # an urgent referral waits with no meeting planned
    TRANSFER_REQUEST = "transfer_request"  # a new school is asked to take a case over


#: ``payload["to"]``: the email goes to the institution's head, not its address.
TO_HEAD = "head"

_INSERT_OUTBOX = sa.insert(OUTBOX)


def queue_mail(conn: sa.Connection, case: Mapping[str, Any], event_id: int, now: datetime,
               recipients: Sequence[tuple[str, str | None, str | None]],
               task: TaskInfo | None, extra: Mapping[str, Any] | None = None,
               **payload: Any) -> None:
    """Outbox rows for (template, recipient role, institution); the email to the
    institution holding ``task`` carries that task's action links."""
    conn.execute(_INSERT_OUTBOX, [outbox_row(
        now, template, case=case, event_id=event_id, role=role, institution=institution,
        task_id=task.id if task and institution == task.assignee else None, extra=extra,
        **payload) for template, role, institution in recipients])


def tell_coordinating(conn: sa.Connection, rt: Runtime, now: datetime, template: str, *,
                      case: Mapping[str, Any] | None = None, event_id: int | None = None,
                      extra: Mapping[str, Any] | None = None, **payload: Any) -> None:
    """Queue ``template`` to the coordinating institution (``coordinates: true``)."""
    role = rt.registry.roles.coordinating
    institution = rt.institution_for(role, case)
    conn.execute(_INSERT_OUTBOX, outbox_row(now, template, case=case, event_id=event_id,
                                            role=role, institution=institution, extra=extra,
                                            **payload))


def outbox_row(now: datetime, template: str, *, case: Mapping[str, Any] | None = None,
               event_id: int | None = None, task_id: int | None = None, role: str | None = None,
               institution: str | None = None, user: str | None = None,
               extra: Mapping[str, Any] | None = None, to: str | None = None,
               task_ref: int | None = None) -> dict[str, Any]:
    """A new, queued outbox row.  ``extra`` is handed to the template as is
    (references, codes and counts, never personal data).  ``to=TO_HEAD`` addresses
    the institution's head; ``task_ref`` names a task the email is about without
    giving the recipient its action links."""
    payload: dict[str, Any] = {"reference": case["reference"]} if case is not None else {}
    if extra:
        payload["extra"] = dict(extra)
    if to is not None:
        payload["to"] = to
    if task_ref is not None:
        payload["task"] = task_ref
    return {
        "case_id": case["id"] if case is not None else None, "event_id": event_id,
        "task_id": task_id, "template": str(template), "recipient_role": role,
        "recipient_institution": institution, "recipient_user": user,
        "status": OutboxStatus.QUEUED.value, "created_at": now, "queued_at": now,
        "next_attempt_at": now, "attempts": 0, "claim_token": None, "last_error": None,
        "sent_at": None, "sent_to": None, "payload": payload,
        "template_version": None, "fallback": False, "merged_into": None,
    }
