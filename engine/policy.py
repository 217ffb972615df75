"""The access policy: one function decides every read and write.

``decide(registry, subject, action, case)`` answers whether a user (the
``Subject``: user role, institution, and that institution's roles) may take
an ``Action``, on one case (``CaseScope``) or in general.  The web pages, the
REST API and the CLI ask it; nothing else decides access.  Its inputs are the
role declarations in ``workflows/roles.yaml``, never role names in code:

- a user role's ``scope`` says which cases it reaches: ``all``, ``own_tasks``
  (cases where the user's institution holds or held a task), ``escalated``
  (cases ever queued for the cooperation group) or ``none``;
- ``read_only`` roles only read; ``administers`` roles run the installation;
  ``group_work`` roles refer cases to the cooperation group and read its queue;
  ``chairs`` roles plan its meetings and record its decisions;
- a task is answered only by the institution holding it; a case is advanced
  only by roles some step of its declaration names;
- an institution role's ``case_types`` limits which case types its staff see;
- ``sees`` on both the user role and the institution's roles gives the field
  groups (identity, case data, notes, support plan, access log) a user sees.

The engine's write path checks the transition's own roles and the task's
holder again (``engine.cases.check_transition``): the policy says whether a
user may act on a case at all, the declaration says which step.

``visible_cases`` is the same rule as a SQL condition, for lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from enum import StrEnum

import sqlalchemy as sa

from engine.cases import load_case_row
from engine.definitions import Workflow
from engine.registry import Roles, WorkflowRegistry
from engine.runtime import Actor
from engine.tables import Case, Escalation, Task

CASE, TASK, ESCALATION = Case.__table__, Task.__table__, Escalation.__table__
#: Field groups the code itself needs to name (the rest are only declared).
IDENTITY, CASE_DATA = "identity", "case_data"


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
    ADMINISTER = "administer"          # users, institutions, calendar, settings


#: What a read-only role may do.
READS = frozenset({Action.READ_CASES, Action.EXPORT, Action.READ_GROUP, Action.READ_ACCESS_LOG})
#: Actions that concern one case (and need a ``CaseScope`` to be allowed on it).
CASE_ACTIONS = frozenset({Action.ADVANCE, Action.ANSWER_TASK, Action.ADD_NOTE, Action.PAUSE,
                          Action.ESCALATE, Action.DECIDE_EXTENSION, Action.READ_ACCESS_LOG})
#: What the cooperation group's work is.
GROUP_ACTIONS = frozenset({Action.ESCALATE, Action.PLAN_MEETING, Action.DECIDE})
#: Actions of the coordinating institution's users on any case they reach.
COORDINATION = frozenset({Action.PAUSE, Action.DECIDE_EXTENSION, Action.OPEN_CASE})


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
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def decide(registry: WorkflowRegistry, subject: Subject, action: Action,
           case: CaseScope | None = None, *, case_type: str | None = None) -> Decision:
    """May ``subject`` take ``action`` (on ``case``, or on a case of ``case_type``)?"""
    roles = registry.roles
    spec = roles.user_roles.get(subject.role)
    if spec is None:
        return Decision(False, f"unknown user role {subject.role!r}")
    if action is Action.ADMINISTER:
        return ALLOW if spec.administers else Decision(False, "only administrators")
    if spec.read_only and action not in READS:
        return Decision(False, f"{subject.role} is read-only")
    if action is Action.READ_ACCESS_LOG and "access_log" not in visible_groups(roles, subject):
        return Decision(False, "the access log is not among this role's field groups")
    if spec.scope == "none":
        return Decision(False, f"{subject.role} does not work on cases")
    if action is Action.READ_GROUP:
        if spec.group_work or spec.chairs or spec.read_only:
            return ALLOW
        return Decision(False, "only the cooperation group's roles")
    if action in (Action.PLAN_MEETING, Action.DECIDE):
        return ALLOW if spec.chairs else Decision(False, "only the cooperation group's chair")
    if action is Action.ESCALATE and not spec.group_work:
        return Decision(False, "only the cooperation group's roles refer cases to it")
    coordinating = roles.coordinating in subject.institution_roles
    if action in COORDINATION and not coordinating:
        if not (action is Action.OPEN_CASE and _may_open(registry, subject, case_type)):
            return Decision(False, "only the coordinating institution's users")
    if action is Action.OPEN_CASE:
        ct = case_type or (case.case_type if case else None)
        if ct is not None and not _may_open(registry, subject, ct):
            return Decision(False, f"{subject.role} may not open a {ct} case")
        return ALLOW
    if case is None:
        return ALLOW   # in general; each case is decided on its own
    reach = reaches(roles, subject, case)
    if not reach:
        return reach
    if action is Action.ANSWER_TASK and case.holder != subject.institution:
        return Decision(False, "the task belongs to another institution")
    if action is Action.ADVANCE:
        wf = registry.current.get(case.case_type)
        if wf is not None and not any(subject.role in t.roles for t in wf.transitions):
            return Decision(False, f"no step of a {case.case_type} case is {subject.role}'s")
        if spec.scope == "own_tasks" and case.holder != subject.institution:
            return Decision(False, "the task belongs to another institution")
    return ALLOW


def reaches(roles: Roles, subject: Subject, case: CaseScope) -> Decision:
    """Whether the subject reaches this case at all (before the action is considered)."""
    spec = roles.user_roles[subject.role]
    types = _case_types(roles, subject)
    if types is not None and case.case_type not in types:
        return Decision(False, f"{subject.institution} does not work on {case.case_type} cases")
    if spec.scope == "all":
        return ALLOW
    if spec.scope == "own_tasks":
        if subject.institution is not None and subject.institution in case.involved:
            return ALLOW
        return Decision(False, "the institution holds no task on this case")
    if spec.scope == "escalated":
        return ALLOW if case.escalated else Decision(False, "the case was never escalated")
    return Decision(False, f"{subject.role} does not work on cases")


def _case_types(roles: Roles, subject: Subject) -> frozenset[str] | None:
    """The case types the subject's institution works on (None: every type)."""
    limits = [roles.institution_roles[r].case_types for r in subject.institution_roles
              if r in roles.institution_roles]
    if not limits or any(types is None for types in limits):
        return None
    return frozenset().union(*limits)


