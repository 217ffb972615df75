"""Reports a state's owner makes to other institutions, beside the state's own task.

A state declares its ``reports:`` (``engine.definitions.Report``), e.g. D2: violence is
reported the same day to the State Police and/or the orphan's court.  ``file_report``
makes one: a ``report_filed`` event with what the reporter wrote, and a ``report`` task
for the recipient institution with its own deadline, acknowledgement, email (carrying
the task's links) and escalation ladder.  The case's state, owner and state task stay
as they are.  ``waive_report`` records, with a reason, that a report is not made.

A transition that declares ``requires_reports`` fires only when every report the state
requires for this case (``required`` or ``required_when``) is filed or waived since the
case entered the state, and at least ``at_least`` reports are filed (``require_reports``,
asked by ``engine.cases.fire``).

The recipient reads what the report says and the case's field groups the declaration
names in ``reads`` (``report_details``), and answers like any task
(``engine.answers``): ``done`` closes a report task, with the declared ``answer`` fields.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.deadlines import acknowledge_due, due_and_reminder
from engine.definitions import Report, Transition, Workflow
from engine.errors import FieldError, Named, NotFound, NotPermitted, msg
from engine.events import EventKind, append_event
from engine.fields import coerce_fields
from engine.outbox import queue_mail
from engine.runtime import Actor, Runtime
from engine.store import CHILD, EVENT, TASK, Row
from engine.tables import CaseStatus, TaskKind
from engine.tasks import TaskInfo, insert_task


@dataclass(frozen=True)
class ReportStatus:
    """A declared report of the case's state, as things stand since the case entered it."""

    report: Report
    required: bool
    task_id: int | None = None         # filed: the recipient's task
    filed_at: datetime | None = None
    waived: str | None = None          # not made: the reason
    assignee: str | None = None        # filed: the recipient institution
    task_status: str | None = None     # filed: the recipient's task (engine.tables.TaskStatus)
    answer: Mapping[str, Any] | None = None   # the recipient's answer, once done

    def as_dict(self, groups: Collection[str]) -> dict[str, Any]:
        """For a reader who sees these field groups (the answer's fields in them only)."""
        r = self.report
        answer = {k: v for k, v in (self.answer or {}).items()
                  if k in r.answer and r.answer[k].group in groups}
        return {"code": r.code, "title": {"lv": r.title.lv, "en": r.title.en}, "to": r.to,
                "required": self.required, "task": self.task_id, "filed_at": self.filed_at,
                "waived": self.waived, "assignee": self.assignee,
                "task_status": self.task_status, "answer": answer}


@dataclass(frozen=True)
class FiledReport:
    reference: str
    report: str
    task: TaskInfo
    version: int


_ENTERED = sa.select(TASK.c.opened_by_event).where(
    TASK.c.case_id == sa.bindparam("b_case_id"), TASK.c.closed_at.is_(None),
    TASK.c.kind == TaskKind.STATE.value)
_FILED = sa.select(TASK.c.report, TASK.c.id, TASK.c.opened_at, TASK.c.assignee_institution,
                   TASK.c.status, TASK.c.details).where(
    TASK.c.case_id == sa.bindparam("b_case_id"), TASK.c.kind == TaskKind.REPORT.value,
    TASK.c.opened_by_event >= sa.bindparam("b_entered"))
_WAIVED = sa.select(EVENT.c.payload).where(
    EVENT.c.case_id == sa.bindparam("b_case_id"), EVENT.c.kind == EventKind.REPORT_WAIVED.value,
    EVENT.c.id >= sa.bindparam("b_entered"))


def report_status(conn: sa.Connection, wf: Workflow, case: Mapping[str, Any]
                  ) -> list[ReportStatus]:
    """Each report the case's state declares: required for this case? filed? waived?"""
    state = wf.state(case["state"])
    if not state.reports or case["status"] != CaseStatus.OPEN:
        return []
    entered = conn.execute(_ENTERED, {"b_case_id": case["id"]}).scalar() or 0
    params = {"b_case_id": case["id"], "b_entered": entered}
    filed = {r.report: r for r in conn.execute(_FILED, params)}
    waived = {p["report"]: p["reason"] for p in conn.execute(_WAIVED, params).scalars()}
    out = []
    for r in state.reports:
        row = filed.get(r.code)
        out.append(ReportStatus(r, r.required_for(case["data"]), waived=waived.get(r.code))
                   if row is None else ReportStatus(
                       r, r.required_for(case["data"]), row.id, row.opened_at,
                       waived.get(r.code), row.assignee_institution, row.status,
                       (row.details or {}).get("answer")))
    return out


def require_reports(conn: sa.Connection, wf: Workflow, case: Mapping[str, Any],
                    transition: Transition) -> None:
    """``NotPermitted`` naming the reports still to file (or waive) before
    ``transition`` may fire."""
    rule = transition.requires_reports
    if rule is None:
        return
    status = report_status(conn, wf, case)
    missing = [Named(s.report.code, s.report.title) for s in status
               if s.required and s.task_id is None and s.waived is None]
    step = Named(transition.trigger, transition.title)
    if missing:
        raise NotPermitted("report.required_missing", trigger=step, reports=tuple(missing))
    filed = sum(1 for s in status if s.task_id is not None)
    if filed < rule.at_least:
        raise NotPermitted("report.too_few", trigger=step, filed=filed, needed=rule.at_least,
                           reports=tuple(Named(s.report.code, s.report.title) for s in status))


