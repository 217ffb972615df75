"""The Child Rights Protection cooperation group: its queue, meetings and decisions
(DOMAIN.md §5, issue #4 §4-5).

The group is an escalation target, not an owner: a queued case keeps its
owning institution.  A case has at most one open escalation (queued or
scheduled for a meeting); a further reason while it is open is added to it.

Why a case comes before the group is configured, not coded
(``cooperation_group.yaml`` ``escalation_reasons``, each with a Latvian and an
English title): the tick gives ``stalled`` when a ladder runs out, a workflow
transition may declare ``escalate: <reason>``, ``open_case`` gives
``repeated_case`` (``repeated_case_windows``), a coordinator may refer a case by
hand for the reasons marked ``manual`` (``escalate``), and a meeting's agenda
brings back, as ``follow_up``, every case whose decision tasks are still open.

The queue is ordered by urgency (``escalation_queue``); a meeting takes its
agenda from it (``plan_meeting``); a decision (``decide``) records the agreed
actions, each a tracked ``decision`` task of an institution that the tick
reminds and escalates like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from engine import policy
from engine.audit import log_access
from engine.cases import (
    CASE, DECISION_TASK, DEFAULT_ACKNOWLEDGE_PARAM, OUTBOX, STATE_TASK, TASK, TaskInfo,
    append_event, load_case_row, outbox_row, queue_mail, resolve_role,
)
from engine.errors import ConfigError, FieldError, NotFound, NotPermitted, PermissionDenied
from engine.municipality import EscalationReason
from engine.runtime import SYSTEM, Actor, Runtime
from engine.tables import Decision, Escalation, Meeting

ESCALATION = Escalation.__table__
MEETING = Meeting.__table__
DECISION = Decision.__table__
OPEN = ("queued", "scheduled")
QUEUED, SCHEDULED, DECIDED = "queued", "scheduled", "decided"
# Events (case_event.kind) on the case.
QUEUED_EVENT = "queued"
SCHEDULED_EVENT = "scheduled"      # put on a meeting's agenda
DECISION_EVENT = "decision"        # the group's decision and its agreed actions
#: The email to the cooperation group's institution when a case joins its queue.
QUEUED_TEMPLATE = "group_queued"
AGENDA_TEMPLATE = "meeting_agenda"
DECISION_TEMPLATE = "decision_task"
# Reasons the engine gives by itself (each must be configured: engine.municipality
# ENGINE_REASONS); the tick's ``stalled`` is engine.escalation.STALLED.
REPEATED_CASE = "repeated_case"
FOLLOW_UP = "follow_up"
ORDINARY, EXTRAORDINARY = "ordinary", "extraordinary"
PLANNED, HELD = "planned", "held"
ORDINARY_WAIT_PARAM = "cooperation_group.ordinary_max_wait_working_days"
EXTRAORDINARY_WAIT_PARAM = "cooperation_group.extraordinary_max_wait_working_days"
DECISION_REMIND_PARAM = "cooperation_group.decision_remind_before_working_days"
#: Risk levels by urgency (the queue's second key); ``critical`` ranks above all.
RISK_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}
#: Risk levels whose cases are queued as urgent (as the tick's, engine.escalation).
URGENT_RISKS = frozenset({"high", "critical"})


class UnknownReason(NotPermitted):
    """An escalation reason that is not configured, or not one a person may give."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


# -- reasons ---------------------------------------------------------------------

def reason_spec(rt: Runtime, code: str) -> EscalationReason:
    spec = rt.municipality.cooperation_group.reason(code)
    if spec is None:
        known = ", ".join(rt.municipality.cooperation_group.escalation_reasons)
        raise UnknownReason(code, f"unknown escalation reason {code!r}; configured in "
                                  f"cooperation_group.yaml: {known}")
    return spec


def reason_title(rt: Runtime, code: str, locale: str) -> str:
    return str(getattr(reason_spec(rt, code).title, locale if locale in ("lv", "en") else "lv"))


def manual_reasons(rt: Runtime) -> list[str]:
    return [code for code, spec in rt.municipality.cooperation_group.escalation_reasons.items()
            if spec.manual]


def _group_locale(rt: Runtime, code: str) -> str:
    inst = rt.municipality.institution(code)
    return inst.locale or rt.municipality.municipality.default_locale


