"""The access policy: one function decides every read and write.

``decide(registry, subject, action, case)`` answers whether a user (the
``Subject``: user role, institution, and that institution's roles) may take
an ``Action``, on one case (``CaseScope``) or in general.  Every engine
operation that changes or reveals a case asks it (``require``,
``require_on_case``, ``may_fire``) for every caller: the web pages, the REST
API, the email links, the CLI and the scheduler.  The edges ask the same
function only to know what to offer (which buttons, which menu entries).
Its inputs are the role declarations in ``workflows/roles.yaml``, never role
names in code:

- a user role's ``scope`` says which cases it reaches: ``all``, ``own_tasks``
  (cases where the user's institution holds or held a task, or is the case's school),
  ``escalated``
  (cases ever queued for the cooperation group) or ``none``;
- ``read_only`` roles only read; ``administers`` roles run the installation;
  ``group_work`` roles refer cases to the cooperation group and read its queue;
  ``chairs`` roles plan its meetings and record its decisions;
- a case is moved to another school (``engine.transfer``) by the coordinating
  institution or by the staff of the institution holding its task;
- another child is recorded on a case (``engine.parties``: the aggressor) by those
  who may advance it; another municipality's receiving address is given by the
  coordinating institution;
- a task is answered only by the institution holding it; a case is advanced
  only by the roles its transition names (``may_fire``), staff only on the
  task their institution holds; clock pauses, extensions and openings are the
  coordinating institution's (staff open cases for their own school only);
- an institution role's ``case_types`` limits which case types its staff see;
- ``sees`` on both the user role and the institution's roles gives the field
  groups (identity, case data, notes, support plan, access log) a user sees;
  the access log across cases (``AUDIT``) is read by a role that reaches every
  case and sees the access log (the auditor).

Two subjects are no user role: ``SYSTEM`` (Gaita itself: it refers stalled and
repeated cases to the cooperation group, nothing else) and an ``operator`` (a
person at the installation's command line with no ``--as``: reads cases and
the group's work without the child's identity, changes nothing).

``visible_cases`` is the same rule as a SQL condition, for lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from engine.definitions import Report, Transition, Workflow
from engine.errors import AccessDenied, Message, Named, msg
from engine.registry import OPERATOR_ROLE, SYSTEM_ROLE, Roles, WorkflowRegistry
from engine.runtime import Actor, Runtime
from engine.store import CASE, ESCALATION, TASK, Row, load_case_row, require_version

#: Field groups the code itself needs to name (the rest are only declared).
IDENTITY, CASE_DATA, ACCESS_LOG = "identity", "case_data", "access_log"


class Action(StrEnum):
    READ_CASES = "read_cases"          # dashboard, case list, case page
    EXPORT = "export"                  # CSV/XLSX of the case list
    OPEN_CASE = "open_case"
    ADVANCE = "advance"                # fire a transition (the declaration says which)
    ANSWER_TASK = "answer_task"        # acknowledge, accept, decline, done, more time
    DECIDE_EXTENSION = "decide_extension"
    ADD_NOTE = "add_note"
    PAUSE = "pause"                    # pause or resume the case's clock
    ESCALATE = "escalate"              # refer to the cooperation group by hand
    READ_GROUP = "read_group"          # escalation queue, meetings, agendas
    PLAN_MEETING = "plan_meeting"
    DECIDE = "decide"                  # record the group's decisions
    READ_ACCESS_LOG = "read_access_log"
    AUDIT = "audit"                    # the access log across cases (the audit page)
    ADMINISTER = "administer"          # users, institutions, calendar, settings
    TRANSFER_SCHOOL = "transfer_school"  # ask a new school to take the case over
    ADD_PARTY = "add_party"            # record another child on the case (the aggressor)
    GIVE_ADDRESS = "give_address"      # another municipality's receiving address (MK 474 p. 12)


#: What a read-only role may do.
READS = frozenset({Action.READ_CASES, Action.EXPORT, Action.READ_GROUP, Action.READ_ACCESS_LOG,
                   Action.AUDIT})
#: Actions that concern one case (and need a ``CaseScope`` to be allowed on it).
CASE_ACTIONS = frozenset({Action.ADVANCE, Action.ANSWER_TASK, Action.ADD_NOTE, Action.PAUSE,
                          Action.ESCALATE, Action.DECIDE_EXTENSION, Action.READ_ACCESS_LOG,
                          Action.TRANSFER_SCHOOL, Action.ADD_PARTY, Action.GIVE_ADDRESS})
#: What the cooperation group's work is.
GROUP_ACTIONS = frozenset({Action.ESCALATE, Action.PLAN_MEETING, Action.DECIDE})
#: Actions of the coordinating institution's users on any case they reach.
COORDINATION = frozenset({Action.PAUSE, Action.DECIDE_EXTENSION, Action.OPEN_CASE,
                          Action.GIVE_ADDRESS})
#: What Gaita itself does on its own account (``SYSTEM``).
SYSTEM_ACTIONS = frozenset({Action.ESCALATE})
#: What an operator at the command line without ``--as`` may do.
OPERATOR_ACTIONS = frozenset({Action.READ_CASES, Action.READ_GROUP, Action.EXPORT})


@dataclass(frozen=True)
class Subject:
    """Who asks: the actor, and the roles its institution holds in the municipality."""

    actor: Actor
    institution_roles: frozenset[str] = frozenset()

    @property
    def role(self) -> str:
        return self.actor.role

    @property
    def institution(self) -> str | None:
        return self.actor.institution


@dataclass(frozen=True)
class CaseScope:
    """What the policy needs to know of one case."""

    case_type: str
    involved: frozenset[str] = frozenset()   # institutions that hold or held a task
    holder: str | None = None                # the institution holding the open task
    escalated: bool = False                  # ever queued for the cooperation group


@dataclass(frozen=True)
class Decision:
    """The policy's answer; when it refuses, its ``reason`` (a message by code) and what
    was refused (``role``, ``action``), for ``AccessDenied``."""

    allowed: bool
    reason: Message | None = None
    role: Named | None = None
    action: Action | None = None

    def __bool__(self) -> bool:
        return self.allowed

    def or_raise(self, reference: str | None = None) -> None:
        """``AccessDenied`` with the policy's reason, unless allowed."""
        if not self.allowed:
            assert self.reason and self.role and self.action, "a refusal says why"
            raise AccessDenied(self.role, msg(f"access.action.{self.action.value}"), reference,
                               self.reason)


