"""The one write path: ``open_case`` and ``fire``.

Every change to a case goes through ``fire`` (or ``open_case`` for its first
event).  In one transaction it checks the trigger, the actor's role, the
fields and the guards, then writes the new state (with an optimistic version
check), a hash-chained event, closes the open task, opens the next one with
its assignee and working-day deadline, and queues the declared notifications
in the outbox.  Any failure rolls everything back.

The hot path uses SQLAlchemy Core statements on the SQLModel tables
(DESIGN.md §4: the ORM unit of work costs ~5x per transition).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.audit import EVENT, event_hash
from engine.definitions import RISK_LEVELS, Notification, Transition, Workflow
from engine.errors import (
    CaseNotFound, FieldError, GuardFailed, NotFound, PermissionDenied, StaleCase,
    TransitionNotAllowed, UnknownTrigger,
)
from engine.fields import coerce_fields
from engine.guards import GUARDS, GuardContext
from engine.personal_code import PersonalCode, parse_personal_code
from engine.runtime import Actor, Runtime
from engine.tables import Case, Child, Institution, Outbox, ReferenceCounter, Task

CASE = Case.__table__
TASK = Task.__table__
OUTBOX = Outbox.__table__
CHILD = Child.__table__
COUNTER = ReferenceCounter.__table__
INSTITUTION = Institution.__table__

#: ``task.kind`` of the task a state gives its owner (one open per case); the
#: cooperation group's decisions add tasks of kind ``decision`` beside it.
STATE_TASK = "state"
DECISION_TASK = "decision"

# The hot path's statements, built once: SQLAlchemy spends most of a transition
# building and cache-keying statements when they are made per call (bench/).
_SELECT_CASE = sa.select(CASE).where(CASE.c.reference == sa.bindparam("b_reference"))
_UPDATE_CASE = sa.update(CASE).where(CASE.c.id == sa.bindparam("b_id"),
                                     CASE.c.version == sa.bindparam("b_version"))
_INSERT_EVENT = sa.insert(EVENT).returning(EVENT.c.id)
_CLOSE_TASK = sa.update(TASK).where(TASK.c.case_id == sa.bindparam("b_case_id"),
                                    TASK.c.closed_at.is_(None), TASK.c.kind == STATE_TASK)
#: Outbox payload ``{"to": TO_HEAD}``: the email goes to the institution's head.
TO_HEAD = "head"

#: The municipality parameter for states that declare no ``acknowledge_within``.
DEFAULT_ACKNOWLEDGE_PARAM = "tasks.acknowledge_days"

_INSERT_TASK = sa.insert(TASK).returning(TASK.c.id)
_INSERT_OUTBOX = sa.insert(OUTBOX)
_UPDATE_CASE_EVENT = sa.update(CASE).where(CASE.c.id == sa.bindparam("b_id"),
                                           CASE.c.version == sa.bindparam("b_version"))



@dataclass(frozen=True)
class TaskInfo:
    state: str
    assignee: str | None
    due_at: datetime | None
    id: int | None = None


@dataclass(frozen=True)
class FireResult:
    reference: str
    trigger: str | None
    from_state: str | None
    to_state: str
    version: int
    task: TaskInfo | None
    outcome: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


def open_case(
    db: sa.Engine, rt: Runtime, case_type: str, actor: Actor, *,
    child_name: str, child_code: str, school: str | None = None,
    fields: Mapping[str, Any] | None = None, risk_level: str = "medium",
) -> FireResult:
    wf = rt.registry.latest(case_type)
    if actor.role not in wf.open.roles:
        raise PermissionDenied(
            f"role {actor.role!r} may not open {case_type} cases; permitted: {', '.join(wf.open.roles)}")
    roles = rt.registry.roles
    if roles.own_tasks_only(actor.role) and school != actor.institution:
        raise PermissionDenied("institution staff may open cases only for their own institution "
                               f"(use --school {actor.institution})")
    if risk_level not in RISK_LEVELS:
        raise FieldError("risk_level", f"expected one of {', '.join(RISK_LEVELS)}, got {risk_level!r}")
    if not any(ch.isalpha() for ch in child_name):
        raise FieldError("child_name", "required (a name with letters)")
    code = parse_personal_code(child_code)
    data = coerce_fields(wf.open.fields, fields or {})
    now = rt.clock.now()
    with db.begin() as conn:
        if school is not None:
            _require_school(conn, school, roles.per_case)
        elif any(s.owner in roles.per_case for s in wf.states.values()):
            raise FieldError("school", f"{case_type} cases need a school (--school CODE)")
        child_id, kept_name = _child_id(conn, rt, " ".join(child_name.split()), code)
        reference = _next_reference(conn, wf.reference_prefix, rt.calendar.local_date(now).year)
        case_id = conn.execute(sa.insert(CASE).values(
            reference=reference, case_type=wf.case_type, definition_version=wf.version,
            state=wf.initial, status="open", school_institution=school, child_id=child_id,
            risk_level=risk_level, data=data, version=0, event_seq=0, last_event_hash="",
            owner_institution=None, opened_at=now, updated_at=now,
        ).returning(CASE.c.id)).scalar_one()
        case = {"id": case_id, "reference": reference, "school_institution": school,
                "version": 0, "event_seq": 0, "last_event_hash": "", "data": data}
        task = _advance(conn, rt, wf, case, actor, now, kind="opened", trigger=None,
                        from_state=None, to_state=wf.initial, payload=data, notify=wf.open.notify)
        # A repeated case for the same child goes to the cooperation group (configured
        # windows); engine.group imports this module, hence the late import.
        from engine.group import queue_if_repeated
        repeated = queue_if_repeated(conn, rt, {
            "id": case_id, "reference": reference, "case_type": wf.case_type,
            "child_id": child_id, "risk_level": risk_level}, now)
        version = 1 if repeated is None else 2
    warnings = code.warnings + (
        ("a child with this personal code is already registered under another name; "
         "the registered name was kept",) if kept_name else ())
    return FireResult(reference, None, None, wf.initial, version, task, warnings=warnings)


def fire(
    db: sa.Engine, rt: Runtime, reference: str, trigger: str, actor: Actor,
    fields: Mapping[str, Any] | None = None, *, expected_version: int | None = None,
) -> FireResult:
    with db.begin() as conn:
        return fire_in(conn, rt, reference, trigger, actor, fields,
                       expected_version=expected_version)


def fire_in(
    conn: sa.Connection, rt: Runtime, reference: str, trigger: str, actor: Actor,
    fields: Mapping[str, Any] | None = None, *, expected_version: int | None = None,
    note: str | None = None,
) -> FireResult:
    """``fire`` inside the caller's transaction (``engine.tasks`` completes a task
    this way, with the assignee's ``note`` kept in the event)."""
    now = rt.clock.now()
    case = load_case_row(conn, reference)
    if expected_version is not None and expected_version != case["version"]:
        raise StaleCase(reference, expected_version, case["version"])
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    transition = check_transition(rt, wf, case, trigger, actor)
    given = coerce_fields(transition.fields, fields or {})
    data = {**case["data"], **given}
    _check_guards(rt, transition, data, given)
    dest = rt.registry.machine(wf).next_state(case["state"], trigger)
    assert dest == transition.dest, "machine and declaration disagree"
    payload = given if note is None else {**given, "note": note}
    task = _advance(conn, rt, wf, {**case, "data": data}, actor, now, kind="transition",
                    trigger=trigger, from_state=case["state"], to_state=dest,
                    payload=payload, notify=transition.notify)
    version = case["version"] + 1
    if transition.escalate is not None:   # e.g. an MK 474 p. 12 report: to the group at once
        from engine.group import queue_declared   # engine.group imports this module
        queue_declared(conn, rt, reference, transition.escalate, actor, now)
        version += 1   # the "queued" event
    state = wf.state(dest)
    return FireResult(reference, trigger, case["state"], dest, version, task,
                      outcome=state.outcome if state.terminal else None)