def file_report(db: sa.Engine, rt: Runtime, reference: str, report: str, actor: Actor,
                fields: Mapping[str, Any] | None = None, *,
                expected_version: int | None = None) -> FiledReport:
    """File the declared ``report`` of the case's state: the recipient gets a task."""
    now = rt.clock.now()
    with db.begin() as conn:
        case, spec, status = _declared(conn, rt, reference, report, actor, expected_version)
        given = coerce_fields(spec.fields, fields or {})
        if status.task_id is not None:
            raise NotPermitted("report.already_filed", report=Named(spec.code, spec.title),
                               at=rt.calendar.format_local(status.filed_at or now))
        event_id = append_event(conn, case, actor, now, kind=EventKind.REPORT_FILED,
                                payload={"report": spec.code, **given})
        due, remind = (due_and_reminder(rt, now, spec.deadline, None) if spec.deadline
                       else (None, None))
        assignee = rt.institution_for(spec.to, case)
        task_id = insert_task(conn, case_id=case["id"], kind=TaskKind.REPORT,
                              state=case["state"], assignee=assignee, now=now, due_at=due,
                              remind_at=remind,
                              ack_due_at=acknowledge_due(rt, now, spec.acknowledge_within),
                              event_id=event_id, report=spec.code, details={"filed": given})
        task = TaskInfo(case["state"], assignee, due, task_id)
        queue_mail(conn, case, event_id, now, [(spec.template, spec.to, assignee)], task)
    return FiledReport(reference, spec.code, task, case["version"] + 1)


def waive_report(db: sa.Engine, rt: Runtime, reference: str, report: str, actor: Actor,
                 reason: str, *, expected_version: int | None = None) -> int:
    """Record that the declared ``report`` is not made, and why; returns the event id."""
    reason = " ".join((reason or "").split())
    now = rt.clock.now()
    with db.begin() as conn:
        case, spec, status = _declared(conn, rt, reference, report, actor, expected_version)
        if not reason:
            raise FieldError("reason", msg("report.waive_reason", report=Named(spec.code,
                                                                               spec.title)))
        if status.task_id is not None:
            raise NotPermitted("report.already_filed", report=Named(spec.code, spec.title),
                               at=rt.calendar.format_local(status.filed_at or now))
        if status.waived is not None:
            raise NotPermitted("report.already_waived", report=Named(spec.code, spec.title))
        return append_event(conn, case, actor, now, kind=EventKind.REPORT_WAIVED,
                            payload={"report": spec.code, "reason": reason})


def _declared(conn: sa.Connection, rt: Runtime, reference: str, report: str, actor: Actor,
              expected_version: int | None) -> tuple[Any, Report, ReportStatus]:
    """The case, the declared report and its status, once the policy and the version
    allow acting on it."""
    case, subject, scope = policy.advanceable(conn, rt, reference, actor, expected_version)
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    state = wf.state(case["state"])
    status = {s.report.code: s for s in report_status(conn, wf, case)}
    if report not in status:
        raise NotFound("report.not_declared", report=report,
                       state=Named(case["state"], state.title),
                       reports=tuple(Named(r.code, r.title) for r in state.reports))
    spec = status[report].report
    policy.may_file(rt.registry, subject, scope, spec).or_raise(reference)
    return case, spec, status[report]


def report_details(wf: Workflow, state: str, task: Mapping[str, Any],
                   case_data: Mapping[str, Any],
                   child: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the recipient of a report task reads: the report's declaration, what was
    filed, the case's fields in the groups the report names, the child's name and
    personal code if it names ``identity`` (``child``: ``report_child``), and the answer
    given."""
    spec = _spec(wf, state, task)
    if spec is None:
        return {"report": None, "filed": {}, "case": {}, "child": None, "answer": {}}
    groups, shown = set(spec.reads), policy.field_groups_of(wf)
    details = task["details"] or {}
    return {"report": spec, "filed": dict(details.get("filed") or {}),
            "case": {k: v for k, v in case_data.items() if shown.get(k) in groups},
            "child": dict(child) if child is not None and policy.IDENTITY in groups else None,
            "answer": dict(details.get("answer") or {})}


def report_child(conn: sa.Connection, wf: Workflow, task: Row,
                 child_id: int) -> dict[str, Any] | None:
    """The child's name and personal code, for a report task whose report lets its
    recipient read ``identity`` (e.g. an MK 871 p. 6 request to VSAA); else None."""
    spec = _spec(wf, task["state"], task)
    if spec is None or policy.IDENTITY not in spec.reads:
        return None
    row = conn.execute(sa.select(CHILD.c.name, CHILD.c.personal_code).where(
        CHILD.c.id == child_id)).mappings().first()
    return dict(row) if row is not None else None


def _spec(wf: Workflow, state: str, task: Row) -> Report | None:
    if task["kind"] != TaskKind.REPORT or state not in wf.states:
        return None
    return wf.state(state).report(task["report"] or "")