ALLOW = Decision(True)


def decide(registry: WorkflowRegistry, subject: Subject, action: Action,
           case: CaseScope | None = None, *, case_type: str | None = None,
           school: str | None = None) -> Decision:
    """May ``subject`` take ``action`` (on ``case``, or on a new case of ``case_type``
    for ``school``)?"""
    reason = _refusal(registry, subject, action, case, case_type, school)
    if reason is None:
        return ALLOW
    return Decision(False, reason, user_role(registry.roles, subject.role), action)


def _refusal(registry: WorkflowRegistry, subject: Subject, action: Action,
             case: CaseScope | None, case_type: str | None, school: str | None
             ) -> Message | None:
    """Why ``decide`` refuses, or None."""
    roles = registry.roles
    role = user_role(roles, subject.role)
    if subject.role in (SYSTEM_ROLE, OPERATOR_ROLE):
        allowed = SYSTEM_ACTIONS if subject.role == SYSTEM_ROLE else OPERATOR_ACTIONS
        return None if action in allowed else msg(f"policy.not_for_{subject.role}")
    spec = roles.user_roles.get(subject.role)
    if spec is None:
        return msg("policy.unknown_role", role=role)
    if action is Action.ADMINISTER:
        return None if spec.administers else msg("policy.administrators_only")
    if spec.read_only and action not in READS:
        return msg("policy.read_only", role=role)
    if action is Action.READ_ACCESS_LOG and ACCESS_LOG not in visible_groups(roles, subject):
        return msg("policy.no_access_log")
    if action is Action.AUDIT:   # the whole log: who sees the access log of every case
        return None if spec.scope == "all" and ACCESS_LOG in visible_groups(roles, subject) \
            else msg("policy.auditors_only")
    if spec.scope == "none":
        return msg("policy.no_cases", role=role)
    if action is Action.READ_GROUP:
        return None if spec.group_work or spec.chairs or spec.read_only else msg(
            "policy.group_roles_only")
    if action in (Action.PLAN_MEETING, Action.DECIDE):
        return None if spec.chairs else msg("policy.chair_only")
    if action is Action.ESCALATE and not spec.group_work:
        return msg("policy.group_roles_refer")
    coordinating = roles.coordinating in subject.institution_roles
    if action in COORDINATION and not coordinating and not (
            action is Action.OPEN_CASE and _may_open(registry, subject, case_type)):
        return msg("policy.coordinating_only")
    if action is Action.OPEN_CASE:
        ct = case_type or (case.case_type if case else None)
        if ct is not None and not _may_open(registry, subject, ct):
            return msg("policy.may_not_open", role=role, case_type=_case_type(registry, ct))
        if school is not None and spec.scope == "own_tasks" and school != subject.institution:
            return msg("policy.own_school_only", institution=subject.institution)
        return None
    if case is None:
        return None   # in general; each case is decided on its own
    reach = reaches(roles, subject, case)
    if not reach:
        return reach.reason
    if action is Action.ANSWER_TASK and case.holder != subject.institution:
        return msg("policy.holder_only", holder=case.holder, institution=subject.institution)
    if action is Action.TRANSFER_SCHOOL and not coordinating and (
            spec.scope != "own_tasks" or case.holder != subject.institution):
        return msg("policy.transfer_holder_or_coordinating", holder=case.holder,
                   institution=subject.institution)
    if action in (Action.ADVANCE, Action.ADD_PARTY):
        wf = registry.current.get(case.case_type)
        if wf is not None and subject.role not in wf.acting_roles:
            return msg("policy.no_step", role=role, case_type=_case_type(registry, case.case_type))
        if spec.scope == "own_tasks" and case.holder != subject.institution:
            return msg("policy.holder_only", holder=case.holder, institution=subject.institution)
    return None


