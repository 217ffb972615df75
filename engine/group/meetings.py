"""The cooperation group's meetings: planning one takes its agenda from the queue;
reading one gives its agenda and decisions.

The chair picks the agenda from the queue (``picked``: the references; without it,
every waiting case); the cases not picked stay queued.  Ordinary meetings also
review, as ``follow_up``, every case whose decision tasks from earlier meetings
are still open; extraordinary ones take urgent cases only, soon.  A meeting has a
day and, given by the chair, a time of day (``starts_at``, local time, stored in
UTC).  The agenda is emailed to the group's institution.  Only the group's chair
plans (``engine.policy``: ``chairs``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.access_log import log_access
from engine.errors import Message, NotFound, NotPermitted, msg
from engine.events import EventKind, append_event
from engine.group.queue import QueueItem, group_locale, item_of, queue_items, queue_order
from engine.group.reasons import reason_spec, reason_title
from engine.municipality import EngineReason
from engine.outbox import Template, outbox_row
from engine.runtime import Actor, Runtime
from engine.store import (
    CASE,
    DECISION,
    ESCALATION,
    MEETING,
    OUTBOX,
    TASK,
    load_case_row,
    reference_of,
)
from engine.tables import (
    OPEN_ESCALATIONS,
    AccessAction,
    Channel,
    EscalationStatus,
    MeetingKind,
    MeetingStatus,
    TaskKind,
)

FOLLOW_UP = EngineReason.FOLLOW_UP
ORDINARY_WAIT_PARAM = "cooperation_group.ordinary_max_wait_working_days"
EXTRAORDINARY_WAIT_PARAM = "cooperation_group.extraordinary_max_wait_working_days"
#: How far ahead a meeting may be planned (calendar days).
MAX_DAYS_AHEAD = 366


@dataclass(frozen=True)
class MeetingPlan:
    meeting_id: int
    day: date
    kind: str
    place: str
    items: list[QueueItem]
    warnings: tuple[Message, ...] = field(default_factory=tuple)
    starts_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"meeting": self.meeting_id, "day": self.day.isoformat(), "kind": self.kind,
                "place": self.place, "starts_at": self.starts_at,
                "items": [i.as_dict() for i in self.items],
                "warnings": [str(w) for w in self.warnings]}


def dmy(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def starts_at_of(rt: Runtime, day: date, at: time | None) -> datetime | None:
    """The instant a meeting on ``day`` at local time ``at`` starts (None: no time)."""
    if at is None:
        return None
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=rt.calendar.timezone)


def time_of_day(rt: Runtime, starts_at: datetime | None) -> str | None:
    """A meeting's local time of day, ``14:00`` (None: not given)."""
    if starts_at is None:
        return None
    return f"{starts_at.astimezone(rt.calendar.timezone):%H:%M}"


def when_text(rt: Runtime, day: date, starts_at: datetime | None) -> str:
    """A meeting's day and time as the agenda email and the CLI write it."""
    at = time_of_day(rt, starts_at)
    return dmy(day) + (f" {at}" if at else "")


def plan_meeting(db: sa.Engine, rt: Runtime, actor: Actor, day: date, *,
                 extraordinary: bool = False, place: str = "", at: time | None = None,
                 picked: Sequence[str] | None = None,
                 case_url: Callable[[str], str] = lambda reference: reference) -> MeetingPlan:
    """Plan a meeting on ``day`` at local time ``at`` and take its agenda from the queue.

    ``picked``: the references of the waiting cases the chair puts on the agenda (the
    rest stay queued); a reference that is not waiting in the queue is refused
    (``meeting.not_queued``), as is an empty pick (``meeting.nothing_picked``), and
    nothing is stored.  Without ``picked``: every waiting case.
    Ordinary: the cases, and (as ``follow_up``) every case whose decision
    tasks from earlier meetings are still open; a case that will have waited longer
    than ``cooperation_group.ordinary_max_wait_working_days`` is warned about.
    Extraordinary: urgent cases only (``meeting.no_urgent_case`` when none waits,
    ``meeting.not_urgent`` for a picked one that is not), on a day no later than
    ``cooperation_group.extraordinary_max_wait_working_days`` from today.
    A case scheduled for a meeting whose day has passed without a decision is waiting
    too.  The agenda is emailed to the group's institution (``case_url`` makes each
    case's link)."""
    policy.require(rt, actor, policy.Action.PLAN_MEETING)
    cal, now = rt.calendar, rt.clock.now()
    today = cal.local_date(now)
    place = " ".join(place.split())
    if day < today:
        raise NotPermitted("meeting.in_past", day=dmy(day), today=dmy(today))
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise NotPermitted("meeting.too_far", limit=MAX_DAYS_AHEAD, day=dmy(day))
    if not cal.is_working_day(day):
        raise NotPermitted("meeting.day_off", day=dmy(day),
                           next=dmy(cal.next_working_day(day)))
    if extraordinary:
        wait = rt.days(EXTRAORDINARY_WAIT_PARAM)
        latest = cal.add_working_days(today, wait)
        if day > latest:
            raise NotPermitted("meeting.extraordinary_too_late", latest=dmy(latest), days=wait,
                               param=EXTRAORDINARY_WAIT_PARAM, day=dmy(day))
    kind = MeetingKind.EXTRAORDINARY if extraordinary else MeetingKind.ORDINARY
    with db.begin() as conn:
        past = sa.select(MEETING.c.id).where(MEETING.c.day < today).scalar_subquery()
        waiting = sa.or_(ESCALATION.c.status == EscalationStatus.QUEUED, sa.and_(
            ESCALATION.c.status == EscalationStatus.SCHEDULED, ESCALATION.c.meeting_id.in_(past)))
        queued = queue_items(conn, rt, waiting)
        if extraordinary and not any(i.urgent for i in queued):
            raise NotPermitted("meeting.no_urgent_case", queued=len(queued))
        items = _picked(queued, picked, extraordinary)
        starts_at = starts_at_of(rt, day, at)
        meeting_id = int(conn.execute(sa.insert(MEETING).values(
            day=day, starts_at=starts_at, kind=kind, place=place, status=MeetingStatus.PLANNED,
            created_at=now,
        ).returning(MEETING.c.id)).scalar_one())
        # an ordinary meeting reviews every case whose decision tasks are still open
        review = set() if extraordinary else set(conn.execute(sa.select(TASK.c.case_id).where(
            TASK.c.kind == TaskKind.DECISION, TASK.c.closed_at.is_(None))).scalars())
        agenda = [_schedule(conn, item_with_follow_up(item) if item.case_id in review else item,
                            meeting_id, day, kind, actor, now) for item in items]
        review -= {item.case_id for item in agenda}
        if review:
            agenda += _follow_ups(conn, rt, review, meeting_id, day, kind, actor, now)
        agenda = sorted(agenda, key=queue_order)
        warnings = _wait_warnings(rt, agenda, day)
        _queue_agenda(conn, rt, meeting_id, when_text(rt, day, starts_at), place, agenda, now,
                      case_url)
    return MeetingPlan(meeting_id, day, kind, place, agenda, tuple(warnings), starts_at)


