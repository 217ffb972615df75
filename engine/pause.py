"""Clock pauses: ``pause`` and ``resume`` a case's clock (issue #4 §3, DESIGN.md §3).

While a case waits for something no institution controls (the child is
reported abroad, the police or a court have not answered), its clock may be
paused in a state declared ``pausable: true``, with a reason code from
``config/<municipality>/pauses.yaml``.  Each is one transaction through the
case's event chain (``engine.events.append_event``: a hash-chained event, the
case's version bumped, so a concurrent change is refused as stale).

* ``pause`` records the reason and the time on the case and points every open
  task's ``next_check_at`` at the pause limit (``max_working_days`` working
  days after the pause began).  The scheduler (``engine.escalation``) leaves a
  paused case alone: no reminder, breach or ladder step, only, once per pause,
  a ``pause_too_long`` event and a notice to the coordinating institution when
  the pause outlasts the limit.
* ``resume`` moves every open task's due, reminder and acknowledgement times
  by the working days the clock stood still (``WorkingDayCalendar.
  shift_for_pause``; a task opened during the pause only by the days since it
  opened), adds those days to the case's ``paused_working_days`` (left out of
  time-in-state figures), clears the pause and lets the scheduler look at the
  tasks again from their earliest pending time.

Who may pause or resume: the access policy decides (``engine.policy``: the
coordinating institution's users, on the cases they reach).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.definitions import Workflow
from engine.errors import Named, NotPermitted
from engine.events import EventKind, append_event
from engine.municipality import PAUSES_FILE
from engine.outbox import Template, tell_coordinating
from engine.runtime import SYSTEM, Actor, Runtime
from engine.store import CASE, TASK, load_case_row, require_version
from engine.tables import CaseStatus, TaskKind

#: The notice's ``extra["pause"]`` when a pause outlasts the limit (``flag_long_pause``).
LONG_PAUSE = "too_long"
#: The scheduler's effect (``task_effect.effect``) flagging one pause past the limit;
#: ``pause_limit_effect`` adds the pause's start, so each pause is flagged once.
PAUSE_LIMIT_EFFECT = "pause_limit"


class UnknownPauseReason(NotPermitted):
    def __init__(self, reason: str, valid: list[Named], file: str):
        self.reason, self.valid = reason, tuple(v.code for v in valid)
        super().__init__("pause.unknown_reason", reason=reason, valid=tuple(valid), file=file)


class NotPausable(NotPermitted):
    """The case is closed, or its state does not allow a pause."""


class AlreadyPaused(NotPermitted):
    pass


class NotPaused(NotPermitted):
    pass


@dataclass(frozen=True)
class PauseResult:
    reference: str
    reason: str
    paused_at: datetime
    limit_at: datetime   # a pause still running then is flagged
    version: int


@dataclass(frozen=True)
class ResumeResult:
    reference: str
    reason: str
    paused_at: datetime
    resumed_at: datetime
    working_days: int        # this pause
    total_working_days: int  # every pause of the case
    due_at: datetime | None  # the state task's due date after the shift
    version: int


def pause(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, reason: str, *,
          expected_version: int | None = None) -> PauseResult:
    """Stop the case's clock for ``reason`` (a code from pauses.yaml)."""
    reason = reason.strip()
    reasons = rt.municipality.pauses.reasons
    if reason not in reasons:
        raise UnknownPauseReason(reason, [Named(code, r.title) for code, r in reasons.items()],
                                 _pauses_file(rt))
    now = rt.clock.now()
    with db.begin() as conn:
        case, wf = _load(conn, rt, actor, reference, expected_version)
        if case["status"] == CaseStatus.CLOSED:
            raise NotPausable("pause.case_closed", reference=reference, outcome=case["outcome"])
        state = wf.state(case["state"])
        if not state.pausable:
            raise NotPausable("pause.not_pausable", reference=reference,
                              state=Named(case["state"], state.title), state_title=state.title,
                              case_type=Named(wf.case_type, wf.title), pausable=tuple(
                                  Named(name, s.title) for name, s in wf.states.items()
                                  if s.pausable))
        if case["paused_at"] is not None:
            raise AlreadyPaused("pause.already", reference=reference,
                                since=_local(rt, case["paused_at"]), reason=case["pause_reason"])
        append_event(conn, case, actor, now, kind=EventKind.PAUSED, payload={"reason": reason})
        conn.execute(sa.update(CASE).where(CASE.c.id == case["id"]).values(
            paused_at=now, pause_reason=reason))
        limit = pause_limit_at(rt, now)
        # The tick looks again only when the pause outlasts the limit.  Clearing a
        # running tick's claim keeps it from overwriting this with its own next check.
        conn.execute(sa.update(TASK).where(TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None))
                     .values(next_check_at=limit, check_token=None))
    return PauseResult(reference, reason, now, limit, case["version"] + 1)