def load_case_row(conn: sa.Connection, reference: str) -> dict[str, Any]:
    row = conn.execute(_SELECT_CASE, {"b_reference": reference}).mappings().first()
    if row is None:
        raise CaseNotFound(reference)
    return dict(row)


def allowed_triggers(rt: Runtime, wf: Workflow, state: str, actor: Actor,
                     assignee: str | None) -> list[str]:
    """The triggers this actor may fire now (guards and fields not yet checked)."""
    if rt.registry.roles.own_tasks_only(actor.role) and actor.institution != assignee:
        return []
    return [t.trigger for t in wf.transitions_from(state) if actor.role in t.roles]


def check_transition(rt: Runtime, wf: Workflow, case: Mapping[str, Any], trigger: str,
                     actor: Actor) -> Transition:
    state = case["state"]
    valid = [t.trigger for t in wf.transitions_from(state)]
    if trigger not in wf.triggers:
        raise UnknownTrigger(wf.case_type, trigger, valid)
    transition = wf.transition(state, trigger)
    if transition is None:
        raise TransitionNotAllowed(case["reference"], trigger, state, valid)
    if actor.role not in transition.roles:
        raise PermissionDenied(f"role {actor.role!r} may not fire {trigger!r}; "
                               f"permitted roles: {', '.join(transition.roles)}")
    if rt.registry.roles.own_tasks_only(actor.role):
        assignee = case["owner_institution"]   # always the open task's assignee (_advance)
        if actor.institution != assignee:
            raise PermissionDenied(f"{trigger!r} belongs to the institution holding the task "
                                   f"({assignee}), not to {actor.institution}")
    return transition