def _picked(queued: Sequence[QueueItem], picked: Sequence[str] | None,
            extraordinary: bool) -> list[QueueItem]:
    """The waiting cases the chair picked, checked (in the queue's order); all of them
    (the urgent ones for an extraordinary meeting) when nothing is picked by hand."""
    if picked is None:
        return [i for i in queued if i.urgent or not extraordinary]
    wanted = list(dict.fromkeys(r.strip() for r in picked if r.strip()))
    if not wanted:
        raise NotPermitted("meeting.nothing_picked")
    by_reference = {i.reference: i for i in queued}
    for reference in wanted:
        item = by_reference.get(reference)
        if item is None:
            raise NotPermitted("meeting.not_queued", reference=reference)
        if extraordinary and not item.urgent:
            raise NotPermitted("meeting.not_urgent", reference=reference)
    chosen = set(wanted)
    return [i for i in queued if i.reference in chosen]


def item_with_follow_up(item: QueueItem) -> QueueItem:
    return item if FOLLOW_UP in item.reasons else replace(item, reasons=(*item.reasons, FOLLOW_UP))


def _schedule(conn: sa.Connection, item: QueueItem, meeting_id: int, day: date, kind: str,
              actor: Actor, now: datetime) -> QueueItem:
    case = load_case_row(conn, item.reference)
    append_event(conn, case, actor, now, kind=EventKind.SCHEDULED, payload={
        "meeting": meeting_id, "day": day.isoformat(), "meeting_kind": kind,
        "reasons": list(item.reasons)})
    conn.execute(sa.update(ESCALATION).where(ESCALATION.c.id == item.escalation_id).values(
        status=EscalationStatus.SCHEDULED, meeting_id=meeting_id, reasons=list(item.reasons)))
    return replace(item, status=EscalationStatus.SCHEDULED, meeting_id=meeting_id)


def _follow_ups(conn: sa.Connection, rt: Runtime, review: set[int], meeting_id: int,
                day: date, kind: str, actor: Actor, now: datetime) -> list[QueueItem]:
    """Cases not otherwise on this agenda whose decision tasks are still open come back
    for review, as a new escalation with reason ``follow_up`` (unless the case is
    already on another planned meeting's agenda)."""
    reason_spec(rt, FOLLOW_UP)
    elsewhere = set(conn.execute(sa.select(ESCALATION.c.case_id).where(
        ESCALATION.c.case_id.in_(review), ESCALATION.c.status.in_(OPEN_ESCALATIONS))).scalars())
    added: list[QueueItem] = []
    for case_id in sorted(review - elsewhere):
        case = load_case_row(conn, reference_of(conn, case_id))
        event_id = append_event(conn, case, actor, now, kind=EventKind.SCHEDULED, payload={
            "meeting": meeting_id, "day": day.isoformat(), "meeting_kind": kind,
            "reasons": [FOLLOW_UP]})
        escalation_id = conn.execute(sa.insert(ESCALATION).values(
            case_id=case_id, reasons=[FOLLOW_UP], urgent=False,
            status=EscalationStatus.SCHEDULED, queued_at=now, queued_by=actor.username,
            meeting_id=meeting_id, event_id=event_id,
        ).returning(ESCALATION.c.id)).scalar_one()
        added.extend(queue_items(conn, rt, ESCALATION.c.id == escalation_id))
    return added


