"""Read side: the case view (written to the access log) and case lists."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.audit import EVENT, chain_problems, log_access
from engine.cases import CASE, OUTBOX, TASK, allowed_triggers, load_case_row
from engine.errors import UnknownState, UserNotFound
from engine.runtime import Actor, Runtime
from engine.tables import User

USER = User.__table__


def actor_for(db: sa.Engine, username: str) -> Actor:
    with db.connect() as conn:
        row = conn.execute(sa.select(USER.c.username, USER.c.role, USER.c.institution_code).where(
            USER.c.username == username, USER.c.active.is_(True))).first()
    if row is None:
        raise UserNotFound(username)
    return Actor(row.username, row.role, row.institution_code)


def case_view(db: sa.Engine, rt: Runtime, reference: str, actor: Actor,
              channel: str = "cli") -> dict[str, Any]:
    """Everything ``case show`` prints.  Child identity is not part of it."""
    now = rt.clock.now()
    with db.begin() as conn:
        case = load_case_row(conn, reference)
        log_access(conn, case["id"], actor.username, "read", channel, now)
        wf = rt.registry.get(case["case_type"], case["definition_version"])
        task = conn.execute(sa.select(TASK).where(
            TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None))).mappings().first()
        events = conn.execute(sa.select(EVENT).where(EVENT.c.case_id == case["id"])
                              .order_by(EVENT.c.seq)).mappings().all()
        mail = conn.execute(sa.select(OUTBOX.c.event_id, OUTBOX.c.template, OUTBOX.c.recipient_role,
                                      OUTBOX.c.recipient_institution, OUTBOX.c.status)
                            .where(OUTBOX.c.case_id == case["id"])).mappings().all()

    chain = chain_problems(events, case["event_seq"], case["last_event_hash"])
    state = wf.state(case["state"])
    assignee = task["assignee_institution"] if task else None
    due = task["due_at"] if task else None
    return {
        "reference": case["reference"], "case_type": case["case_type"],
        "definition_version": case["definition_version"], "title": wf.title.lv,
        "state": case["state"], "state_title": state.title.lv, "status": case["status"],
        "outcome": case["outcome"], "version": case["version"], "risk_level": case["risk_level"],
        "owner": assignee, "school": case["school_institution"],
        "due_at": due, "working_days_left": rt.calendar.working_days_left(now, due) if due else None,
        "overdue": bool(due and now > due),
        "allowed_triggers": allowed_triggers(rt, wf, case["state"], actor, assignee),
        "data": case["data"], "chain_ok": not chain,
        "timeline": [{
            "seq": e["seq"], "at": e["at"], "actor": e["actor"], "kind": e["kind"],
            "trigger": e["trigger"], "from": e["from_state"], "to": e["to_state"],
            "fields": e["payload"],
            "notifications": [dict(m) for m in mail if m["event_id"] == e["id"]],
        } for e in events],
    }


def list_cases(db: sa.Engine, rt: Runtime, *, case_type: str | None = None,
               state: str | None = None, overdue: bool = False,
               include_closed: bool = False, limit: int = 500) -> list[dict[str, Any]]:
    now = rt.clock.now()
    if case_type is not None and state is not None:
        rt.registry.latest(case_type).state(state)  # an unknown state is an error naming it
    elif state is not None and not any(state in wf.states for wf in rt.registry.versions.values()):
        raise UnknownState("any case type", state, [])
    query = (sa.select(CASE.c.reference, CASE.c.case_type, CASE.c.state, CASE.c.status,
                       CASE.c.owner_institution, CASE.c.version, TASK.c.due_at)
             .select_from(CASE.outerjoin(TASK, sa.and_(TASK.c.case_id == CASE.c.id,
                                                       TASK.c.closed_at.is_(None))))
             .order_by(CASE.c.id).limit(limit))
    if case_type:
        query = query.where(CASE.c.case_type == case_type)
    if state:
        query = query.where(CASE.c.state == state)
    if not include_closed:
        query = query.where(CASE.c.status != "closed")
    if overdue:
        query = query.where(TASK.c.due_at < now)
    with db.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [{**r, "working_days_left": rt.calendar.working_days_left(now, r["due_at"])
             if r["due_at"] else None} for r in rows]
