"""The scheduler's tick: reminders, breaches and the escalation ladder (DESIGN.md §5);
then the alerts for urgent referrals waiting with no meeting (``engine.group.alerts``).

Every open task carries ``next_check_at``: when something may next be due for
it (its acknowledgement deadline, its reminder, its deadline, its next ladder
step).  A tick claims the tasks whose time has come through the partial index
``ix_task_next_check`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's one
writer elsewhere), so its cost follows the due rows, not the backlog.  For each
task, in one transaction, it does whatever is due and computes the next check.

Each effect is a ``task_effect`` row, unique per (task, effect): two ticks at
once, or two processes, or a tick retried after a crash, do each effect once.
After downtime one tick catches up: every step that fell due meanwhile fires
once (a reminder whose deadline has already passed is skipped: the breach
notice says more).

Ladder steps are declared per state (``escalation: [{after, action, risk}]``):
``after`` working days past the deadline; a step with ``risk`` applies only to
cases of those risk levels.  Decision tasks (the cooperation group's agreed
actions) climb the ladder of the case's state, without re-queueing the case
for the group, which reviews its decisions at its next meeting anyway.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from engine.definitions import EscalationStep, LadderAction, Report, Workflow
from engine.errors import StaleCase
from engine.events import EventKind, append_event
from engine.group.alerts import alert_waiting_urgent
from engine.group.queue import queue_stalled
from engine.outbox import TO_HEAD, Template, queue_mail, tell_coordinating
from engine.pause import flag_long_pause, pause_limit_at, pause_limit_effect
from engine.runtime import SYSTEM, Runtime
from engine.store import EFFECT, RUN, TASK, insert_or_ignore, load_case_row, reference_of
from engine.tables import TaskKind
from engine.tasks import TaskInfo

log = logging.getLogger(__name__)


class Effect(StrEnum):
    """``task_effect.effect`` of the tick's effects on one task (a ladder step is
    ``step:<n>``, a long pause ``engine.pause.pause_limit_effect``)."""

    UNACKNOWLEDGED = "unacknowledged"
    REMINDER = "reminder"
    BREACH = "breach"


@dataclass
class TickReport:
    started_at: datetime
    examined: int = 0
    effects: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    retried: int = 0   # tasks left for the next tick (case kept changing, or check failed)

    def as_dict(self) -> dict[str, Any]:
        return {"started_at": self.started_at.isoformat(), "examined": self.examined,
                "effects": dict(sorted(self.effects.items())), "seconds": round(self.seconds, 4),
                "retried": self.retried}


def tick(db: sa.Engine, rt: Runtime, *, batch: int = 500, lease: timedelta = timedelta(minutes=5),
         runner: str = "sweep") -> TickReport:
    """One scheduler tick over every task due now; records a ``scheduler_run``."""
    t0 = time.perf_counter()
    now = rt.clock.now()
    report = TickReport(now)
    claim = _claim_statement(db.dialect.name)
    while True:
        token = secrets.token_hex(8)
        with db.begin() as conn:
            rows = [dict(r) for r in conn.execute(claim, {
                "b_now": now, "b_limit": batch, "check_token": token,
                "next_check_at": now + lease}).mappings()]
        report.examined += len(rows)
        for task in sorted(rows, key=lambda r: r["id"]):
            _check_with_retry(db, rt, task, token, now, report)
        if len(rows) < batch:
            break
    alerts = alert_waiting_urgent(db, rt)   # urgent referrals with no meeting (engine.group)
    if alerts:
        report.effects[EventKind.GROUP_WAITING] += alerts
    report.seconds = time.perf_counter() - t0
    with db.begin() as conn:
        conn.execute(sa.insert(RUN).values(
            started_at=now, finished_at=rt.clock.now(), examined=report.examined,
            effects=dict(report.effects), duration_ms=report.seconds * 1000, runner=runner))
    return report


def _claim_statement(dialect: str) -> sa.Update:
    task = TASK
    due = (sa.select(task.c.id)
           # exactly the partial index's predicate, or SQLite will not use it
           .where(task.c.closed_at.is_(None), task.c.next_check_at <= sa.bindparam("b_now"))
           .order_by(task.c.next_check_at).limit(sa.bindparam("b_limit")))
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return sa.update(task).where(task.c.id.in_(due.scalar_subquery())).returning(*task.c)


def _check_with_retry(db: sa.Engine, rt: Runtime, task: dict[str, Any], token: str,
                      now: datetime, report: TickReport) -> None:
    for _ in range(3):   # a user's change to the case races our event: read it again
        try:
            with db.begin() as conn:
                done = _check(conn, rt, task, token, now)
            report.effects.update(done)
            return
        except StaleCase:
            continue
        except Exception:
            log.exception("tick: task %s could not be checked; left for its lease", task["id"])
            break
    report.retried += 1   # the lease runs out and the next tick takes it


def _check(conn: sa.Connection, rt: Runtime, task: Mapping[str, Any], token: str,
           now: datetime) -> Counter[str]:
    done: Counter[str] = Counter()
    reference = reference_of(conn, task["case_id"])
    case = load_case_row(conn, reference)
    # The task as it is now, read after the case (whose version guards our events):
    # since the claim a user may have closed it, answered it or moved its deadline,
    # or another tick may have taken it over when our lease ran out.
    fresh = conn.execute(sa.select(TASK).where(TASK.c.id == task["id"])).mappings().first()
    if fresh is None or fresh["check_token"] != token:
        return done
    task = dict(fresh)
    if task["closed_at"] is not None:
        _release(conn, task, token, None)
        return done
    changes: dict[str, Any] = {}
    if case["paused_at"] is not None:   # a paused clock: nothing escalates (engine.pause)
        limit = pause_limit_at(rt, case["paused_at"])
        if now < limit:   # look again when the pause has run too long
            _release(conn, task, token, limit)
            return done
        # flagged once per pause: by the state task, under an effect naming the pause
        if task["kind"] == TaskKind.STATE and _record_effect(
                conn, task["id"], pause_limit_effect(case["paused_at"]), now):
            flag_long_pause(conn, rt, case, task["id"], now)
            done[EventKind.PAUSE_TOO_LONG] += 1
        _release(conn, task, token, None)
        return done
    if task["reported_done_at"] is not None:
        # The institution reported its step done; the coordinator chooses the next step
        # (the queue ``engine.queues.Queue.REPORTED_DONE``). Nothing more is asked of the
        # institution: no reminder, no breach, no ladder against it.
        _release(conn, task, token, None)
        return done
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    info = TaskInfo(task["state"], task["assignee_institution"], task["due_at"], task["id"])

    def effect(name: str) -> bool:
        return _record_effect(conn, task["id"], name, now)

    def event(kind: EventKind, **payload: Any) -> int:
        nonlocal case
        event_id = append_event(conn, case, SYSTEM, now, kind=kind,
                                payload={"task": task["id"], **payload})
        case = load_case_row(conn, reference)
        return event_id

    if _ack_pending(task) and task["ack_due_at"] <= now and effect(Effect.UNACKNOWLEDGED):
        event(EventKind.UNACKNOWLEDGED)
        changes["unacknowledged_at"] = now
        done[Effect.UNACKNOWLEDGED] += 1
    due = task["due_at"]
    if (task["reminded_at"] is None and task["remind_at"] is not None and task["remind_at"] <= now
            and (due is None or now < due) and effect(Effect.REMINDER)):
        queue_mail(conn, case, event(EventKind.REMINDED), now,
                   [(Template.TASK_REMINDER, _owner_role(wf, task), info.assignee)], info)
        changes["reminded_at"] = now
        done[Effect.REMINDER] += 1
    breached = task["breached_at"]
    if due is not None and breached is None and due <= now:
        breached = now
        changes["breached_at"] = now
        if effect(Effect.BREACH):
            queue_mail(conn, case, event(EventKind.OVERDUE), now,
                       [(Template.TASK_OVERDUE, _owner_role(wf, task), info.assignee)], info)
            done[Effect.BREACH] += 1
    step = task["escalation_step"]
    ladder = _ladder(wf, task)
    while breached is not None and step < len(ladder):
        s = ladder[step]
        if s.risk is not None and case["risk_level"] not in s.risk:
            step += 1   # a step for other risk levels
            continue
        if _step_time(rt, due, s) > now:
            break
        if effect(f"step:{step}"):
            level = 1 + sum(1 for p in ladder[:step]   # among the steps of the case's tier
                            if p.risk is None or case["risk_level"] in p.risk)
            _climb(conn, rt, wf, case, task, info, s, step, level, now, event)
            done[f"ladder:{s.action}"] += 1
            case = load_case_row(conn, reference)
        step += 1
    changes["escalation_step"] = step
    _release(conn, task, token, _next_check(rt, task, changes, ladder, step, now), changes)
    return done


def _climb(conn: sa.Connection, rt: Runtime, wf: Workflow, case: Mapping[str, Any],
           task: Mapping[str, Any], info: TaskInfo, s: EscalationStep, step: int, level: int,
           now: datetime, event: Any) -> None:
    owner = _owner_role(wf, task)
    event_id = event(EventKind.ESCALATED, step=step + 1, action=s.action.value)
    match s.action:
        case LadderAction.REMIND_OWNER if s.after != 0:   # at 0 the breach notice reminds
            queue_mail(conn, case, event_id, now, [(Template.TASK_OVERDUE, owner, info.assignee)],
                       info)
        case LadderAction.NOTIFY_OWNER_HEAD:
            queue_mail(conn, case, event_id, now,
                       [(Template.ESCALATION_HEAD, owner, info.assignee)], None,
                       extra={"level": level}, to=TO_HEAD, task_ref=task["id"])
        case LadderAction.NOTIFY_COORDINATOR:
            tell_coordinating(conn, rt, now, Template.TASK_OVERDUE, case=case, event_id=event_id,
                              task_ref=task["id"])
        case LadderAction.QUEUE_COOPERATION_GROUP:
            queue_stalled(conn, rt, case, now)


def _ladder(wf: Workflow, task: Mapping[str, Any]) -> list[EscalationStep]:
    state = wf.states.get(task["state"])
    steps = state.escalation if state is not None else []
    report = _report(wf, task)
    if report is not None and report.escalation is not None:   # the recipient's own ladder
        steps = report.escalation
    if task["kind"] in (TaskKind.DECISION, TaskKind.TRANSFER):
        # the group follows its own decisions up; a school move is the coordinator's to
        # follow (notify_coordinator), not the group's
        return [s for s in steps if s.action != LadderAction.QUEUE_COOPERATION_GROUP]
    return list(steps)


def _owner_role(wf: Workflow, task: Mapping[str, Any]) -> str:
    report = _report(wf, task)
    if report is not None:
        return report.to
    owner = wf.state(task["state"]).owner if task["state"] in wf.states else None
    return owner or ""


def _report(wf: Workflow, task: Mapping[str, Any]) -> Report | None:
    """A report task's declaration (``engine.filings``)."""
    if task["kind"] != TaskKind.REPORT or task["state"] not in wf.states:
        return None
    return wf.state(task["state"]).report(task["report"] or "")