def _wait_warnings(rt: Runtime, agenda: Sequence[QueueItem], day: date) -> list[Message]:
    limit = rt.days(ORDINARY_WAIT_PARAM)
    cal, warnings = rt.calendar, []
    for item in agenda:
        if item.reasons == (FOLLOW_UP,):
            continue   # a review, not a case waiting for the group
        queued = cal.local_date(item.queued_at)
        if day > cal.add_working_days(queued, limit):
            waited = cal.working_days_between(queued, day)
            warnings.append(msg("meeting.long_wait", reference=item.reference,
                                queued=dmy(queued), day=dmy(day), waited=waited, limit=limit,
                                param=ORDINARY_WAIT_PARAM))
    return warnings


def _queue_agenda(conn: sa.Connection, rt: Runtime, meeting_id: int, when: str, place: str,
                  agenda: Sequence[QueueItem], now: datetime,
                  case_url: Callable[[str], str]) -> None:
    """The agenda email to the group's institution, in its language."""
    role = rt.registry.roles.group
    institution = rt.municipality.institution_for_role(role).code
    loc = group_locale(rt, institution)
    items = []
    for item in agenda:
        wf = rt.registry.latest(item.case_type)
        items.append({"reference": item.reference, "type_title": wf.title.get(loc),
                      "reason": "; ".join(reason_title(rt, r, loc) for r in item.reasons),
                      "url": case_url(item.reference)})
    conn.execute(sa.insert(OUTBOX), outbox_row(
        now, Template.MEETING_AGENDA, role=role, institution=institution,
        extra={"meeting": {"id": meeting_id, "when": when, "place": place or "—"},
               "items": items, "members": group_seats(rt, loc)}))


def group_seats(rt: Runtime, locale: str) -> list[dict[str, str]]:
    """The group's seats as configured (chair first): each position and its institution's
    name in ``locale``; positions, never people's names."""
    m = rt.municipality
    return [{"position": seat.position.get(locale),
             "institution": m.institution_name(seat.institution, locale)}
            for seat in m.cooperation_group.seats]


# --- reading ----------------------------------------------------------------------------


def meeting_view(db: sa.Engine, rt: Runtime, meeting_id: int, reader: Actor, *,
                 locale: str = "lv", action: AccessAction = AccessAction.READ,
                 channel: Channel = Channel.CLI) -> dict[str, Any]:
    """A meeting, its agenda and its decisions: references, titles, institutions and
    dates, never anything about the child.  The policy decides whether ``reader`` may
    read the group's work; each case's access is logged (``action``: ``read``, or
    ``export`` for the minutes)."""
    policy.require(rt, reader, policy.Action.READ_GROUP)
    loc = locale if locale in ("lv", "en") else "lv"
    now = rt.clock.now()
    with db.begin() as conn:
        meeting = conn.execute(sa.select(MEETING).where(
            MEETING.c.id == meeting_id)).mappings().first()
        if meeting is None:
            raise NotFound("meeting.not_found", meeting=meeting_id)
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
        for r in rows:
            log_access(conn, r["case_id"], reader.username, action, channel, now)
    items = []
    for r in sorted(rows, key=lambda r: queue_order(item_of(r))):
        wf = rt.registry.get(r["case_type"], r["definition_version"])
        d = decisions.get(r["case_id"])
        items.append({
            "reference": r["reference"], "case_type": r["case_type"],
            "type_title": wf.title.get(loc), "risk_level": r["risk_level"],
            "urgent": bool(r["urgent"]), "reasons": list(r["reasons"]),
            "reason_titles": [reason_title(rt, c, loc) for c in r["reasons"]],
            "status": r["status"], "owner": r["owner_institution"],
            "decision": None if d is None else {
                "summary": d["summary"], "decided_at": d["decided_at"],
                "decided_by": d["decided_by"],
                "actions": [{"task": t["id"], "institution": t["assignee_institution"],
                             "institution_name": rt.municipality.institution_name(
                                 t["assignee_institution"], loc),
                             "title": t["title"], "due_at": t["due_at"],
                             "done": t["closed_at"] is not None}
                            for t in tasks.get(d["id"], [])]},
        })
    return {"id": meeting["id"], "day": meeting["day"], "starts_at": meeting["starts_at"],
            "time": time_of_day(rt, meeting["starts_at"]), "kind": meeting["kind"],
            "place": meeting["place"], "status": meeting["status"], "items": items}


def list_meetings(db: sa.Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        counts: dict[int, int] = dict(conn.execute(sa.select(
            ESCALATION.c.meeting_id, sa.func.count()).where(ESCALATION.c.meeting_id.is_not(None))
            .group_by(ESCALATION.c.meeting_id)).all())
        return [{**dict(m), "items": int(counts.get(m["id"], 0))} for m in conn.execute(
            sa.select(MEETING).order_by(MEETING.c.day, MEETING.c.id)).mappings()]
