"""The cooperation group's queue: putting a case in it, and reading it by urgency.

``queue_for_group`` is the one way in, inside the caller's transaction: the
scheduler's ``stalled`` (``engine.escalation``), a transition's declared
``escalate:`` (``engine.cases``), a repeated case (``open_case``), a person's
referral (``escalate``, the only one that is a user's own operation and so
asks the access policy).  Each writes a ``queued`` event on the case and
emails the group's institution (the reason's title in its language).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.definitions import RISK_LEVELS
from engine.errors import NotPermitted
from engine.events import EventKind, append_event
from engine.group.reasons import check_manual, reason_spec, reason_title
from engine.municipality import EngineReason
from engine.outbox import Template, queue_mail
from engine.runtime import SYSTEM, Actor, Runtime
from engine.store import CASE, ESCALATION, TASK, Row, load_case_row
from engine.tables import OPEN_ESCALATIONS, CaseStatus, EscalationStatus, TaskKind

#: Risk levels by urgency (the queue's second key): the engine's levels, low to high.
RISK_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS, start=1)}
#: Risk levels whose cases are queued as urgent.
URGENT_RISKS = frozenset({"high"})


def group_locale(rt: Runtime, code: str) -> str:
    inst = rt.municipality.institution(code)
    return inst.locale or rt.municipality.municipality.default_locale


def queue_for_group(conn: sa.Connection, rt: Runtime, case: Mapping[str, Any], now: datetime, *,
                    reason: str, actor: Actor, urgent: bool = False,
                    detail: Mapping[str, Any] | None = None) -> int:
    """Put the case in the group's queue (or add ``reason`` to its open escalation),
    with an event on the case and an email to the group.  Returns the escalation id.
    ``detail`` is added to the event's payload (references only)."""
    reason_spec(rt, reason)   # a configured reason, or nothing happens
    case = load_case_row(conn, case["reference"])   # fresh: the caller may have moved it on
    open_row = conn.execute(sa.select(ESCALATION).where(
        ESCALATION.c.case_id == case["id"], ESCALATION.c.status.in_(OPEN_ESCALATIONS))
    ).mappings().first()
    event_id = append_event(conn, case, actor, now, kind=EventKind.QUEUED,
                            payload={"reason": reason, "urgent": urgent, **(detail or {})})
    if open_row is not None:
        reasons = list(open_row["reasons"])
        if reason not in reasons:
            reasons.append(reason)
        conn.execute(sa.update(ESCALATION).where(ESCALATION.c.id == open_row["id"]).values(
            reasons=reasons, urgent=open_row["urgent"] or urgent))
        return int(open_row["id"])
    escalation_id = conn.execute(sa.insert(ESCALATION).values(
        case_id=case["id"], reasons=[reason], urgent=urgent, status=EscalationStatus.QUEUED,
        queued_at=now, queued_by=actor.username, meeting_id=None, event_id=event_id,
    ).returning(ESCALATION.c.id)).scalar_one()
    group = rt.registry.roles.group
    institution = rt.institution_for(group, case)
    locale = group_locale(rt, institution) if institution else "lv"
    queue_mail(conn, case, event_id, now, [(Template.GROUP_QUEUED, group, institution)], None,
               extra={"reason": reason_title(rt, reason, locale), "reason_code": reason,
                      "risk": case["risk_level"]})
    return int(escalation_id)


def escalate(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, reason: str,
             urgent: bool = False) -> int:
    """A person refers a case to the group by hand, for a reason configured as
    ``manual``.  Returns the escalation id."""
    now = rt.clock.now()
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        policy.require_on_case(conn, rt, actor, policy.Action.ESCALATE, case)
        check_manual(rt, reason)
        if case["status"] != CaseStatus.OPEN:
            raise NotPermitted("escalate.case_closed", reference=reference,
                               outcome=case["outcome"])
        return queue_for_group(conn, rt, case, now, reason=reason, actor=actor, urgent=urgent)


def queue_stalled(conn: sa.Connection, rt: Runtime, case: Mapping[str, Any], now: datetime) -> int:
    """The scheduler's referral of a case whose task climbed its whole ladder."""
    policy.require(rt, SYSTEM, policy.Action.ESCALATE)
    return queue_for_group(conn, rt, case, now, reason=EngineReason.STALLED, actor=SYSTEM,
                           urgent=case["risk_level"] in URGENT_RISKS)


def queue_declared(conn: sa.Connection, rt: Runtime, reference: str, reason: str, actor: Actor,
                   now: datetime) -> int:
    """A transition's ``escalate: <reason>`` (``engine.cases.fire_in``): part of the
    declared step the actor was allowed to take."""
    case = load_case_row(conn, reference)
    return queue_for_group(conn, rt, case, now, reason=reason, actor=actor,
                           urgent=case["risk_level"] in URGENT_RISKS)