def _require(rt: Runtime, actor: Actor, action: policy.Action, what: str) -> None:
    """The access policy's answer (``engine.policy``), as an error giving its reason."""
    decision = policy.decide(rt.registry, policy.Subject(actor), action)
    if not decision:
        raise PermissionDenied(f"role {actor.role!r} may not {what}: {decision.reason}")


# -- the queue -------------------------------------------------------------------

def queue_for_group(conn: sa.Connection, rt: Runtime, case: Mapping[str, Any], now: datetime, *,
                    reason: str, actor: Actor, urgent: bool = False,
                    detail: Mapping[str, Any] | None = None) -> int:
    """Put the case in the group's queue (or add ``reason`` to its open escalation),
    with an event on the case and an email to the group (the reason's title in the
    group institution's language).  Returns the escalation id.  ``detail`` is added
    to the event's payload (references only)."""
    reason_spec(rt, reason)   # a configured reason, or nothing happens
    case = load_case_row(conn, case["reference"])   # fresh: the caller may have moved it on
    open_row = conn.execute(sa.select(ESCALATION).where(
        ESCALATION.c.case_id == case["id"], ESCALATION.c.status.in_(OPEN))).mappings().first()
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    event_id = append_event(conn, wf, case, actor, now, kind=QUEUED_EVENT,
                            payload={"reason": reason, "urgent": urgent, **(detail or {})})
    if open_row is not None:
        reasons = list(open_row["reasons"])
        if reason not in reasons:
            reasons.append(reason)
        conn.execute(sa.update(ESCALATION).where(ESCALATION.c.id == open_row["id"]).values(
            reasons=reasons, urgent=open_row["urgent"] or urgent))
        return int(open_row["id"])
    escalation_id = conn.execute(sa.insert(ESCALATION).values(
        case_id=case["id"], reasons=[reason], urgent=urgent, status=QUEUED, queued_at=now,
        queued_by=actor.username, meeting_id=None, event_id=event_id,
    ).returning(ESCALATION.c.id)).scalar_one()
    group = rt.registry.roles.group
    institution = resolve_role(rt, group, case)
    locale = _group_locale(rt, institution) if institution else "lv"
    queue_mail(conn, case, event_id, now, [(QUEUED_TEMPLATE, group, institution)], None,
               extra={"reason": reason_title(rt, reason, locale), "reason_code": reason,
                      "risk": case["risk_level"]})
    return int(escalation_id)


def escalate(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, reason: str,
             urgent: bool = False) -> int:
    """A coordinator refers a case to the group by hand, for a reason configured as
    ``manual``.  Returns the escalation id."""
    _require(rt, actor, policy.Action.ESCALATE, "refer cases to the cooperation group")
    manual = manual_reasons(rt)
    spec = rt.municipality.cooperation_group.reason(reason)
    if spec is None or not spec.manual:
        what = (f"unknown escalation reason {reason!r}" if spec is None
                else f"the reason {reason!r} is given by Gaita itself")
        raise UnknownReason(reason, f"{what}; a case is referred by hand for: "
                                    f"{', '.join(manual) or '(none configured)'}")
    now = rt.clock.now()
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        if case["status"] != "open":
            raise NotPermitted(f"{reference} is closed ({case['outcome']}); only open cases "
                               "are referred to the cooperation group")
        return queue_for_group(conn, rt, case, now, reason=reason, actor=actor, urgent=urgent)


def queue_declared(conn: sa.Connection, rt: Runtime, reference: str, reason: str, actor: Actor,
                   now: datetime) -> int:
    """A transition's ``escalate: <reason>`` (engine.cases.fire_in)."""
    case = load_case_row(conn, reference)
    return queue_for_group(conn, rt, case, now, reason=reason, actor=actor,
                           urgent=case["risk_level"] in URGENT_RISKS)


def queue_if_repeated(conn: sa.Connection, rt: Runtime, case: Mapping[str, Any],
                      now: datetime) -> int | None:
    """``open_case``: queue the new case (reason ``repeated_case``) if the same child had
    a case of the same type opened within the type's configured window.  ``case``: the
    new case's ``id``, ``reference``, ``case_type``, ``child_id`` and ``risk_level``."""
    param = rt.municipality.cooperation_group.repeated_case_windows.get(case["case_type"])
    if param is None:
        return None
    months = int(rt.param(param))  # type: ignore[call-overload]
    since = _months_before(rt, now, months)
    earlier = conn.execute(sa.select(CASE.c.reference).where(
        CASE.c.child_id == case["child_id"], CASE.c.case_type == case["case_type"],
        CASE.c.id != case["id"], CASE.c.opened_at >= since,
    ).order_by(CASE.c.opened_at.desc(), CASE.c.id.desc())).scalars().first()
    if earlier is None:
        return None
    return queue_for_group(conn, rt, case, now, reason=REPEATED_CASE, actor=SYSTEM,
                           urgent=case["risk_level"] in URGENT_RISKS,
                           detail={"previous": earlier, "window_months": months})