def user_role(roles: Roles, name: str) -> Named:
    """A user role as messages name it (its declared title, if it has one)."""
    return Named(name, roles.user_roles.get(name))


def _case_type(registry: WorkflowRegistry, case_type: str) -> Named:
    wf = registry.current.get(case_type)
    return Named(case_type, wf.title if wf is not None else None)


def reaches(roles: Roles, subject: Subject, case: CaseScope) -> Decision:
    """Whether the subject reaches this case at all (before the action is considered)."""
    if subject.role == OPERATOR_ROLE:
        return ALLOW
    spec = roles.user_roles[subject.role]
    types = _case_types(roles, subject)
    if types is not None and case.case_type not in types:
        why = msg("policy.other_case_types", institution=subject.institution,
                  case_type=case.case_type)
    elif spec.scope == "all":
        return ALLOW
    elif spec.scope == "own_tasks":
        if subject.institution is not None and subject.institution in case.involved:
            return ALLOW
        why = msg("policy.not_involved")
    elif spec.scope == "escalated":
        if case.escalated:
            return ALLOW
        why = msg("policy.never_escalated")
    else:
        why = msg("policy.no_cases", role=user_role(roles, subject.role))
    return Decision(False, why, user_role(roles, subject.role), Action.READ_CASES)


def _case_types(roles: Roles, subject: Subject) -> frozenset[str] | None:
    """The case types the subject's institution works on (None: every type)."""
    limits = [roles.institution_roles[r].case_types for r in subject.institution_roles
              if r in roles.institution_roles]
    if not limits or any(types is None for types in limits):
        return None
    return frozenset(t for types in limits if types is not None for t in types)


def visible_groups(roles: Roles, subject: Subject) -> frozenset[str]:
    """The field groups a subject sees: its user role's ∩ its institution's roles'
    (an operator: every group but the child's identity and the access log)."""
    if subject.role == OPERATOR_ROLE:
        return frozenset(roles.field_groups) - {IDENTITY, ACCESS_LOG}
    spec = roles.user_roles.get(subject.role)
    if spec is None or spec.scope == "none":
        return frozenset()
    seen = roles.sees(spec)
    institution = [roles.institution_roles[r] for r in subject.institution_roles
                   if r in roles.institution_roles]
    if institution:   # any of the institution's roles may grant a group
        seen &= frozenset().union(*(roles.sees(s) for s in institution))
    return seen