def resume(db: sa.Engine, rt: Runtime, reference: str, actor: Actor, *,
           expected_version: int | None = None) -> ResumeResult:
    """Restart the case's clock; open tasks' times move by the paused working days."""
    now = rt.clock.now()
    cal = rt.calendar
    with db.begin() as conn:
        case, _ = _load(conn, rt, actor, reference, expected_version)
        paused_at = case["paused_at"]
        if paused_at is None:
            raise NotPaused("pause.not_paused", reference=reference)
        if now < paused_at:
            raise NotPermitted("pause.in_future", reference=reference,
                               paused_at=_local(rt, paused_at), now=_local(rt, now))
        days = cal.working_days_between(cal.local_date(paused_at), cal.local_date(now))
        tasks = conn.execute(sa.select(TASK).where(
            TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None)).order_by(TASK.c.id)
        ).mappings().all()
        append_event(conn, case, actor, now, kind=EventKind.RESUMED, payload={
            "reason": case["pause_reason"], "paused_at": paused_at.isoformat(),
            "working_days": days})
        total = case["paused_working_days"] + days
        conn.execute(sa.update(CASE).where(CASE.c.id == case["id"]).values(
            paused_at=None, pause_reason=None, paused_working_days=total))
        due = None
        for task in tasks:
            start = max(paused_at, task["opened_at"])   # a task opened during the pause
            moved = {key: cal.shift_for_pause(task[key], start, now) if task[key] else None
                     for key in ("due_at", "remind_at", "ack_due_at")}
            conn.execute(sa.update(TASK).where(TASK.c.id == task["id"]).values(
                **moved, next_check_at=_pending({**task, **moved}, now), check_token=None))
            if task["kind"] == TaskKind.STATE:
                due = moved["due_at"]
    return ResumeResult(reference, case["pause_reason"], paused_at, now, days, total, due,
                        case["version"] + 1)


def pause_limit_at(rt: Runtime, paused_at: datetime) -> datetime:
    """When a pause that began at ``paused_at`` has run too long (end of the limit's
    last working day)."""
    return rt.calendar.due_at(paused_at, rt.municipality.pauses.max_working_days.value)


def pause_limit_effect(paused_at: datetime) -> str:
    """The scheduler's effect name for the pause that began at ``paused_at``."""
    return f"{PAUSE_LIMIT_EFFECT}:{paused_at.astimezone(UTC):%Y%m%d%H%M%S}"


def paused_days_so_far(rt: Runtime, paused_at: datetime, now: datetime) -> int:
    cal = rt.calendar
    return cal.working_days_between(cal.local_date(paused_at), cal.local_date(now))


def flag_long_pause(conn: sa.Connection, rt: Runtime, case: Mapping[str, Any], task_id: int,
                    now: datetime) -> int:
    """Record that the case's pause outlasted the limit, and tell the coordinating
    institution (the reason code and the days, never the case's details).  Called
    by the scheduler once per pause; returns the event id."""
    limit = rt.municipality.pauses.max_working_days.value
    days = paused_days_so_far(rt, case["paused_at"], now)
    event_id = append_event(conn, case, SYSTEM, now, kind=EventKind.PAUSE_TOO_LONG, payload={
        "task": task_id, "reason": case["pause_reason"],
        "paused_at": case["paused_at"].isoformat(), "working_days": days,
        "max_working_days": limit})
    tell_coordinating(conn, rt, now, Template.CASE_UPDATE, case=case, event_id=event_id,
                      extra={"pause": LONG_PAUSE, "reason": case["pause_reason"],
                             "days": days, "max_working_days": limit})
    return event_id


def pause_view(rt: Runtime, case: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """What a case view shows of a running pause (``None``: the clock runs)."""
    paused_at = case["paused_at"]
    if paused_at is None:
        return None
    reason = case["pause_reason"]
    spec = rt.municipality.pauses.reasons.get(reason)
    limit = pause_limit_at(rt, paused_at)
    return {"since": paused_at, "reason": reason,
            "reason_title": {"lv": spec.title.lv, "en": spec.title.en} if spec else
            {"lv": reason, "en": reason},
            "working_days": paused_days_so_far(rt, paused_at, now), "limit_at": limit,
            "over_limit": now >= limit}


def _load(conn: sa.Connection, rt: Runtime, actor: Actor, reference: str,
          expected_version: int | None) -> tuple[dict[str, Any], Workflow]:
    case = load_case_row(conn, reference)
    policy.require_on_case(conn, rt, actor, policy.Action.PAUSE, case)
    require_version(case, expected_version)
    return case, rt.registry.get(case["case_type"], case["definition_version"])


def _pending(task: Mapping[str, Any], now: datetime) -> datetime | None:
    """The task's earliest pending time for the scheduler (``engine.escalation``);
    ``now`` when it is breached, so the next tick works out its next ladder step."""
    if task["breached_at"] is not None:
        return now
    due = task["due_at"]
    times = [t for t in (
        task["ack_due_at"] if (task["acknowledged_at"] is None and task["accepted_at"] is None
                               and task["declined_at"] is None
                               and task["unacknowledged_at"] is None) else None,
        task["remind_at"] if task["reminded_at"] is None and (due is None or now < due) else None,
        due,
    ) if t is not None]
    return min(times) if times else None


def _local(rt: Runtime, instant: datetime) -> str:
    return f"{instant.astimezone(rt.calendar.timezone):%d.%m.%Y %H:%M}"


def _pauses_file(rt: Runtime) -> str:
    return str(Path(rt.municipality.directory, PAUSES_FILE))