def _months_before(rt: Runtime, now: datetime, months: int) -> datetime:
    """The start of the local day ``months`` calendar months before ``now``'s."""
    day = rt.calendar.local_date(now)
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    start = date(year, month, min(day.day, last))
    return datetime.combine(start, time(0), tzinfo=rt.calendar.timezone)


@dataclass(frozen=True)
class QueueItem:
    """An open escalation, with what orders it in the queue."""

    escalation_id: int
    case_id: int
    reference: str
    case_type: str
    risk_level: str
    urgent: bool
    reasons: tuple[str, ...]
    status: str
    meeting_id: int | None
    queued_at: datetime
    days_overdue: int         # working days past the due date of the case's open state task
    institutions: int         # distinct institutions that held a task of the case

    def as_dict(self) -> dict[str, Any]:
        return {"escalation": self.escalation_id, "reference": self.reference,
                "case_type": self.case_type, "risk_level": self.risk_level, "urgent": self.urgent,
                "reasons": list(self.reasons), "status": self.status, "meeting": self.meeting_id,
                "queued_at": self.queued_at, "days_overdue": self.days_overdue,
                "institutions": self.institutions}


def queue_order(item: QueueItem) -> tuple[Any, ...]:
    """Urgent first, then by risk, days overdue, institutions involved, time queued."""
    return (not item.urgent, -RISK_RANK.get(item.risk_level, 0), -item.days_overdue,
            -item.institutions, item.queued_at, item.escalation_id)


def escalation_queue(db: sa.Engine | sa.Connection, rt: Runtime, *,
                     statuses: Sequence[str] = OPEN) -> list[QueueItem]:
    """The open escalations (by default queued and scheduled), most urgent first."""
    if isinstance(db, sa.Engine):
        with db.connect() as conn:
            return _queue_items(conn, rt, ESCALATION.c.status.in_(statuses))
    return _queue_items(db, rt, ESCALATION.c.status.in_(statuses))


def _queue_items(conn: sa.Connection, rt: Runtime, where: Any) -> list[QueueItem]:
    now = rt.clock.now()
    rows = conn.execute(sa.select(
        ESCALATION, CASE.c.reference, CASE.c.case_type, CASE.c.risk_level,
    ).join(CASE, CASE.c.id == ESCALATION.c.case_id).where(where)).mappings().all()
    if not rows:
        return []
    case_ids = [r["case_id"] for r in rows]
    institutions = dict(conn.execute(sa.select(
        TASK.c.case_id, sa.func.count(sa.distinct(TASK.c.assignee_institution)),
    ).where(TASK.c.case_id.in_(case_ids)).group_by(TASK.c.case_id)).all())
    dues = dict(conn.execute(sa.select(TASK.c.case_id, TASK.c.due_at).where(
        TASK.c.case_id.in_(case_ids), TASK.c.closed_at.is_(None), TASK.c.kind == STATE_TASK,
        TASK.c.due_at.is_not(None))).all())
    items = []
    for r in rows:
        due = dues.get(r["case_id"])
        overdue = (max(0, -rt.calendar.working_days_left(now, due))
                   if due is not None and now > due else 0)
        items.append(QueueItem(
            escalation_id=r["id"], case_id=r["case_id"], reference=r["reference"],
            case_type=r["case_type"], risk_level=r["risk_level"], urgent=bool(r["urgent"]),
            reasons=tuple(r["reasons"]), status=r["status"], meeting_id=r["meeting_id"],
            queued_at=r["queued_at"], days_overdue=overdue,
            institutions=int(institutions.get(r["case_id"], 0))))
    return sorted(items, key=queue_order)


# -- meetings --------------------------------------------------------------------

