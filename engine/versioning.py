"""Moving running cases from one published workflow version to the next.

Cases are pinned to the version they were opened under.  A migration plan
(``workflows/migrations/<type>.v<A>-v<B>.yaml``) names the two versions and
the state renames; every other state must exist in both.  ``migrate_cases``
moves each open case in one transaction per case: new version and state, a
``migrated`` event on the hash chain, the open task relabelled.  Closed cases
stay on their version: their history is never rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from engine import policy
from engine.errors import InvalidWorkflowDefinition, Named, Problem, StaleCase, msg
from engine.events import EventKind, insert_event, next_event
from engine.registry import WorkflowRegistry
from engine.runtime import Actor, Runtime
from engine.store import CASE, TASK, stored_version
from engine.tables import CaseStatus, TaskKind
from engine.yamlio import load_model


class MigrationPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    case_type: str
    from_version: int = Field(ge=1)
    to_version: int = Field(ge=2)
    rename_states: dict[str, str] = Field(default_factory=dict)
    note: str | None = None

    def target_state(self, state: str) -> str:
        return self.rename_states.get(state, state)


@dataclass(frozen=True)
class Moved:
    reference: str
    from_state: str
    to_state: str


def load_plan(path: Path, registry: WorkflowRegistry) -> MigrationPlan:
    """Parse a plan and check it against both versions: every old state must land somewhere."""
    file = str(path)
    plan, raw = load_model(path, MigrationPlan, InvalidWorkflowDefinition)
    old = registry.get(plan.case_type, plan.from_version)
    new = registry.get(plan.case_type, plan.to_version)
    problems = []
    for src in plan.rename_states:
        if src not in old.states:
            problems.append(Problem(file, raw.line_of("rename_states"),
                                    msg("migration.no_state", version=old.version, state=src),
                                    ("rename_states", src)))
    for state, spec in old.states.items():
        if plan.target_state(state) not in new.states:
            problems.append(Problem(file, raw.line_of("rename_states"),
                                    msg("migration.no_counterpart", state=Named(state, spec.title),
                                        version=old.version, new_version=new.version),
                                    ("rename_states",)))
    if problems:
        raise InvalidWorkflowDefinition(problems)
    return plan


def migrate_cases(db: sa.Engine, rt: Runtime, plan: MigrationPlan, actor: Actor, *,
                  dry_run: bool = False) -> list[Moved]:
    """Move every open case of the plan's old version (an administrator's operation)."""
    policy.require(rt, actor, policy.Action.ADMINISTER)
    with db.connect() as conn:
        rows = conn.execute(sa.select(CASE.c.id).where(
            CASE.c.case_type == plan.case_type, CASE.c.definition_version == plan.from_version,
            CASE.c.status != CaseStatus.CLOSED).order_by(CASE.c.id)).scalars().all()
    moved = []
    for case_id in rows:
        with db.begin() as conn:
            case = conn.execute(sa.select(CASE).where(CASE.c.id == case_id)).mappings().one()
            if case["definition_version"] != plan.from_version:
                continue   # moved meanwhile by another run
            dest = plan.target_state(case["state"])
            moved.append(Moved(case["reference"], case["state"], dest))
            if dry_run:
                conn.rollback()
                continue
            _move(conn, rt, plan, dict(case), dest, actor)
    return moved


def _move(conn: sa.Connection, rt: Runtime, plan: MigrationPlan, case: dict[str, Any], dest: str,
          actor: Actor) -> None:
    """The open task keeps its due date (a rename does not restart the clock); its
    assignee follows the new version's owner role for the state."""
    now = rt.clock.now()
    event = next_event(case, actor, now, kind=EventKind.MIGRATED, trigger=None,
                       from_state=case["state"], to_state=dest,
                       definition_version=plan.to_version,
                       payload={"from_version": plan.from_version, "to_version": plan.to_version})
    state = rt.registry.get(plan.case_type, plan.to_version).state(dest)
    owner = None if state.terminal else rt.institution_for(state.owner or "", case)
    updated = conn.execute(
        sa.update(CASE).where(CASE.c.id == case["id"], CASE.c.version == case["version"])
        .values(definition_version=plan.to_version, state=dest, version=case["version"] + 1,
                event_seq=event["seq"], last_event_hash=event["hash"], owner_institution=owner,
                updated_at=now))
    if updated.rowcount != 1:
        raise StaleCase(case["reference"], case["version"], stored_version(conn, case["id"]))
    insert_event(conn, event)
    conn.execute(sa.update(TASK).where(TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None),
                                       TASK.c.kind == TaskKind.STATE)
                 .values(state=dest, assignee_institution=owner))