def _may_open(registry: WorkflowRegistry, subject: Subject, case_type: str | None) -> bool:
    """The declaration lets the role open such a case; staff acting on their own tasks
    open cases only for an institution of the per-case role (their school)."""
    roles = registry.roles
    if (roles.user_roles[subject.role].scope == "own_tasks"
            and not subject.institution_roles & roles.per_case):
        return False
    types = [case_type] if case_type else registry.case_types
    return any(t in registry.current and subject.role in registry.current[t].open.roles
               for t in types)


def openable_types(registry: WorkflowRegistry, subject: Subject) -> list[str]:
    return [t for t in registry.case_types
            if decide(registry, subject, Action.OPEN_CASE, case_type=t)]


def field_groups_of(wf: Workflow) -> dict[str, str]:
    """Every declared field of a workflow and the field group that sees it."""
    groups = {name: spec.group for name, spec in wf.open.fields.items()}
    for t in wf.transitions:
        groups.update({name: spec.group for name, spec in t.fields.items()})
    return groups


# --- the same rule for lists -----------------------------------------------------------


def visible_cases(roles: Roles, subject: Subject) -> sa.ColumnElement[bool]:
    """A SQL condition on ``case`` selecting exactly the cases ``reaches`` allows."""
    if subject.role == OPERATOR_ROLE:
        return sa.true()
    spec = roles.user_roles.get(subject.role)
    if spec is None or spec.scope == "none":
        return sa.false()
    conditions: list[sa.ColumnElement[bool]] = []
    types = _case_types(roles, subject)
    if types is not None:
        conditions.append(CASE.c.case_type.in_(sorted(types)))
    if spec.scope == "own_tasks":   # as case_scope's `involved`
        conditions.append(sa.or_(
            CASE.c.school_institution == subject.institution,
            sa.exists().where(TASK.c.case_id == CASE.c.id,
                              TASK.c.assignee_institution == subject.institution)))
    elif spec.scope == "escalated":
        conditions.append(sa.exists().where(ESCALATION.c.case_id == CASE.c.id))
    return sa.and_(sa.true(), *conditions)


def task_scope(conn: sa.Connection, task: Row) -> CaseScope:
    """The policy's view of a task's case (``case_id``, ``case_type``), held by the
    task's institution (``assignee_institution``): a decision task of the cooperation
    group is answered by its institution, whoever holds the case's state task."""
    return case_scope(conn, {"id": task["case_id"], "case_type": task["case_type"],
                             "owner_institution": task["assignee_institution"]})


def held_scope(case_type: str, holder: str | None) -> CaseScope:
    """The policy's view of a case as the institution holding its task sees it: enough
    to ask which steps that institution's staff may take (the inbox, the action links)."""
    return CaseScope(case_type, frozenset({holder}) if holder else frozenset(), holder)


def stored_case_scope(db: sa.Engine, reference: str) -> CaseScope:
    """The policy's view of a stored case (``CaseNotFound`` if there is none)."""
    with db.connect() as conn:
        return case_scope(conn, load_case_row(conn, reference))


def case_scope(conn: sa.Connection, case: Row) -> CaseScope:
    """The policy's view of one stored case row (``id``, ``case_type``, ``owner_institution``,
    ``school_institution``): the institutions involved are those that hold or held a task
    on it, and the case's school (which may open a case whose first task is another's)."""
    involved = frozenset(conn.execute(sa.select(TASK.c.assignee_institution).distinct().where(
        TASK.c.case_id == case["id"], TASK.c.assignee_institution.is_not(None))).scalars())
    if case.get("school_institution"):
        involved |= {case["school_institution"]}
    escalated = conn.execute(sa.select(sa.exists().where(
        ESCALATION.c.case_id == case["id"]))).scalar()
    return CaseScope(str(case["case_type"]), involved, case.get("owner_institution"),
                     bool(escalated))