def _step_time(rt: Runtime, due: datetime | None, s: EscalationStep) -> datetime:
    assert due is not None
    after = rt.period(s.after)
    return due if after.count == 0 else rt.calendar.add_period(due, after)


def _ack_pending(task: Mapping[str, Any]) -> bool:
    return (task["ack_due_at"] is not None and task["acknowledged_at"] is None
            and task["accepted_at"] is None and task["declined_at"] is None
            and task["unacknowledged_at"] is None)


def _next_check(rt: Runtime, task: Mapping[str, Any], changes: Mapping[str, Any],
                ladder: list[EscalationStep], step: int, now: datetime) -> datetime | None:
    merged = {**task, **changes}
    times = []
    if _ack_pending(merged):
        times.append(merged["ack_due_at"])
    due = merged["due_at"]
    if (merged["reminded_at"] is None and merged["remind_at"] is not None
            and (due is None or now < due)):
        times.append(merged["remind_at"])
    if due is not None and merged["breached_at"] is None:
        times.append(due)
    if due is not None and merged["breached_at"] is not None and step < len(ladder):
        times.append(_step_time(rt, due, ladder[step]))
    future = [t for t in times if t > now]   # all that was due is done by now
    return min(future) if future else None


def _record_effect(conn: sa.Connection, task_id: int, name: str, now: datetime) -> bool:
    """True if this effect is new (and now recorded); False if it already happened."""
    return conn.execute(insert_or_ignore(conn, EFFECT, "task_id", "effect").returning(EFFECT.c.id),
                        {"task_id": task_id, "effect": name, "at": now}).first() is not None


def _release(conn: sa.Connection, task: Mapping[str, Any], token: str,
             next_check: datetime | None, changes: Mapping[str, Any] | None = None) -> None:
    conn.execute(sa.update(TASK).where(TASK.c.id == task["id"], TASK.c.check_token == token)
                 .values(next_check_at=next_check, check_token=None, **(changes or {})))