def _check_guards(rt: Runtime, transition: Transition, data: Mapping[str, Any],
                  given: Mapping[str, Any]) -> None:
    ctx = GuardContext(data=data, fields=given, param=rt.param)
    for name in transition.guards:
        reason = GUARDS[name](ctx)
        if reason is not None:
            raise GuardFailed(name, reason)


def _advance(conn: sa.Connection, rt: Runtime, wf: Workflow, case: Mapping[str, Any],
             actor: Actor, now: datetime, *, kind: str, trigger: str | None,
             from_state: str | None, to_state: str, payload: Mapping[str, Any],
             notify: Sequence[Notification]) -> TaskInfo | None:
    """Apply one step: state + version, chained event, task hand-over, outbox rows."""
    dest = wf.state(to_state)
    assignee = None if dest.terminal else resolve_role(rt, dest.owner or "", case)
    event = next_event(case, actor, now, kind=kind, trigger=trigger, from_state=from_state,
                       to_state=to_state, definition_version=wf.version, payload=payload)
    seq, digest = event["seq"], event["hash"]
    closed = dest.terminal
    updated = conn.execute(_UPDATE_CASE, {
        "b_id": case["id"], "b_version": case["version"],
        "state": to_state, "version": case["version"] + 1, "event_seq": seq,
        "last_event_hash": digest, "owner_institution": assignee, "updated_at": now,
        "data": dict(case["data"]), "status": "closed" if closed else "open",
        "outcome": dest.outcome if closed else None, "closed_at": now if closed else None,
    })
    if updated.rowcount != 1:
        actual = conn.execute(sa.select(CASE.c.version).where(CASE.c.id == case["id"])).scalar()
        raise StaleCase(case["reference"], case["version"], actual)
    event_id = conn.execute(_INSERT_EVENT, event).scalar_one()
    conn.execute(_CLOSE_TASK, {"b_case_id": case["id"], "closed_at": now, "status": "done",
                               "closed_by_event": event_id})
    task = None
    if not closed:
        due, remind = deadline_for(rt, wf, to_state, now)
        ack_due = acknowledge_due(rt, wf, to_state, now)
        task_id = conn.execute(_INSERT_TASK, {
            "case_id": case["id"], "kind": STATE_TASK, "state": to_state,
            "assignee_institution": assignee, "opened_at": now, "due_at": due,
            "remind_at": remind, "status": "open", "ack_due_at": ack_due,
            "next_check_at": min(t for t in (remind, due, ack_due) if t is not None),
            "opened_by_event": event_id, "closed_at": None, "closed_by_event": None}).scalar_one()
        task = TaskInfo(to_state, assignee, due, task_id)
    if notify:
        queue_mail(conn, case, event_id, now, [
            (n.template, n.to, resolve_role(rt, n.to, case)) for n in notify], task)
    return task


