"""The one write path: ``open_case`` and ``fire``.

Every change of a case's state goes through ``fire`` (or ``open_case`` for its
first event).  In one transaction it asks the access policy, checks the
trigger against the declaration and the fields, lets the shared machine decide
the destination (the transition's guards are its conditions), then writes
the new state (with an optimistic version check), a hash-chained event,
closes the open task, opens the next one with its assignee and deadline, and
queues the declared notifications in the outbox.  Any failure rolls
everything back.

The statements are built once and issued as SQLAlchemy Core on the SQLModel
tables (DESIGN.md §4: the ORM unit of work costs ~5x per transition).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from engine import policy
from engine.children import child_id, code_lookup_hash
from engine.deadlines import acknowledge_due, deadline_for
from engine.definitions import RISK_LEVELS, Notification, Transition, Workflow
from engine.errors import (
    DuplicateCase,
    FieldError,
    Message,
    Named,
    NotFound,
    StaleCase,
    TransitionNotAllowed,
    UnknownTrigger,
    msg,
)
from engine.events import EventKind, insert_event, next_event
from engine.filings import require_reports
from engine.group.queue import queue_declared, queue_if_repeated, repeated_earlier
from engine.guards import GuardContext, first_failure
from engine.ikvd import coerce_step
from engine.opening import start_of
from engine.outbox import queue_mail
from engine.parties import report_to_residence, residence_route
from engine.personal_code import PersonalCode, parse_personal_code
from engine.runtime import Actor, Runtime
from engine.store import CASE, CHILD, INSTITUTION, next_reference, stored_version
from engine.tables import CaseStatus, TaskKind
from engine.tasks import TaskInfo, cancel_open_tasks, close_state_task, insert_task

#: The warning when a child's personal code is already registered under another name.
NAME_KEPT = msg("child.name_kept")

_INSERT_CASE = sa.insert(CASE).returning(CASE.c.id)
_UPDATE_CASE = sa.update(CASE).where(CASE.c.id == sa.bindparam("b_id"),
                                     CASE.c.version == sa.bindparam("b_version"))
_SET_LATE = sa.update(CASE).where(CASE.c.id == sa.bindparam("b_id"))
_INSTITUTION_ROLES = sa.select(INSTITUTION.c.roles).where(
    INSTITUTION.c.code == sa.bindparam("b_code"))


@dataclass(frozen=True)
class FireResult:
    reference: str
    trigger: str | None
    from_state: str | None
    to_state: str
    version: int
    task: TaskInfo | None
    outcome: str | None = None
    warnings: tuple[Message, ...] = field(default_factory=tuple)
    late_days: int | None = None   # opened after its first deadline had passed
    repeated: str | None = None    # queued for the cooperation group as repeated (after it)


def open_case(
    db: sa.Engine, rt: Runtime, case_type: str, actor: Actor, *,
    child_name: str, child_code: str, school: str | None = None,
    fields: Mapping[str, Any] | None = None, risk_level: str = "medium",
    incident_at: datetime | None = None, start_state: str | None = None,
    warn_duplicate: bool = False,
) -> FireResult:
    """Open a case at the declaration's ``initial`` state, or at one of its
    ``open.start_states`` (``engine.opening``: that state's data and guards).
    ``incident_at``: when what the case is about happened (default: now); the first
    state's deadline counts from it, so a case entered after that deadline opens
    already overdue, marked as reported late.

    ``warn_duplicate``: refuse (``DuplicateCase``, nothing saved) when the child already
    has an open case of the type; the web form, the API and the command line ask for it
    unless the user confirmed opening another.  Either way a case of the type opened
    within the configured window queues the new one for the cooperation group as
    repeated (``FireResult.repeated`` names the earlier case)."""
    wf = rt.registry.latest(case_type)
    policy.require(rt, actor, policy.Action.OPEN_CASE, case_type=case_type, school=school)
    if risk_level not in RISK_LEVELS:
        raise FieldError("risk_level", msg("field.not_choice", value=repr(risk_level),
                                           choices=RISK_LEVELS))
    if not any(ch.isalpha() for ch in child_name):
        raise FieldError("child_name", msg("field.name_required"))
    code = parse_personal_code(child_code)
    start = start_of(wf, start_state)
    data = start.coerce(rt, fields or {})
    per_case = rt.registry.roles.per_case
    now = rt.clock.now()
    incident = _incident(rt, incident_at, now, code.birth_date)
    with db.begin() as conn:
        if school is not None:
            _require_school(conn, school, per_case)
        elif any(s.owner in per_case for s in wf.states.values()):
            raise FieldError("school", msg("field.school_required", case_type=Named(
                case_type, wf.title)))
        if warn_duplicate:
            _refuse_duplicate(conn, rt, wf, code, now)
        child, kept_name = child_id(conn, rt.code_key, " ".join(child_name.split()), code)
        reference = next_reference(conn, wf.reference_prefix, rt.calendar.local_date(now).year)
        case_id = conn.execute(_INSERT_CASE, {
            "reference": reference, "case_type": wf.case_type, "definition_version": wf.version,
            "state": start.state, "status": CaseStatus.OPEN.value, "school_institution": school,
            "child_id": child, "risk_level": risk_level, "data": data, "version": 0,
            "event_seq": 0, "last_event_hash": "", "owner_institution": None, "opened_at": now,
            "updated_at": now, "incident_at": incident, "late_days": None}).scalar_one()
        case = {"id": case_id, "reference": reference, "school_institution": school,
                "version": 0, "event_seq": 0, "last_event_hash": "", "data": data}
        task = _advance(conn, rt, wf, case, actor, now, kind=EventKind.OPENED, trigger=None,
                        from_state=None, to_state=start.state, payload=data, notify=start.notify,
                        start=incident)
        late = _late_days(rt, task, now)
        if late is not None:   # entered after its first deadline: overdue from the start
            conn.execute(_SET_LATE, {"b_id": case_id, "late_days": late})
        repeated = queue_if_repeated(conn, rt, {
            "id": case_id, "reference": reference, "case_type": wf.case_type,
            "child_id": child, "risk_level": risk_level}, now)
        version = 1 if repeated is None else 2
        previous = None
        if repeated is not None:
            found = repeated_earlier(conn, rt, wf.case_type, child, now, exclude=case_id)
            previous = found[0] if found else None
    warnings = code.warnings + ((NAME_KEPT,) if kept_name else ())
    if late is not None:
        warnings += (msg("case.reported_late", days=late),)
    return FireResult(reference, None, None, start.state, version, task, warnings=warnings,
                      late_days=late, repeated=previous)


def open_cases_of_child(conn: sa.Connection, rt: Runtime, case_type: str,
                        code: PersonalCode) -> list[str]:
    """The references of the open cases of this type about the child with this
    personal code (by its keyed hash), newest first."""
    return list(conn.execute(sa.select(CASE.c.reference).join(
        CHILD, CHILD.c.id == CASE.c.child_id).where(
        CHILD.c.code_hash == code_lookup_hash(rt.code_key, code.digits()),
        CASE.c.case_type == case_type, CASE.c.status == CaseStatus.OPEN,
    ).order_by(CASE.c.opened_at.desc(), CASE.c.id.desc())).scalars())


def _refuse_duplicate(conn: sa.Connection, rt: Runtime, wf: Workflow, code: PersonalCode,
                      now: datetime) -> None:
    """``DuplicateCase`` when the child has an open case of the type."""
    found = open_cases_of_child(conn, rt, wf.case_type, code)
    if not found:
        return
    child = conn.execute(sa.select(CHILD.c.id).where(
        CHILD.c.code_hash == code_lookup_hash(rt.code_key, code.digits()))).scalar_one()
    repeated = repeated_earlier(conn, rt, wf.case_type, child, now) is not None
    raise DuplicateCase(Named(wf.case_type, wf.title), found, repeated)


def _incident(rt: Runtime, at: datetime | None, now: datetime, born: date | None) -> datetime:
    """When the incident happened: not in the future, not before the child was born."""
    if at is None:
        return now
    if at.tzinfo is None or at.utcoffset() is None:
        raise FieldError("incident_at", msg("incident.no_timezone", at=at.isoformat()))
    cal = rt.calendar
    if at > now:
        raise FieldError("incident_at", msg("incident.future", at=cal.format_local(at),
                                            now=cal.format_local(now)))
    if born is not None and cal.local_date(at) < born:
        raise FieldError("incident_at", msg("incident.before_birth", at=cal.format_local(at),
                                            born=born.strftime("%d.%m.%Y")))
    return at


def _late_days(rt: Runtime, task: TaskInfo | None, now: datetime) -> int | None:
    """Calendar days between the opening deadline and now, when it has passed."""
    if task is None or task.due_at is None or task.due_at >= now:
        return None
    cal = rt.calendar
    return max(1, (cal.local_date(now) - cal.local_date(task.due_at)).days)


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
    """``fire`` inside the caller's transaction (``engine.answers`` completes a task
    this way, with the assignee's ``note`` kept in the event)."""
    now = rt.clock.now()
    case, subject, scope = policy.advanceable(conn, rt, reference, actor, expected_version)
    wf = rt.registry.get(case["case_type"], case["definition_version"])
    transition = declared_transition(wf, case, trigger)
    policy.may_fire(rt.registry, subject, scope, transition).or_raise(reference)
    require_reports(conn, wf, case, transition)
    given = coerce_step(rt.municipality, transition, fields or {})   # + an IKVD status
    data = {**case["data"], **given}
    ctx = GuardContext(data=data, fields=given, param=rt.param)
    dest = rt.registry.machine(wf).next_state(case["state"], trigger, ctx)
    if dest is None:
        failed = first_failure(transition.guards, ctx)
        assert failed is not None, "the machine refused, so a guard refuses"
        raise failed
    route = residence_route(conn, rt, case, transition)   # MK 474 p. 12: where it goes
    notify = transition.notify if route is None else route.notify(transition.notify)
    payload = given if note is None else {**given, "note": note}
    task = _advance(conn, rt, wf, {**case, "data": data}, actor, now, kind=EventKind.TRANSITION,
                    trigger=trigger, from_state=case["state"], to_state=dest,
                    payload=payload, notify=notify)
    version = case["version"] + 1
    if route is not None and not route.residence.ours:   # to another municipality
        report_to_residence(conn, rt, reference, route, actor, now)
        version += 1   # the report's event
    if transition.escalate is not None:   # e.g. an MK 474 p. 12 report: to the group at once
        queue_declared(conn, rt, reference, transition.escalate, actor, now)
        version += 1   # the "queued" event
    state = wf.state(dest)
    return FireResult(reference, trigger, case["state"], dest, version, task,
                      outcome=state.outcome if state.terminal else None)


def declared_transition(wf: Workflow, case: Mapping[str, Any], trigger: str) -> Transition:
    """The transition ``trigger`` names from the case's state (``UnknownTrigger``,
    ``TransitionNotAllowed`` listing the valid ones)."""
    state = case["state"]
    valid = [Named(t.trigger, t.title) for t in wf.transitions_from(state)]
    if trigger not in wf.triggers:
        raise UnknownTrigger(wf.case_type, trigger, valid)
    transition = wf.transition(state, trigger)
    if transition is None:
        named = next(t for t in wf.transitions if t.trigger == trigger)
        raise TransitionNotAllowed(case["reference"], Named(trigger, named.title),
                                   Named(state, wf.state(state).title), valid)
    return transition


def _advance(conn: sa.Connection, rt: Runtime, wf: Workflow, case: Mapping[str, Any],
             actor: Actor, now: datetime, *, kind: EventKind, trigger: str | None,
             from_state: str | None, to_state: str, payload: Mapping[str, Any],
             notify: Sequence[Notification], start: datetime | None = None) -> TaskInfo | None:
    """Apply one step: state + version, chained event, task hand-over, outbox rows.
    The new task's deadline counts from ``start`` (default ``now``)."""
    dest = wf.state(to_state)
    closed = dest.terminal
    assignee = None if closed else rt.institution_for(dest.owner or "", case)
    event = next_event(case, actor, now, kind=kind, trigger=trigger, from_state=from_state,
                       to_state=to_state, definition_version=wf.version, payload=payload)
    updated = conn.execute(_UPDATE_CASE, {
        "b_id": case["id"], "b_version": case["version"],
        "state": to_state, "version": case["version"] + 1, "event_seq": event["seq"],
        "last_event_hash": event["hash"], "owner_institution": assignee, "updated_at": now,
        "data": dict(case["data"]),
        "status": (CaseStatus.CLOSED if closed else CaseStatus.OPEN).value,
        "outcome": dest.outcome if closed else None, "closed_at": now if closed else None,
    })
    if updated.rowcount != 1:
        raise StaleCase(case["reference"], case["version"], stored_version(conn, case["id"]))
    event_id = insert_event(conn, event)
    close_state_task(conn, case["id"], now, event_id)
    if closed:
        cancel_open_tasks(conn, case["id"], now, event_id)
    task = None
    if not closed:
        due, remind = deadline_for(rt, wf, to_state, start or now, now)
        task_id = insert_task(conn, case_id=case["id"], kind=TaskKind.STATE, state=to_state,
                              assignee=assignee, now=now, due_at=due, remind_at=remind,
                              ack_due_at=acknowledge_due(rt, now, dest.acknowledge_within),
                              event_id=event_id)
        task = TaskInfo(to_state, assignee, due, task_id)
    if notify:
        queue_mail(conn, case, event_id, now, [
            (n.template, n.to, rt.institution_for(n.to, case)) for n in notify], task)
    return task


def _require_school(conn: sa.Connection, code: str, per_case: frozenset[str]) -> None:
    roles = conn.execute(_INSTITUTION_ROLES, {"b_code": code}).scalar()
    if roles is None:
        raise NotFound("institution.not_found", code=code)
    if not per_case & set(roles):
        raise FieldError("school", msg("field.not_a_school", code=code))