def visible_groups(roles: Roles, subject: Subject) -> frozenset[str]:
    """The field groups a subject sees: its user role's ∩ its institution's roles'."""
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
    spec = roles.user_roles.get(subject.role)
    if spec is None or spec.scope == "none":
        return sa.false()
    conditions: list[sa.ColumnElement[bool]] = []
    types = _case_types(roles, subject)
    if types is not None:
        conditions.append(CASE.c.case_type.in_(sorted(types)))
    if spec.scope == "own_tasks":
        conditions.append(sa.exists().where(TASK.c.case_id == CASE.c.id,
                                            TASK.c.assignee_institution == subject.institution))
    elif spec.scope == "escalated":
        conditions.append(sa.exists().where(ESCALATION.c.case_id == CASE.c.id))
    return sa.and_(sa.true(), *conditions)


def task_scope(conn: sa.Connection, task: Mapping[str, Any]) -> CaseScope:
    """The policy's view of a task's case (``case_id``, ``case_type``), held by the
    task's institution (``assignee_institution``): a decision task of the cooperation
    group is answered by its institution, whoever holds the case's state task."""
    return case_scope(conn, {"id": task["case_id"], "case_type": task["case_type"],
                             "owner_institution": task["assignee_institution"]})


def stored_case_scope(db: sa.Engine, reference: str) -> CaseScope:
    """The policy's view of a stored case (``CaseNotFound`` if there is none)."""
    with db.connect() as conn:
        return case_scope(conn, load_case_row(conn, reference))


def case_scope(conn: sa.Connection, case: Mapping[str, Any]) -> CaseScope:
    """The policy's view of one stored case row (``id``, ``case_type``, ``owner_institution``)."""
    involved = frozenset(conn.execute(sa.select(TASK.c.assignee_institution).distinct().where(
        TASK.c.case_id == case["id"], TASK.c.assignee_institution.is_not(None))).scalars())
    escalated = conn.execute(sa.select(sa.exists().where(
        ESCALATION.c.case_id == case["id"]))).scalar()
    return CaseScope(str(case["case_type"]), involved, case.get("owner_institution"),
                     bool(escalated))