def queue_mail(conn: sa.Connection, case: Mapping[str, Any], event_id: int, now: datetime,
               recipients: Sequence[tuple[str, str, str | None]], task: TaskInfo | None,
               extra: Mapping[str, Any] | None = None, **payload: Any) -> None:
    """Outbox rows for (template, recipient role, institution); the email to the
    institution holding the open task carries that task's action links."""
    conn.execute(_INSERT_OUTBOX, [outbox_row(
        now, template, case=case, event_id=event_id, role=role, institution=institution,
        task_id=task.id if task and institution == task.assignee else None, extra=extra,
        **payload) for template, role, institution in recipients])


def tell_coordinating(conn: sa.Connection, rt: Runtime, now: datetime, template: str, *,
                      case: Mapping[str, Any] | None = None, event_id: int | None = None,
                      extra: Mapping[str, Any] | None = None, **payload: Any) -> None:
    """Queue ``template`` to the coordinating institution (``coordinates: true``)."""
    role = rt.registry.roles.coordinating
    institution = (resolve_role(rt, role, case) if case is not None
                   else rt.municipality.institution_for_role(role).code)
    conn.execute(_INSERT_OUTBOX, outbox_row(now, template, case=case, event_id=event_id,
                                            role=role, institution=institution, extra=extra,
                                            **payload))


def outbox_row(now: datetime, template: str, *, case: Mapping[str, Any] | None = None,
               event_id: int | None = None, task_id: int | None = None, role: str | None = None,
               institution: str | None = None, user: str | None = None,
               extra: Mapping[str, Any] | None = None, to: str | None = None,
               task_ref: int | None = None) -> dict[str, Any]:
    """A new, queued outbox row.  ``extra`` is handed to the template as is
    (references, codes and counts, never personal data).  ``to="head"`` addresses
    the institution's head; ``task_ref`` names a task the email is about without
    giving the recipient its action links."""
    payload: dict[str, Any] = {"reference": case["reference"]} if case is not None else {}
    if extra:
        payload["extra"] = dict(extra)
    if to is not None:
        payload["to"] = to
    if task_ref is not None:
        payload["task"] = task_ref
    return {
        "case_id": case["id"] if case is not None else None, "event_id": event_id,
        "task_id": task_id, "template": template, "recipient_role": role,
        "recipient_institution": institution, "recipient_user": user, "status": "queued",
        "created_at": now, "queued_at": now, "next_attempt_at": now, "attempts": 0,
        "claim_token": None, "last_error": None, "sent_at": None, "sent_to": None,
        "payload": payload,
    }


def append_event(conn: sa.Connection, wf: Workflow, case: Mapping[str, Any], actor: Actor,
                 now: datetime, *, kind: str, payload: Mapping[str, Any]) -> int:
    """Record something that happened on a case without changing its state (an
    institution's answer, a failed email).  Bumps the case's version, so a
    concurrent change is refused as stale rather than interleaved."""
    event = next_event(case, actor, now, kind=kind, trigger=None, from_state=case["state"],
                       to_state=case["state"], definition_version=wf.version, payload=payload)
    updated = conn.execute(_UPDATE_CASE_EVENT, {
        "b_id": case["id"], "b_version": case["version"], "version": case["version"] + 1,
        "event_seq": event["seq"], "last_event_hash": event["hash"], "updated_at": now})
    if updated.rowcount != 1:
        actual = conn.execute(sa.select(CASE.c.version).where(CASE.c.id == case["id"])).scalar()
        raise StaleCase(case["reference"], case["version"], actual)
    return int(conn.execute(_INSERT_EVENT, event).scalar_one())


