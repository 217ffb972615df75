"""The cooperation group's decisions: each agreed action becomes a tracked task.

A decision on a case of a meeting's agenda is an event, a ``decision`` row
and, per agreed action, a ``decision`` task of that institution (due in its
working days, reminded and escalated by the tick like any other task) with a
``decision_task`` email carrying the task's links.  The case keeps its owner.
Only the group's chair records decisions (``engine.policy``: ``chairs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine import policy
from engine.deadlines import acknowledge_due, due_and_reminder
from engine.errors import FieldError, NotFound, NotPermitted, msg
from engine.events import EventKind, append_event
from engine.group.meetings import dmy
from engine.outbox import Template, queue_mail
from engine.periods import Period
from engine.runtime import Actor, Runtime
from engine.store import DECISION, ESCALATION, MEETING, load_case_row
from engine.tables import CaseStatus, EscalationStatus, MeetingStatus, TaskKind
from engine.tasks import TaskInfo, insert_task

DECISION_REMIND_PARAM = "cooperation_group.decision_remind_before_working_days"
#: The most working days an agreed action may be given.
MAX_ACTION_PARAM = "cooperation_group.max_action_working_days"


@dataclass(frozen=True)
class AgreedAction:
    """One institution's agreed action: ``INSTITUTION:WORKING_DAYS:TEXT``."""

    institution: str
    working_days: int
    text: str

    @classmethod
    def parse(cls, spec: str) -> AgreedAction:
        code, sep1, rest = spec.partition(":")
        days, sep2, text = rest.partition(":")
        if not (sep1 and sep2):
            raise FieldError("action", msg("action.format", spec=repr(spec)))
        try:
            n = int(days.strip())
        except ValueError:
            raise FieldError("action", msg("action.days_not_number", days=repr(days),
                                           spec=repr(spec))) from None
        return cls(code.strip(), n, text)


@dataclass(frozen=True)
class DecisionTask:
    task_id: int
    institution: str
    title: str
    due_at: datetime


@dataclass(frozen=True)
class DecisionResult:
    decision_id: int
    meeting_id: int
    reference: str
    tasks: tuple[DecisionTask, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision_id, "meeting": self.meeting_id,
                "reference": self.reference,
                "tasks": [{"task": t.task_id, "institution": t.institution, "title": t.title,
                           "due_at": t.due_at} for t in self.tasks]}


def _check_actions(rt: Runtime, actions: Sequence[AgreedAction]) -> list[AgreedAction]:
    codes = {i.code for i in rt.municipality.institutions}
    group = rt.municipality.institution_for_role(rt.registry.roles.group).code
    checked, most = [], max_action_days(rt)
    for a in actions:
        text = " ".join(a.text.split())
        if a.institution not in codes:
            raise FieldError("action", msg("action.unknown_institution", code=a.institution))
        if a.institution == group:
            raise FieldError("action", msg("action.to_group", code=group))
        if a.working_days < 1:
            raise FieldError("action", msg("action.days_min", code=a.institution,
                                           days=a.working_days))
        if a.working_days > most:
            raise FieldError("action", msg("action.days_max", code=a.institution,
                                           days=a.working_days, max=most, param=MAX_ACTION_PARAM))
        if not text:
            raise FieldError("action", msg("action.text_required", code=a.institution))
        checked.append(AgreedAction(a.institution, a.working_days, text))
    return checked


def max_action_days(rt: Runtime) -> int:
    """The most working days an agreed action may be given (a parameter)."""
    return rt.days(MAX_ACTION_PARAM)


def decide(db: sa.Engine, rt: Runtime, meeting_id: int, reference: str, actor: Actor, *,
           summary: str, actions: Sequence[AgreedAction] = ()) -> DecisionResult:
    """Record the group's decision on a case of the meeting's agenda."""
    policy.require(rt, actor, policy.Action.DECIDE)
    summary = summary.strip()
    if not summary:
        raise FieldError("summary", msg("decision.summary_required"))
    actions = _check_actions(rt, actions)
    cal, now = rt.calendar, rt.clock.now()
    with db.begin() as conn:
        meeting = conn.execute(sa.select(MEETING).where(
            MEETING.c.id == meeting_id)).mappings().first()
        if meeting is None:
            raise NotFound("meeting.not_found", meeting=meeting_id)
        case = load_case_row(conn, reference)
        esc = conn.execute(sa.select(ESCALATION).where(
            ESCALATION.c.meeting_id == meeting_id, ESCALATION.c.case_id == case["id"],
        ).order_by(ESCALATION.c.id.desc())).mappings().first()
        if esc is None:
            raise NotPermitted("decision.not_on_agenda", reference=reference, meeting=meeting_id,
                               day=dmy(meeting["day"]))
        if esc["status"] == EscalationStatus.DECIDED:
            raise NotPermitted("decision.recorded", reference=reference, meeting=meeting_id)
        if esc["status"] != EscalationStatus.SCHEDULED:
            raise NotPermitted("decision.referral_not_scheduled", reference=reference,
                               status=esc["status"])
        if meeting["day"] > cal.local_date(now):
            raise NotPermitted("decision.before_meeting", meeting=meeting_id,
                               day=dmy(meeting["day"]))
        if actions and case["status"] != CaseStatus.OPEN:
            raise NotPermitted("decision.case_closed", reference=reference,
                               outcome=case["outcome"])
        remind_before = rt.days(DECISION_REMIND_PARAM)
        planned = [(a, *due_and_reminder(rt, now, Period(a.working_days), remind_before))
                   for a in actions]
        event_id = append_event(conn, case, actor, now, kind=EventKind.DECISION, payload={
            "meeting": meeting_id, "summary": summary,
            "actions": [{"institution": a.institution, "working_days": a.working_days,
                         "title": a.text, "due_at": due.isoformat()} for a, due, _ in planned]})
        try:
            with conn.begin_nested():
                decision_id = int(conn.execute(sa.insert(DECISION).values(
                    meeting_id=meeting_id, case_id=case["id"], escalation_id=esc["id"],
                    summary=summary, decided_at=now, decided_by=actor.username, event_id=event_id,
                ).returning(DECISION.c.id)).scalar_one())
        except IntegrityError:
            raise NotPermitted("decision.recorded", reference=reference,
                               meeting=meeting_id) from None
        ack_due = acknowledge_due(rt, now)
        tasks = []
        for a, due, remind in planned:
            task_id = insert_task(conn, case_id=case["id"], kind=TaskKind.DECISION,
                                  state=case["state"], assignee=a.institution, now=now,
                                  due_at=due, remind_at=remind, ack_due_at=ack_due,
                                  event_id=event_id, title=a.text, decision_id=decision_id)
            role = next(iter(rt.municipality.institution(a.institution).roles), None)
            queue_mail(conn, case, event_id, now, [(Template.DECISION_TASK, role, a.institution)],
                       TaskInfo(case["state"], a.institution, due, task_id),
                       extra={"decision": summary})
            tasks.append(DecisionTask(task_id, a.institution, a.text, due))
        conn.execute(sa.update(ESCALATION).where(ESCALATION.c.id == esc["id"]).values(
            status=EscalationStatus.DECIDED))
        conn.execute(sa.update(MEETING).where(MEETING.c.id == meeting_id).values(
            status=MeetingStatus.HELD))
    return DecisionResult(decision_id, meeting_id, reference, tasks=tuple(tasks))
