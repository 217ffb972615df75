"""The baselines for ``bench.transitions``: the same five writes as ``fire()``, raw.

One transaction per transition, plain SQLAlchemy Core on the same SQLModel
tables, in two styles:

* ``core_steps``: statements built on every call with ``.where(...).values(...)``,
  the naive way to write them;
* ``prebuilt_steps``: the same statements built once with ``bindparam`` and
  executed with parameter dicts (no per-call construction or cache-key work).

The writes:

1. UPDATE case SET state, version+1, event_seq, last_event_hash, owner,
   updated_at, data, status, outcome, closed_at WHERE id=? AND version=?
   (rowcount must be 1);
2. INSERT case_event ... RETURNING id;
3. UPDATE task SET closed_at, status, closed_by_event WHERE case_id=? AND open
   AND kind='state' (a decision task stays open);
4. INSERT task (kind 'state', next state, assignee, due/remind, ack_due_at, and
   next_check_at, the earliest of the three: when the scheduler first looks) ...
   RETURNING id;
5. INSERT outbox (one row per declared notification, every column
   ``engine.outbox.queue_mail`` writes: the new task's id on the email to its
   assignee, queued_at, recipient_user, claim_token, sent_to, and the payload
   ``{"reference": ...}``).

Nothing is read or checked: no case SELECT, no trigger/role/field/guard check,
no machine, no event hash (a constant is written), no deadline arithmetic.
Everything that varies per case (id, version, sequence, state, data) is kept
in memory; what varies per trigger is worked out once by ``plan``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa

from engine.deadlines import acknowledge_due, deadline_for
from engine.runtime import Actor, Runtime
from engine.store import CASE, EVENT, OUTBOX, TASK
from engine.tables import TaskKind

HASH = "0" * 64


class Slot(Protocol):
    reference: str
    id: int
    state: str
    version: int
    event_seq: int
    data: dict[str, Any]


class Step(NamedTuple):
    """What the baseline writes for one trigger, worked out once, outside the timing."""

    trigger: str
    dest: str
    assignee: str | None
    due: datetime | None
    remind: datetime | None
    ack_due: datetime
    next_check: datetime   # the earliest of due, remind and ack_due (engine.tasks.first_check)
    notify: tuple[tuple[str, str, str | None], ...]   # (template, role, institution)


def plan(rt: Runtime, case_type: str, cycle: Mapping[str, str], school: str) -> dict[str, Step]:
    """The Step for each (source state -> trigger) of ``cycle``, keyed by source state."""
    wf = rt.registry.latest(case_type)
    now = rt.clock.now()
    case = {"school_institution": school}
    steps = {}
    for source, trigger in cycle.items():
        t = wf.transition(source, trigger)
        assert t is not None, (source, trigger)
        due, remind = deadline_for(rt, wf, t.dest, now, now)
        ack_due = acknowledge_due(rt, now, wf.state(t.dest).acknowledge_within)
        owner = rt.institution_for(wf.state(t.dest).owner or "", case)
        steps[source] = Step(trigger, t.dest, owner, due, remind, ack_due,
                             min(x for x in (remind, due, ack_due) if x is not None),
                             tuple((n.template, n.to, rt.institution_for(n.to, case))
                                   for n in t.notify))
    return steps


def _outbox_rows(s: Slot, p: Step, event_id: int, task_id: int,
                 now: datetime) -> list[dict[str, Any]]:
    """The outbox rows ``engine.outbox.queue_mail`` writes (the email to the new task's
    assignee carries the task's id)."""
    return [{"case_id": s.id, "event_id": event_id, "template": template,
             "task_id": task_id if inst == p.assignee else None,
             "recipient_role": role, "recipient_institution": inst, "recipient_user": None,
             "status": "queued", "created_at": now, "queued_at": now, "next_attempt_at": now,
             "attempts": 0, "claim_token": None, "last_error": None, "sent_at": None,
             "sent_to": None, "payload": {"reference": s.reference}}
            for template, role, inst in p.notify]


def core_steps(db: sa.Engine, actor: Actor, take: Callable[[], Slot], k: int,
               steps: Mapping[str, Step], now: datetime) -> None:
    """``k`` transitions, each the five raw writes in one transaction."""
    for _ in range(k):
        s = take()
        p = steps[s.state]
        seq = s.event_seq + 1
        with db.begin() as conn:
            updated = conn.execute(sa.update(CASE).where(
                CASE.c.id == s.id, CASE.c.version == s.version).values(
                state=p.dest, version=s.version + 1, event_seq=seq, last_event_hash=HASH,
                owner_institution=p.assignee, updated_at=now, data=s.data, status="open",
                outcome=None, closed_at=None))
            if updated.rowcount != 1:
                raise RuntimeError(f"baseline version check failed for case {s.id}")
            event_id = conn.execute(sa.insert(EVENT).values(
                case_id=s.id, seq=seq, at=now, actor=actor.username, actor_role=actor.role,
                actor_institution=actor.institution, kind="transition", trigger=p.trigger,
                from_state=s.state, to_state=p.dest, definition_version=1, payload={},
                prev_hash=HASH, hash=HASH).returning(EVENT.c.id)).scalar_one()
            conn.execute(sa.update(TASK).where(TASK.c.case_id == s.id, TASK.c.closed_at.is_(None),
                                               TASK.c.kind == TaskKind.STATE)
                         .values(closed_at=now, status="done", closed_by_event=event_id))
            task_id = conn.execute(sa.insert(TASK).values(
                case_id=s.id, kind=TaskKind.STATE, state=p.dest, assignee_institution=p.assignee,
                opened_at=now, due_at=p.due, remind_at=p.remind, status="open",
                ack_due_at=p.ack_due, next_check_at=p.next_check, opened_by_event=event_id,
                closed_at=None, closed_by_event=None,
            ).returning(TASK.c.id)).scalar_one()
            if p.notify:
                conn.execute(sa.insert(OUTBOX), _outbox_rows(s, p, event_id, task_id, now))
        s.state, s.version, s.event_seq = p.dest, s.version + 1, seq


def _p(column: sa.Column[Any], name: str | None = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name or column.key, type_=column.type)


_UPDATE_CASE = sa.update(CASE).where(CASE.c.id == _p(CASE.c.id, "w_id"),
                                     CASE.c.version == _p(CASE.c.version, "w_version")).values(
    {c: _p(c) for c in (CASE.c.state, CASE.c.version, CASE.c.event_seq, CASE.c.last_event_hash,
                        CASE.c.owner_institution, CASE.c.updated_at, CASE.c.data,
                        CASE.c.status, CASE.c.outcome, CASE.c.closed_at)})
_INSERT_EVENT = sa.insert(EVENT).returning(EVENT.c.id)
_CLOSE_TASK = sa.update(TASK).where(TASK.c.case_id == _p(TASK.c.case_id, "w_case"),
                                    TASK.c.closed_at.is_(None),
                                    TASK.c.kind == TaskKind.STATE).values(
    {c: _p(c) for c in (TASK.c.closed_at, TASK.c.status, TASK.c.closed_by_event)})
_INSERT_TASK = sa.insert(TASK).returning(TASK.c.id)
_INSERT_OUTBOX = sa.insert(OUTBOX)


def prebuilt_steps(db: sa.Engine, actor: Actor, take: Callable[[], Slot], k: int,
                   steps: Mapping[str, Step], now: datetime) -> None:
    """``k`` transitions, the same five writes with statements built once."""
    for _ in range(k):
        s = take()
        p = steps[s.state]
        seq = s.event_seq + 1
        with db.begin() as conn:
            updated = conn.execute(_UPDATE_CASE, {
                "w_id": s.id, "w_version": s.version, "state": p.dest, "version": s.version + 1,
                "event_seq": seq, "last_event_hash": HASH, "owner_institution": p.assignee,
                "updated_at": now, "data": s.data, "status": "open", "outcome": None,
                "closed_at": None})
            if updated.rowcount != 1:
                raise RuntimeError(f"baseline version check failed for case {s.id}")
            event_id = conn.execute(_INSERT_EVENT, {
                "case_id": s.id, "seq": seq, "at": now, "actor": actor.username,
                "actor_role": actor.role, "actor_institution": actor.institution,
                "kind": "transition", "trigger": p.trigger, "from_state": s.state,
                "to_state": p.dest, "definition_version": 1, "payload": {},
                "prev_hash": HASH, "hash": HASH}).scalar_one()
            conn.execute(_CLOSE_TASK, {"w_case": s.id, "closed_at": now, "status": "done",
                                       "closed_by_event": event_id})
            task_id = conn.execute(_INSERT_TASK, {
                "case_id": s.id, "kind": TaskKind.STATE, "state": p.dest,
                "assignee_institution": p.assignee, "opened_at": now, "due_at": p.due,
                "remind_at": p.remind, "status": "open", "ack_due_at": p.ack_due,
                "next_check_at": p.next_check, "opened_by_event": event_id, "closed_at": None,
                "closed_by_event": None}).scalar_one()
            if p.notify:
                conn.execute(_INSERT_OUTBOX, _outbox_rows(s, p, event_id, task_id, now))
        s.state, s.version, s.event_seq = p.dest, s.version + 1, seq