def scope_for(conn: sa.Connection, roles: Roles, subject: Subject,
              case: Mapping[str, Any]) -> CaseScope:
    """The policy's view of a case row, holding only what decisions about ``subject``
    read: the tasks' institutions for staff (unless their institution holds the case's
    task), the escalations for the group's members.  The write path's check, in one
    query at most (none for a coordinator)."""
    spec = roles.user_roles.get(subject.role)
    scope = spec.scope if spec is not None else "none"
    holder = case.get("owner_institution")
    if scope == "own_tasks" and holder != subject.institution:
        return case_scope(conn, case)
    involved = frozenset({holder}) if scope == "own_tasks" and holder else frozenset()
    escalated = scope == "escalated" and bool(conn.execute(sa.select(sa.exists().where(
        ESCALATION.c.case_id == case["id"]))).scalar())
    return CaseScope(str(case["case_type"]), involved, holder, escalated)


# --- asked by the engine's operations ---------------------------------------------------


def subject_of(rt: Runtime, actor: Actor) -> Subject:
    """The actor and the roles its institution holds (none when the institution is
    no longer configured)."""
    roles: frozenset[str] = frozenset()
    if actor.institution:
        inst = rt.municipality.institutions_by_code.get(actor.institution)
        roles = frozenset(inst.roles) if inst is not None else frozenset()
    return Subject(actor, roles)


def require(rt: Runtime, actor: Actor, action: Action, case: CaseScope | None = None, *,
            case_type: str | None = None, school: str | None = None,
            reference: str | None = None) -> Subject:
    """The policy's answer as an error (``AccessDenied``, giving its reason); returns
    the subject it decided for."""
    subject = subject_of(rt, actor)
    decide(rt.registry, subject, action, case, case_type=case_type,
           school=school).or_raise(reference)
    return subject


def advanceable(conn: sa.Connection, rt: Runtime, reference: str, actor: Actor,
                expected_version: int | None) -> tuple[Row, Subject, CaseScope]:
    """The case row, the actor as the policy sees it and the case as the policy sees
    it, once the actor may advance the case at all and the case is at the version the
    caller expects (``StaleCase`` otherwise): where every step on a case starts."""
    case = load_case_row(conn, reference)
    subject = subject_of(rt, actor)
    scope = scope_for(conn, rt.registry.roles, subject, case)
    decide(rt.registry, subject, Action.ADVANCE, scope).or_raise(reference)
    require_version(case, expected_version)
    return case, subject, scope


def require_on_case(conn: sa.Connection, rt: Runtime, actor: Actor, action: Action,
                    case: Mapping[str, Any]) -> Subject:
    """``require`` on a stored case row."""
    subject = subject_of(rt, actor)
    decide(rt.registry, subject, action, scope_for(conn, rt.registry.roles, subject, case)
           ).or_raise(case["reference"])
    return subject


def may_fire(registry: WorkflowRegistry, subject: Subject, case: CaseScope,
             transition: Transition) -> Decision:
    """May ``subject`` take this declared step on the case: it may advance the case at
    all, and the transition names its role."""
    return _declared_step(registry, subject, case, transition.roles,
                          Named(transition.trigger, transition.title))


def may_file(registry: WorkflowRegistry, subject: Subject, case: CaseScope,
             report: Report) -> Decision:
    """May ``subject`` file (or waive) this declared report of the case's state."""
    return _declared_step(registry, subject, case, report.roles, Named(report.code, report.title))


def _declared_step(registry: WorkflowRegistry, subject: Subject, case: CaseScope,
                   allowed: list[str], step: Named) -> Decision:
    decision = decide(registry, subject, Action.ADVANCE, case)
    if not decision or subject.role in allowed:
        return decision
    roles, role = registry.roles, user_role(registry.roles, subject.role)
    return Decision(False, msg("policy.transition_role", role=role, trigger=step,
                               roles=tuple(user_role(roles, r) for r in allowed)),
                    role, Action.ADVANCE)


def allowed_triggers(registry: WorkflowRegistry, subject: Subject, wf: Workflow, state: str,
                     case: CaseScope) -> list[str]:
    """The triggers ``subject`` may fire on the case in ``state`` (guards and fields
    not yet checked): what the pages and links offer."""
    return [t.trigger for t in wf.transitions_from(state)
            if may_fire(registry, subject, case, t)]
