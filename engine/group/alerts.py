"""Urgent referrals waiting with no meeting planned: the chair and the coordinator are told.

An urgent case in the cooperation group's queue is meant for an extraordinary
meeting soon (DOMAIN.md §5.3: the next working day).  When such a referral has
waited ``cooperation_group.urgent_alert_after_working_days`` working days (counted
from the local day it was queued, at the same time of day) and still no meeting
is planned for it (it is ``queued``, or scheduled for a meeting whose day has
passed without a decision), the scheduler's tick alerts the group's chair (the
head of the group's institution) and the coordinating institution with a
``group_waiting`` email; then again on each following working day, until a
meeting is planned, the referral is decided or the case is closed.  Never on a
day off.

Each alert is a ``group_waiting`` event on the case, naming the referral and the
local day.  The event is appended under the case's optimistic version, after the
case is read and the day's alert looked for: two ticks at once, or two
processes, find the other's event or fail on the version and look again, so a
referral gets at most one alert per working day.  The email carries the case
reference, the reason and how long it has waited: nothing about the child.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from engine.errors import StaleCase
from engine.events import EventKind, append_event
from engine.group.queue import group_locale
from engine.group.reasons import reason_title
from engine.outbox import TO_HEAD, Template, outbox_row
from engine.runtime import SYSTEM, Runtime
from engine.store import CASE, ESCALATION, EVENT, MEETING, OUTBOX, load_case_row
from engine.tables import CaseStatus, EscalationStatus
from i18n import format_day

#: Working days an urgent referral may wait with no meeting planned before the alerts start.
ALERT_AFTER_PARAM = "cooperation_group.urgent_alert_after_working_days"


@dataclass(frozen=True)
class Waiting:
    """An urgent referral with no meeting planned for it."""

    escalation_id: int
    reference: str
    queued_at: datetime
    alert_from: datetime      # the first alert falls due
    waited: int               # working days since the local day it was queued
    alerting: bool            # the alerts have started (now >= alert_from)

    def as_dict(self) -> dict[str, Any]:
        return {"escalation": self.escalation_id, "reference": self.reference,
                "queued_at": self.queued_at, "alert_from": self.alert_from,
                "waited": self.waited, "alerting": self.alerting}


def alert_from(rt: Runtime, queued_at: datetime) -> datetime:
    """When the first alert for a referral queued at ``queued_at`` falls due: the same
    local time of day, ``ALERT_AFTER_PARAM`` working days after the day it was queued."""
    cal = rt.calendar
    local = queued_at.astimezone(cal.timezone)
    day = cal.add_working_days(local.date(), rt.days(ALERT_AFTER_PARAM))
    return datetime.combine(day, local.timetz()).astimezone(queued_at.tzinfo)


def waiting_urgent(conn: sa.Connection, rt: Runtime) -> list[Waiting]:
    """The open cases' urgent referrals with no meeting planned, oldest first."""
    now = rt.clock.now()
    cal = rt.calendar
    today = cal.local_date(now)
    past = sa.select(MEETING.c.id).where(MEETING.c.day < today).scalar_subquery()
    rows = conn.execute(sa.select(
        ESCALATION.c.id, ESCALATION.c.queued_at, CASE.c.reference,
    ).join(CASE, CASE.c.id == ESCALATION.c.case_id).where(
        ESCALATION.c.urgent.is_(True), CASE.c.status == CaseStatus.OPEN,
        sa.or_(ESCALATION.c.status == EscalationStatus.QUEUED, sa.and_(
            ESCALATION.c.status == EscalationStatus.SCHEDULED,
            ESCALATION.c.meeting_id.in_(past))),
    ).order_by(ESCALATION.c.queued_at, ESCALATION.c.id)).all()
    out = []
    for r in rows:
        first = alert_from(rt, r.queued_at)
        out.append(Waiting(r.id, r.reference, r.queued_at, first,
                           cal.working_days_between(cal.local_date(r.queued_at), today),
                           now >= first))
    return out


def alert_waiting_urgent(db: sa.Engine, rt: Runtime) -> int:
    """The tick's part: alert once today (a working day) for each urgent referral that
    has waited long enough with no meeting planned.  Returns the alerts sent."""
    now = rt.clock.now()
    today = rt.calendar.local_date(now)
    if not rt.calendar.is_working_day(today):
        return 0
    with db.connect() as conn:
        due = [w for w in waiting_urgent(conn, rt) if w.alerting]
    sent = 0
    for w in due:
        for _ in range(3):   # a change to the case (or another tick's alert) races ours
            try:
                with db.begin() as conn:
                    sent += _alert(conn, rt, w, today, now)
                break
            except StaleCase:
                continue
    return sent


def _alert(conn: sa.Connection, rt: Runtime, w: Waiting, today: date, now: datetime) -> int:
    case = load_case_row(conn, w.reference)   # first: its version guards our event
    esc = dict(conn.execute(sa.select(ESCALATION).where(
        ESCALATION.c.id == w.escalation_id)).mappings().one())
    if esc["status"] not in (EscalationStatus.QUEUED, EscalationStatus.SCHEDULED):
        return 0   # planned or decided since
    if case["status"] != CaseStatus.OPEN or _alerted(conn, case["id"], w.escalation_id, today):
        return 0
    event_id = append_event(conn, case, SYSTEM, now, kind=EventKind.GROUP_WAITING, payload={
        "escalation": w.escalation_id, "day": today.isoformat(), "waited": w.waited})
    group = rt.municipality.institution_for_role(rt.registry.roles.group).code
    coordinating = rt.registry.roles.coordinating
    rows = [(rt.registry.roles.group, group, TO_HEAD),
            (coordinating, rt.institution_for(coordinating, case), None)]
    conn.execute(sa.insert(OUTBOX), [outbox_row(
        now, Template.GROUP_WAITING, case=case, event_id=event_id, role=role,
        institution=code, to=to, extra=_extra(rt, esc, case, w, code))
        for role, code, to in rows])
    return 1


def _alerted(conn: sa.Connection, case_id: int, escalation_id: int, day: date) -> bool:
    """The referral's alert for ``day`` is already recorded."""
    payloads = conn.execute(sa.select(EVENT.c.payload).where(
        EVENT.c.case_id == case_id, EVENT.c.kind == EventKind.GROUP_WAITING)).scalars()
    return any(p.get("escalation") == escalation_id and p.get("day") == day.isoformat()
               for p in payloads)


def _extra(rt: Runtime, esc: Mapping[str, Any], case: Mapping[str, Any], w: Waiting,
           institution: str | None) -> dict[str, Any]:
    """What the email says, in the recipient's language: references and counts only."""
    loc = group_locale(rt, institution) if institution else "lv"
    return {"reason": "; ".join(reason_title(rt, r, loc) for r in esc["reasons"]),
            "risk": case["risk_level"], "waited": w.waited,
            "queued": format_day(rt.calendar.local_date(w.queued_at), loc)}