@dataclass(frozen=True)
class MeetingPlan:
    meeting_id: int
    day: date
    kind: str
    place: str
    items: list[QueueItem]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"meeting": self.meeting_id, "day": self.day.isoformat(), "kind": self.kind,
                "place": self.place, "items": [i.as_dict() for i in self.items],
                "warnings": list(self.warnings)}


def _dmy(day: date) -> str:
    return day.strftime("%d.%m.%Y")


#: How far ahead a meeting may be planned (calendar days).
MAX_DAYS_AHEAD = 366


def plan_meeting(db: sa.Engine, rt: Runtime, actor: Actor, day: date, *,
                 extraordinary: bool = False, place: str = "",
                 case_url: Callable[[str], str] = lambda reference: reference) -> MeetingPlan:
    """Plan a meeting on ``day`` and take its agenda from the queue.

    Ordinary: every queued case, and (as ``follow_up``) every case whose decision
    tasks from earlier meetings are still open; a case that will have waited longer
    than ``cooperation_group.ordinary_max_wait_working_days`` is warned about.
    Extraordinary: the urgent queued cases only, on a day no later than
    ``cooperation_group.extraordinary_max_wait_working_days`` from today.
    A case scheduled for a meeting whose day has passed without a decision comes
    back too.  The agenda is emailed to the group's institution (``case_url``
    makes each case's link)."""
    _require(rt, actor, policy.Action.PLAN_MEETING, "plan the cooperation group's meetings")
    cal, now = rt.calendar, rt.clock.now()
    today = cal.local_date(now)
    place = " ".join(place.split())
    if day < today:
        raise NotPermitted(f"the meeting day {_dmy(day)} is in the past (today is {_dmy(today)})")
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise NotPermitted(f"a meeting is planned at most {MAX_DAYS_AHEAD} days ahead; "
                           f"{_dmy(day)} is later")
    if not cal.is_working_day(day):
        raise NotPermitted(f"{_dmy(day)} is not a working day; the next one is "
                           f"{_dmy(cal.next_working_day(day))}")
    if extraordinary:
        wait = int(rt.param(EXTRAORDINARY_WAIT_PARAM))  # type: ignore[call-overload]
        latest = cal.add_working_days(today, wait)
        if day > latest:
            raise NotPermitted(
                f"an extraordinary meeting is held by {_dmy(latest)} ({wait} working day(s) from "
                f"today, {EXTRAORDINARY_WAIT_PARAM}); {_dmy(day)} is later: plan an ordinary one")
    kind = EXTRAORDINARY if extraordinary else ORDINARY
    with db.begin() as conn:
        past = sa.select(MEETING.c.id).where(MEETING.c.day < today).scalar_subquery()
        waiting = sa.or_(ESCALATION.c.status == QUEUED, sa.and_(
            ESCALATION.c.status == SCHEDULED, ESCALATION.c.meeting_id.in_(past)))
        items = [i for i in _queue_items(conn, rt, waiting) if i.urgent or not extraordinary]
        if extraordinary and not items:
            raise NotPermitted("no urgent case is waiting for the cooperation group; "
                               "an extraordinary meeting needs one (plan an ordinary meeting)")
        meeting_id = int(conn.execute(sa.insert(MEETING).values(
            day=day, kind=kind, place=place, status=PLANNED, created_at=now,
        ).returning(MEETING.c.id)).scalar_one())
        # an ordinary meeting reviews every case whose decision tasks are still open
        review = set() if extraordinary else set(conn.execute(sa.select(TASK.c.case_id).where(
            TASK.c.kind == DECISION_TASK, TASK.c.closed_at.is_(None))).scalars())
        agenda = [_schedule(conn, rt, replace(item, reasons=(*item.reasons, FOLLOW_UP))
                            if item.case_id in review and FOLLOW_UP not in item.reasons else item,
                            meeting_id, day, kind, actor, now) for item in items]
        review -= {item.case_id for item in agenda}
        if review:
            agenda += _follow_ups(conn, rt, review, meeting_id, day, kind, actor, now)
        agenda = sorted(agenda, key=queue_order)
        warnings = _wait_warnings(rt, agenda, day)
        _queue_agenda(conn, rt, meeting_id, day, place, agenda, now, case_url)
    return MeetingPlan(meeting_id, day, kind, place, agenda, tuple(warnings))