def queue_if_repeated(conn: sa.Connection, rt: Runtime, case: Mapping[str, Any],
                      now: datetime) -> int | None:
    """``open_case``: queue the new case (reason ``repeated_case``) if the same child had
    a case of the same type opened within the type's configured window.  ``case``: the
    new case's ``id``, ``reference``, ``case_type``, ``child_id`` and ``risk_level``."""
    found = repeated_earlier(conn, rt, case["case_type"], case["child_id"], now,
                             exclude=case["id"])
    if found is None:
        return None
    earlier, months = found
    policy.require(rt, SYSTEM, policy.Action.ESCALATE)
    return queue_for_group(conn, rt, case, now, reason=EngineReason.REPEATED_CASE, actor=SYSTEM,
                           urgent=case["risk_level"] in URGENT_RISKS,
                           detail={"previous": earlier, "window_months": months})


def repeated_earlier(conn: sa.Connection, rt: Runtime, case_type: str, child_id: int,
                     now: datetime, *, exclude: int | None = None) -> tuple[str, int] | None:
    """The child's latest case of the type opened within the type's configured window
    (``repeated_case_windows``), and the window in months: a new case would be queued
    as repeated (``queue_if_repeated``).  None: no window, or no such case."""
    param = rt.municipality.cooperation_group.repeated_case_windows.get(case_type)
    if param is None:
        return None
    months = rt.days(param)
    since = _months_before(rt, now, months)
    earlier = conn.execute(sa.select(CASE.c.reference).where(
        CASE.c.child_id == child_id, CASE.c.case_type == case_type,
        CASE.c.id != (exclude if exclude is not None else -1), CASE.c.opened_at >= since,
    ).order_by(CASE.c.opened_at.desc(), CASE.c.id.desc())).scalars().first()
    return None if earlier is None else (earlier, months)


def _months_before(rt: Runtime, now: datetime, months: int) -> datetime:
    """The start of the local day ``months`` calendar months before ``now``'s."""
    day = rt.calendar.local_date(now)
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    start = date(year, month, min(day.day, last))
    return datetime.combine(start, time(0), tzinfo=rt.calendar.timezone)


# --- reading the queue -----------------------------------------------------------------


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
                     statuses: Sequence[str] = OPEN_ESCALATIONS) -> list[QueueItem]:
    """The open escalations (by default queued and scheduled), most urgent first."""
    if isinstance(db, sa.Engine):
        with db.connect() as conn:
            return queue_items(conn, rt, ESCALATION.c.status.in_(statuses))
    return queue_items(db, rt, ESCALATION.c.status.in_(statuses))


def queue_items(conn: sa.Connection, rt: Runtime, where: Any) -> list[QueueItem]:
    """The escalations ``where`` selects, most urgent first."""
    now = rt.clock.now()
    rows = conn.execute(sa.select(
        ESCALATION, CASE.c.reference, CASE.c.case_type, CASE.c.risk_level,
    ).join(CASE, CASE.c.id == ESCALATION.c.case_id).where(where)).mappings().all()
    if not rows:
        return []
    case_ids = [r["case_id"] for r in rows]
    institutions: dict[int, int] = dict(conn.execute(sa.select(
        TASK.c.case_id, sa.func.count(sa.distinct(TASK.c.assignee_institution)),
    ).where(TASK.c.case_id.in_(case_ids)).group_by(TASK.c.case_id)).all())
    dues = dict(conn.execute(sa.select(TASK.c.case_id, TASK.c.due_at).where(
        TASK.c.case_id.in_(case_ids), TASK.c.closed_at.is_(None), TASK.c.kind == TaskKind.STATE,
        TASK.c.due_at.is_not(None))).all())
    items = []
    for r in rows:
        due = dues.get(r["case_id"])
        overdue = (max(0, -rt.calendar.working_days_left(now, due))
                   if due is not None and now > due else 0)
        items.append(item_of(r, days_overdue=overdue,
                             institutions=int(institutions.get(r["case_id"], 0))))
    return sorted(items, key=queue_order)


def item_of(r: Row, *, days_overdue: int = 0, institutions: int = 0) -> QueueItem:
    """A queue item from an escalation row joined with its case's reference, type and risk."""
    return QueueItem(r["id"], r["case_id"], r["reference"], r["case_type"], r["risk_level"],
                     bool(r["urgent"]), tuple(r["reasons"]), r["status"], r["meeting_id"],
                     r["queued_at"], days_overdue, institutions)