def next_event(case: Mapping[str, Any], actor: Actor, now: datetime, *, kind: str,
               trigger: str | None, from_state: str | None, to_state: str,
               definition_version: int, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The case's next ``case_event`` row, chained to its last one."""
    event = {"case_id": case["id"], "seq": case["event_seq"] + 1, "at": now,
             "actor": actor.username, "actor_role": actor.role,
             "actor_institution": actor.institution, "kind": kind, "trigger": trigger,
             "from_state": from_state, "to_state": to_state,
             "definition_version": definition_version, "payload": dict(payload),
             "prev_hash": case["last_event_hash"]}
    event["hash"] = event_hash(case["last_event_hash"], event)
    return event


def resolve_role(rt: Runtime, role: str, case: Mapping[str, Any]) -> str | None:
    """The institution code playing ``role`` for this case."""
    if role in rt.registry.roles.per_case:
        return case["school_institution"]
    return rt.municipality.institution_for_role(role).code


def deadline_for(rt: Runtime, wf: Workflow, state: str, start: datetime
                 ) -> tuple[datetime | None, datetime | None]:
    """(due_at, remind_at) for a task entering ``state`` at ``start``."""
    spec = wf.state(state)
    if spec.deadline is None:
        return None, None
    if spec.deadline.same_day:
        days = 0
    elif spec.deadline.param is not None:
        days = int(rt.param(spec.deadline.param))  # type: ignore[call-overload]
    else:
        days = spec.deadline.working_days or 0
    due = rt.calendar.due_at(start, days)
    remind = None
    if spec.remind_before and days > spec.remind_before:
        remind = rt.calendar.due_at(start, days - spec.remind_before)
    return due, remind


def acknowledge_due(rt: Runtime, wf: Workflow, state: str, start: datetime) -> datetime:
    """When the assignee must have confirmed receipt of a task entering ``state``."""
    within = wf.state(state).acknowledge_within
    if within is None:
        within = DEFAULT_ACKNOWLEDGE_PARAM
    days = int(rt.param(within)) if isinstance(within, str) else within  # type: ignore[call-overload]
    return rt.calendar.due_at(start, days)


def _child_id(conn: sa.Connection, rt: Runtime, name: str, code: PersonalCode) -> tuple[int, bool]:
    """The child with this personal code (found by keyed hash), created if new, and
    whether an existing child's different name was kept.

    One row per child links repeated cases (a second substance case, a reopened
    absence case) to the same child.
    """
    digest = code_lookup_hash(rt.code_key, code.digits())
    conn.execute(_upsert(conn)(CHILD).values(
        name=name, personal_code=code.code, code_format=code.format, birth_date=code.birth_date,
        code_hash=digest).on_conflict_do_nothing(index_elements=[CHILD.c.code_hash]))
    row = conn.execute(sa.select(CHILD.c.id, CHILD.c.name).where(CHILD.c.code_hash == digest)).one()
    return int(row.id), row.name != name


def code_lookup_hash(key: bytes, digits: str) -> str:
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()


def _require_school(conn: sa.Connection, code: str, per_case: frozenset[str]) -> None:
    roles = conn.execute(sa.select(INSTITUTION.c.roles).where(INSTITUTION.c.code == code)).scalar()
    if roles is None:
        raise NotFound(f"no institution {code!r}")
    if not per_case & set(roles):
        raise FieldError("school", f"institution {code!r} is not a school")


def _upsert(conn: sa.Connection) -> Any:
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL both have it)."""
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def _next_reference(conn: sa.Connection, prefix: str, year: int) -> str:
    """Atomic even when two openings of the first case of a year race."""
    stmt = _upsert(conn)(COUNTER).values(prefix=prefix, year=year, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=[COUNTER.c.prefix, COUNTER.c.year],
                                      set_={"last": COUNTER.c.last + 1})
    number = conn.execute(stmt.returning(COUNTER.c.last)).scalar_one()
    return f"{prefix}-{year}-{number:05d}"