def _schedule(conn: sa.Connection, rt: Runtime, item: QueueItem, meeting_id: int, day: date,
              kind: str, actor: Actor, now: datetime) -> QueueItem:
    case = load_case_row(conn, item.reference)
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    append_event(conn, wf, case, actor, now, kind=SCHEDULED_EVENT, payload={
        "meeting": meeting_id, "day": day.isoformat(), "meeting_kind": kind,
        "reasons": list(item.reasons)})
    conn.execute(sa.update(ESCALATION).where(ESCALATION.c.id == item.escalation_id).values(
        status=SCHEDULED, meeting_id=meeting_id, reasons=list(item.reasons)))
    return replace(item, status=SCHEDULED, meeting_id=meeting_id)


def _follow_ups(conn: sa.Connection, rt: Runtime, review: set[int], meeting_id: int,
                day: date, kind: str, actor: Actor, now: datetime) -> list[QueueItem]:
    """Cases not otherwise on this agenda whose decision tasks are still open come back
    for review, as a new escalation with reason ``follow_up`` (unless the case is
    already on another planned meeting's agenda)."""
    reason_spec(rt, FOLLOW_UP)
    elsewhere = set(conn.execute(sa.select(ESCALATION.c.case_id).where(
        ESCALATION.c.case_id.in_(review), ESCALATION.c.status.in_(OPEN))).scalars())
    added: list[QueueItem] = []
    for case_id in sorted(review - elsewhere):
        reference = conn.execute(sa.select(CASE.c.reference).where(
            CASE.c.id == case_id)).scalar_one()
        case = load_case_row(conn, reference)
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        event_id = append_event(conn, wf, case, actor, now, kind=SCHEDULED_EVENT, payload={
            "meeting": meeting_id, "day": day.isoformat(), "meeting_kind": kind,
            "reasons": [FOLLOW_UP]})
        escalation_id = conn.execute(sa.insert(ESCALATION).values(
            case_id=case_id, reasons=[FOLLOW_UP], urgent=False, status=SCHEDULED, queued_at=now,
            queued_by=actor.username, meeting_id=meeting_id, event_id=event_id,
        ).returning(ESCALATION.c.id)).scalar_one()
        added.extend(_queue_items(conn, rt, ESCALATION.c.id == escalation_id))
    return added


def _wait_warnings(rt: Runtime, agenda: Sequence[QueueItem], day: date) -> list[str]:
    limit = int(rt.param(ORDINARY_WAIT_PARAM))  # type: ignore[call-overload]
    cal, warnings = rt.calendar, []
    for item in agenda:
        if item.reasons == (FOLLOW_UP,):
            continue   # a review, not a case waiting for the group
        queued = cal.local_date(item.queued_at)
        if day > cal.add_working_days(queued, limit):
            waited = cal.working_days_between(queued, day)
            warnings.append(f"{item.reference} was queued on {_dmy(queued)}: by {_dmy(day)} it "
                            f"will have waited {waited} working days, more than {limit} "
                            f"({ORDINARY_WAIT_PARAM})")
    return warnings


def _queue_agenda(conn: sa.Connection, rt: Runtime, meeting_id: int, day: date, place: str,
                  agenda: Sequence[QueueItem], now: datetime,
                  case_url: Callable[[str], str]) -> None:
    """The agenda email to the group's institution, in its language."""
    role = rt.registry.roles.group
    institution = rt.municipality.institution_for_role(role).code
    loc = _group_locale(rt, institution)
    items = []
    for item in agenda:
        wf = rt.registry.latest(item.case_type)
        items.append({"reference": item.reference, "type_title": wf.title.get(loc),
                      "reason": "; ".join(reason_title(rt, r, loc) for r in item.reasons),
                      "url": case_url(item.reference)})
    conn.execute(sa.insert(OUTBOX), outbox_row(
        now, AGENDA_TEMPLATE, role=role, institution=institution,
        extra={"meeting": {"id": meeting_id, "when": _dmy(day), "place": place or "—"},
               "items": items}))


# -- decisions -------------------------------------------------------------------

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
            raise FieldError("action", f"expected INSTITUTION:WORKING_DAYS:TEXT, got {spec!r}")
        try:
            n = int(days.strip())
        except ValueError:
            raise FieldError("action", f"working days must be a whole number, got {days!r} "
                                       f"in {spec!r}") from None
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
    checked = []
    for a in actions:
        text = " ".join(a.text.split())
        if a.institution not in codes:
            raise FieldError("action", f"unknown institution {a.institution!r} (codes are in "
                                       "institutions.yaml)")
        if a.institution == group:
            raise FieldError("action", f"{group!r} is the cooperation group, which owns no task: "
                                       "give each action to a member institution")
        if a.working_days < 1:
            raise FieldError("action", f"{a.institution}: at least 1 working day, "
                                       f"got {a.working_days}")
        if not text:
            raise FieldError("action", f"{a.institution}: the action needs a text")
        checked.append(AgreedAction(a.institution, a.working_days, text))
    return checked


def decide(db: sa.Engine, rt: Runtime, meeting_id: int, reference: str, actor: Actor, *,
           summary: str, actions: Sequence[AgreedAction] = ()) -> DecisionResult:
    """Record the group's decision on a case of the meeting's agenda: an event, a
    ``decision`` row and, per agreed action, a ``decision`` task of that institution
    (due in its working days, reminded, escalated by the tick) with a
    ``decision_task`` email carrying the task's links.  The case keeps its owner."""
    _require(rt, actor, policy.Action.DECIDE, "record the cooperation group's decisions")
    summary = summary.strip()
    if not summary:
        raise FieldError("summary", "required: what the group decided")
    actions = _check_actions(rt, actions)
    cal, now = rt.calendar, rt.clock.now()
    with db.begin() as conn:
        meeting = conn.execute(sa.select(MEETING).where(MEETING.c.id == meeting_id)).mappings().first()
        if meeting is None:
            raise NotFound(f"no meeting {meeting_id}")
        case = load_case_row(conn, reference)
        esc = conn.execute(sa.select(ESCALATION).where(
            ESCALATION.c.meeting_id == meeting_id, ESCALATION.c.case_id == case["id"],
        ).order_by(ESCALATION.c.id.desc())).mappings().first()
        if esc is None:
            raise NotPermitted(f"{reference} is not on the agenda of meeting {meeting_id} "
                               f"({_dmy(meeting['day'])})")
        if esc["status"] == DECIDED:
            raise NotPermitted(f"the decision on {reference} at meeting {meeting_id} is already "
                               "recorded")
        if esc["status"] != SCHEDULED:
            raise NotPermitted(f"{reference}'s referral is {esc['status']}, not on the agenda")
        if meeting["day"] > cal.local_date(now):
            raise NotPermitted(f"meeting {meeting_id} is on {_dmy(meeting['day'])}; its decisions "
                               "are recorded on or after that day")
        if actions and case["status"] != "open":
            raise NotPermitted(f"{reference} is closed ({case['outcome']}); record the decision "
                               "without actions")
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        remind_before = int(rt.param(DECISION_REMIND_PARAM))  # type: ignore[call-overload]
        ack_days = int(rt.param(DEFAULT_ACKNOWLEDGE_PARAM))  # type: ignore[call-overload]
        planned = [(a, cal.due_at(now, a.working_days),
                    cal.due_at(now, a.working_days - remind_before)
                    if a.working_days > remind_before else None) for a in actions]
        event_id = append_event(conn, wf, case, actor, now, kind=DECISION_EVENT, payload={
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
            raise NotPermitted(f"the decision on {reference} at meeting {meeting_id} is already "
                               "recorded") from None
        ack_due = cal.due_at(now, ack_days)
        tasks = []
        for a, due, remind in planned:
            task_id = int(conn.execute(sa.insert(TASK).values(
                case_id=case["id"], kind=DECISION_TASK, state=case["state"], title=a.text,
                decision_id=decision_id, assignee_institution=a.institution, opened_at=now,
                due_at=due, remind_at=remind, status="open", ack_due_at=ack_due,
                next_check_at=min(t for t in (remind, due, ack_due) if t is not None),
                opened_by_event=event_id, closed_at=None, closed_by_event=None,
            ).returning(TASK.c.id)).scalar_one())
            role = next(iter(rt.municipality.institution(a.institution).roles), None)
            queue_mail(conn, case, event_id, now, [(DECISION_TEMPLATE, role, a.institution)],
                       TaskInfo(case["state"], a.institution, due, task_id),
                       extra={"decision": summary})
            tasks.append(DecisionTask(task_id, a.institution, a.text, due))
        conn.execute(sa.update(ESCALATION).where(ESCALATION.c.id == esc["id"]).values(
            status=DECIDED))
        conn.execute(sa.update(MEETING).where(MEETING.c.id == meeting_id).values(status=HELD))
    return DecisionResult(decision_id, meeting_id, reference, tuple(tasks))


# -- reading ---------------------------------------------------------------------

def meeting_view(db: sa.Engine, rt: Runtime, meeting_id: int, *, locale: str = "lv",
                 reader: Actor | None = None, action: str = "read",
                 channel: str = "cli") -> dict[str, Any]:
    """A meeting, its agenda and its decisions: references, titles, institutions and
    dates, never anything about the child.  ``reader``: each case's access is logged
    (``action`` ``read``, or ``export`` for the minutes)."""
    loc = locale if locale in ("lv", "en") else "lv"
    now = rt.clock.now()
    with db.begin() as conn:
        meeting = conn.execute(sa.select(MEETING).where(MEETING.c.id == meeting_id)).mappings().first()
        if meeting is None:
            raise NotFound(f"no meeting {meeting_id}")
        rows = conn.execute(sa.select(
            ESCALATION, CASE.c.reference, CASE.c.case_type, CASE.c.definition_version,
            CASE.c.risk_level, CASE.c.owner_institution,
        ).join(CASE, CASE.c.id == ESCALATION.c.case_id).where(
            ESCALATION.c.meeting_id == meeting_id)).mappings().all()
        decisions = {d["case_id"]: d for d in conn.execute(sa.select(DECISION).where(
            DECISION.c.meeting_id == meeting_id)).mappings()}
        tasks: dict[int, list[Any]] = {}
        if decisions:
            for t in conn.execute(sa.select(TASK).where(TASK.c.decision_id.in_(
                    [d["id"] for d in decisions.values()])).order_by(TASK.c.id)).mappings():
                tasks.setdefault(t["decision_id"], []).append(t)
        if reader is not None:
            for r in rows:
                log_access(conn, r["case_id"], reader.username, action, channel, now)
    items = []
    order = {i.escalation_id: n for n, i in enumerate(sorted(
        (_item_of(rt, r) for r in rows), key=queue_order))}
    for r in sorted(rows, key=lambda r: order[r["id"]]):
        wf = rt.registry.get(r["case_type"], r["definition_version"])
        d = decisions.get(r["case_id"])
        items.append({
            "reference": r["reference"], "case_type": r["case_type"],
            "type_title": wf.title.get(loc), "risk_level": r["risk_level"],
            "urgent": bool(r["urgent"]), "reasons": list(r["reasons"]),
            "reason_titles": [_title_or_code(rt, c, loc) for c in r["reasons"]],
            "status": r["status"], "owner": r["owner_institution"],
            "decision": None if d is None else {
                "summary": d["summary"], "decided_at": d["decided_at"],
                "decided_by": d["decided_by"],
                "actions": [{"task": t["id"], "institution": t["assignee_institution"],
                             "institution_name": _institution_name(rt, t["assignee_institution"], loc),
                             "title": t["title"], "due_at": t["due_at"],
                             "done": t["closed_at"] is not None}
                            for t in tasks.get(d["id"], [])]},
        })
    return {"id": meeting["id"], "day": meeting["day"], "kind": meeting["kind"],
            "place": meeting["place"], "status": meeting["status"], "items": items}


def _item_of(rt: Runtime, r: Mapping[str, Any]) -> QueueItem:
    return QueueItem(r["id"], r["case_id"], r["reference"], r["case_type"], r["risk_level"],
                     bool(r["urgent"]), tuple(r["reasons"]), r["status"], r["meeting_id"],
                     r["queued_at"], 0, 0)


def _title_or_code(rt: Runtime, code: str, loc: str) -> str:
    spec = rt.municipality.cooperation_group.reason(code)
    return code if spec is None else str(getattr(spec.title, loc))   # a reason since removed


def _institution_name(rt: Runtime, code: str | None, loc: str) -> str:
    if code is None:
        return ""
    try:
        return str(getattr(rt.municipality.institution(code).name, loc))
    except ConfigError:   # no longer configured
        return code


def list_meetings(db: sa.Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        counts = dict(conn.execute(sa.select(
            ESCALATION.c.meeting_id, sa.func.count()).where(ESCALATION.c.meeting_id.is_not(None))
            .group_by(ESCALATION.c.meeting_id)).all())
        return [{**dict(m), "items": int(counts.get(m["id"], 0))} for m in conn.execute(
            sa.select(MEETING).order_by(MEETING.c.day, MEETING.c.id)).mappings()]
