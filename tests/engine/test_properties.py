"""Stateful property tests of the one write path, one state machine per workflow.

For every declared case type Hypothesis opens cases and fires random triggers
(declared or not, valid from the current state or not) as random demo users,
with valid sample fields or junk, on a fresh SQLite file (and, in the
``...OnPostgresql`` variants, a fresh PostgreSQL database) per example.  After
every step the database must satisfy the engine's invariants:

(a) a refused ``fire`` changed nothing (case, case_event, task, outbox, child);
(b) every stored ``case.state`` is declared by the case's workflow version,
    and ``status``/``outcome`` agree with whether that state is terminal;
(c) an open case has exactly one open task (in its state, with its owner),
    a closed case has none;
(d) ``verify_chain`` is empty for every case, and the case row's
    ``version``/``event_seq``/``last_event_hash`` match its events;
(e) a successful ``fire`` moved the case to exactly the declared ``dest`` of
    the trigger from the previous state and bumped ``version`` by one (two when
    the transition declares ``escalate``: the case's ``queued`` event follows;
    so does a case opened for a child who already has one of its type).

Refusals are also checked against the declaration: the engine must raise the
error class the declaration calls for (unknown trigger, not valid from this
state, role / institution not permitted, bad fields, failed guard, stale
version), and never anything but a ``GaitaError``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from engine.cases import fire, open_case
from engine.clock import FixedClock
from engine.definitions import FieldSpec, Transition, Workflow
from engine.errors import (
    AccessDenied,
    FieldError,
    GaitaError,
    GuardFailed,
    NotPermitted,
    StaleCase,
    TransitionNotAllowed,
    UnknownTrigger,
)
from engine.events import verify_chain
from engine.filings import file_report, require_reports, waive_report
from engine.ikvd import coerce_step, step_fields
from engine.policy import allowed_triggers, held_scope, may_file, subject_of
from engine.registry import Roles, load_registry
from engine.runtime import Actor
from engine.store import PARTY
from engine.tables import Case, CaseEvent, Child, Escalation, Outbox, Task, TaskKind, User
from gaita.bootstrap import load_declarations
from gaita.demo import CHILDREN, demo_code, sample_fields
from gaita.settings import ROOT, load_settings
from tests.conftest import make_test_app, snapshot
from tests.pg import PostgresServer, pg_bin

pytestmark = pytest.mark.slow

CASE, EVENT, TASK, OUTBOX = (t.__table__ for t in (Case, CaseEvent, Task, Outbox))
ESCALATION = Escalation.__table__
SNAPSHOT_TABLES = (Case, CaseEvent, Task, Outbox, Child)
UNDECLARED_TRIGGER = "no_such_trigger"

SETTINGS = settings(max_examples=25, stateful_step_count=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
PG_SETTINGS = settings(SETTINGS, max_examples=10)   # a database per example costs more

# The declarations, known at collection time.  Only the workflow files are read
# here (not the municipality config); the machines then run on each app's registry.
DECLARED = load_registry(ROOT / "workflows")
#: The Jelgava configuration: the IKVD statuses a closing step takes (engine.ikvd).
MUNICIPALITY = load_declarations(load_settings({}))[0]

junk_value = st.one_of(
    st.text(max_size=8), st.integers(min_value=-5, max_value=50), st.booleans(), st.none(),
    st.sampled_from(["", " ", "maybe", "2026-13-45", "true", "nē", "25", "-1"]),
    st.lists(st.integers(), max_size=2),
)


def case_row(db: sa.Engine, reference: str) -> dict[str, Any]:
    with db.connect() as conn:
        return dict(conn.execute(sa.select(CASE).where(CASE.c.reference == reference))
                    .mappings().one())


def was_escalated(db: sa.Engine, case_id: int) -> bool:
    with db.connect() as conn:
        return bool(conn.execute(sa.select(sa.exists().where(
            ESCALATION.c.case_id == case_id))).scalar())


def open_assignee(db: sa.Engine, case_id: int) -> str | None:
    """Who holds the case's state task (reports may be open beside it)."""
    with db.connect() as conn:
        return conn.execute(sa.select(TASK.c.assignee_institution).where(
            TASK.c.case_id == case_id, TASK.c.closed_at.is_(None),
            TASK.c.kind == TaskKind.STATE)).scalar_one_or_none()


def waits_for_something(db: sa.Engine, wf: Workflow, case: Mapping[str, Any],
                        t: Transition | None) -> bool:
    """The step waits for its declared reports (engine.filings), or for the case's
    aggressor to be recorded (MK 474 p. 12: where the report goes, engine.parties)."""
    if t is None or case["state"] not in t.source:
        return False
    with db.connect() as conn:
        try:
            require_reports(conn, wf, case, t)
        except NotPermitted:
            return True
        return t.report_to_residence is not None and not conn.execute(sa.select(sa.exists().where(
            PARTY.c.case_id == case["id"]))).scalar()


def transition_for(wf: Workflow, state: str, trigger: str) -> Transition | None:
    """The transition ``trigger`` fires from ``state``, else any declared one of that name."""
    found = wf.transition(state, trigger)
    if found is not None:
        return found
    return next((t for t in wf.transitions if t.trigger == trigger), None)


def field_values(data: st.DataObject, specs: Mapping[str, FieldSpec],
                 sample_weight: int, perturb_weight: int = 1) -> dict[str, Any]:
    """Mostly valid sample fields (so guards pass); otherwise perturbed sample fields
    (guards may fail), junk, or nothing."""
    modes = ["sample"] * sample_weight + ["perturbed"] * perturb_weight + ["junk", "empty"]
    mode = data.draw(st.sampled_from(modes), label="mode")
    if mode == "sample":
        return sample_fields(dict(specs))
    if mode == "empty":
        return {}
    if mode == "perturbed":   # other values of the right type, so that guards may fail
        values = sample_fields(dict(specs))
        for name, spec in specs.items():
            if data.draw(st.integers(0, 3), label=f"keep {name}") == 3:
                continue
            if spec.type == "int":   # around the guards' thresholds, and below a field's min
                values[name] = data.draw(st.one_of(
                    st.sampled_from([1, 0, 20, 2, 21, 5, -1]),
                    st.integers(min_value=-2, max_value=40)), label=name)
            elif spec.type == "bool":
                values[name] = data.draw(st.sampled_from([False, "false", "nē", "jā", "true"]),
                                         label=name)
            elif spec.optional:
                values.pop(name)
        return values
    keys = st.sampled_from([*specs, "extra", "notes"])
    return data.draw(st.dictionaries(keys, junk_value, max_size=4), label="junk fields")


def demo_actors(db: sa.Engine) -> dict[str, Actor]:
    """Every active user the test app was loaded with (one per user role at least)."""
    users = User.__table__
    with db.connect() as conn:
        rows = conn.execute(sa.select(users.c.username, users.c.role, users.c.institution_code)
                            .where(users.c.active.is_(True)).order_by(users.c.id)).all()
    return {r.username: Actor(r.username, r.role, r.institution_code) for r in rows}


def expected_refusal(roles: Roles, wf: Workflow, case: Mapping[str, Any], trigger: str,
                     actor: Actor, assignee: str | None, fields: Mapping[str, Any],
                     expected_version: int | None = None, *,
                     escalated: bool = False, waits: bool = False) -> type[GaitaError] | None:
    """The error the declaration calls for before guards are checked, or None.

    The access policy is asked first: a user who may not advance the case at all
    (read-only, no case work, no step of the type, staff whose institution does not
    hold the task; group roles reach only escalated cases) learns nothing more.  A
    stale ``expected_version`` comes next: the caller must reload anyway.
    """
    spec = roles.user_roles[actor.role]
    if (spec.read_only or (spec.scope in ("none", "escalated") and not escalated)
            or not any(actor.role in t.roles for t in wf.transitions)
            or (roles.own_tasks_only(actor.role) and actor.institution != assignee)):
        return AccessDenied
    if expected_version is not None and expected_version != case["version"]:
        return StaleCase
    if trigger not in wf.triggers:
        return UnknownTrigger
    t = wf.transition(case["state"], trigger)
    if t is None:
        return TransitionNotAllowed
    if actor.role not in t.roles:
        return AccessDenied
    if waits:   # for its reports, or the aggressor
        return NotPermitted
    try:   # with the IKVD status a closing step takes (engine.ikvd)
        coerce_step(MUNICIPALITY, t, fields)
    except FieldError:
        return FieldError
    return None


def steps_to_a_guard(wf: Workflow) -> dict[str, int]:
    """Per state, how many transitions away the nearest guard-carrying transition is."""
    far = len(wf.states) + 1
    dist = {s: (0 if any(t.guards for t in wf.transitions_from(s)) else far) for s in wf.states}
    for _ in wf.states:
        for s in wf.states:
            for t in wf.transitions_from(s):
                dist[s] = min(dist[s], dist[t.dest] + 1)
    return dist


_PG: list[PostgresServer] = []   # one server for every PostgreSQL example, started on first use


def database_url(backend: str, tmp: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp}/gaita.db"
    if pg_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries not installed")
    if not _PG:
        _PG.append(PostgresServer())
        atexit.register(_PG[0].stop)
    return _PG[0].new_database()


def make_machine(case_type: str, backend: str) -> type[RuleBasedStateMachine]:
    declared = DECLARED.latest(case_type)
    triggers = declared.triggers
    to_guard = steps_to_a_guard(declared)

    class WorkflowMachine(RuleBasedStateMachine):
        cases = Bundle("cases")

        def __init__(self) -> None:
            super().__init__()
            self.tmp = tempfile.mkdtemp(prefix="gaita-prop-")
            try:
                self.app = make_test_app(database_url(backend, self.tmp))
            except BaseException:   # teardown is not called when __init__ fails
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise
            self.db, self.rt = self.app.db, self.app.rt
            self.wf = self.rt.registry.latest(case_type)
            self.actors = demo_actors(self.db)
            self.users = list(self.actors)
            self.roles = self.rt.registry.roles
            # reference -> (state, version) as the test expects it to be stored
            self.model: dict[str, tuple[str, int]] = {}
            self.children: set[int] = set()   # a second case for one is a repeated case

        def teardown(self) -> None:
            self.app.db.dispose()
            shutil.rmtree(self.tmp, ignore_errors=True)

        # -- rules ---------------------------------------------------------------
        def _openers(self) -> list[tuple[str, str | None]]:
            """(user, school) pairs that may open a case of this type."""
            per_case = self.roles.per_case   # the case's school
            needs_school = any(s.owner in per_case for s in self.wf.states.values())
            schools = [i.code for role in sorted(per_case)
                       for i in self.rt.municipality.institutions_with_role(role)]
            out = []
            for name, actor in self.actors.items():
                if actor.role not in self.wf.open.roles:
                    continue
                if self.roles.own_tasks_only(actor.role):
                    if actor.institution in schools:
                        out.append((name, actor.institution))
                else:
                    out.append((name, schools[0] if needs_school else None))
            assert out, f"no demo user may open {case_type} cases"
            return out

        def _open(self, data: st.DataObject) -> str:
            user, school = data.draw(st.sampled_from(self._openers()), label="opener")
            n = data.draw(st.integers(min_value=0, max_value=300), label="child")
            result = open_case(
                self.db, self.rt, case_type, self.actors[user],
                child_name=CHILDREN[n % len(CHILDREN)], child_code=demo_code(n), school=school,
                fields=sample_fields(dict(self.wf.open.fields)),
                risk_level=data.draw(st.sampled_from(["low", "medium", "high"]), label="risk"))
            # a repeated case is queued for the cooperation group at once (engine.group)
            repeated = (n in self.children and case_type
                        in self.rt.municipality.cooperation_group.repeated_case_windows)
            self.children.add(n)
            assert (result.from_state, result.to_state, result.version) == (
                None, self.wf.initial, 2 if repeated else 1)
            self.model[result.reference] = (self.wf.initial, 2 if repeated else 1)
            return result.reference

        @initialize(target=cases, data=st.data())
        def open_first_case(self, data: st.DataObject) -> str:
            return self._open(data)

        @initialize(target=cases, data=st.data())
        def maybe_open_second_case(self, data: st.DataObject) -> Any:
            """Sometimes two cases: steps on one must leave the other untouched.
            (Mostly one, so that the step budget reaches deep states.)"""
            if data.draw(st.integers(0, 2), label="second case") == 0:
                return self._open(data)
            return multiple()

        @rule(ref=cases, data=st.data())
        def fire_trigger(self, ref: str, data: st.DataObject) -> None:
            case = case_row(self.db, ref)
            kind = data.draw(st.sampled_from(["plausible"] * 3 + ["anything"]), label="kind")
            if kind == "plausible":
                self._fire_plausible(ref, case, data)
            else:
                self._fire_anything(ref, case, data)

        def _fire_anything(self, ref: str, case: Mapping[str, Any], data: st.DataObject) -> None:
            """Any declared trigger (or an undeclared one), anybody, any fields, any version."""
            trigger = data.draw(st.sampled_from([*triggers, UNDECLARED_TRIGGER]), label="trigger")
            user = data.draw(st.sampled_from(self.users), label="user")
            version = case["version"]
            expected_version = data.draw(st.sampled_from(
                [None, None, version, version + 1, version - 1]), label="expected_version")
            self._fire(ref, case, trigger, user, data, expected_version, sample_weight=3)

        def _fire_plausible(self, ref: str, case: Mapping[str, Any], data: st.DataObject) -> None:
            """A trigger valid from here, mostly by a permitted user with sample fields."""
            # Weighted towards staying open (non-terminal destinations), towards
            # guard-carrying transitions and towards states nearer to one, so that
            # the guards get exercised within the step budget.  Heaviest first:
            # Hypothesis favours the start of a sampled_from list.
            state = case["state"]
            weights = sorted(((1 + 5 * (not self.wf.state(t.dest).terminal) + 10 * bool(t.guards)
                               + 10 * (to_guard[t.dest] < to_guard[state]), t.trigger)
                              for t in self.wf.transitions_from(state)), key=lambda w: -w[0])
            weighted = [trigger for weight, trigger in weights for _ in range(weight)]
            trigger = data.draw(st.sampled_from(weighted or triggers), label="trigger")
            assignee = open_assignee(self.db, case["id"])
            scope = held_scope(self.wf.case_type, assignee)
            permitted = [u for u, a in self.actors.items()
                         if trigger in allowed_triggers(self.rt.registry, subject_of(self.rt, a),
                                                        self.wf, state, scope)]
            pick_permitted = (bool(permitted)
                              and data.draw(st.integers(0, 4), label="pick permitted") < 4)
            user = data.draw(st.sampled_from(permitted if pick_permitted else self.users),
                             label="user")
            guarded = any(t.guards for t in self.wf.transitions
                          if t.trigger == trigger and state in t.source)
            self._fire(ref, case, trigger, user, data, None, sample_weight=9,
                       perturb_weight=6 if guarded else 1)

        def _fire(self, ref: str, before_case: Mapping[str, Any], trigger: str, user: str,
                  data: st.DataObject, expected_version: int | None, *, sample_weight: int,
                  perturb_weight: int = 1) -> None:
            clock = self.rt.clock
            assert isinstance(clock, FixedClock)
            clock.advance(days=data.draw(st.sampled_from([0, 0, 0, 1, 3]), label="days pass"))
            state, version = before_case["state"], before_case["version"]
            assignee = open_assignee(self.db, before_case["id"])
            actor = self.actors[user]
            t = transition_for(self.wf, state, trigger)
            fields = field_values(data, step_fields(self.rt.municipality, t) if t else {},
                                  sample_weight, perturb_weight)

            escalated = was_escalated(self.db, before_case["id"])
            waits = waits_for_something(self.db, self.wf, before_case, t)
            before = snapshot(self.db)
            try:
                result = fire(self.db, self.rt, ref, trigger, actor, fields,
                              expected_version=expected_version)
            except GaitaError as exc:
                event(f"refused: {type(exc).__name__}")
                # (a) a refused fire changed nothing
                assert snapshot(self.db) == before, f"refused {trigger!r} ({exc!r}) changed the DB"
                expected = expected_refusal(self.roles, self.wf, before_case, trigger, actor,
                                            assignee, fields, expected_version,
                                            escalated=escalated, waits=waits)
                if expected is not None:
                    assert type(exc) is expected, (
                        f"{trigger!r} by {user} from {state!r} with {fields!r}: "
                        f"expected {expected.__name__}, got {exc!r}")
                elif isinstance(exc, GuardFailed):
                    assert t is not None and exc.guard in t.guards, (
                        f"undeclared guard failed: {exc!r}")
                else:
                    raise AssertionError(f"{trigger!r} by {user} from {state!r} with {fields!r}: "
                                         f"unexpected {exc!r}") from exc
                return
            event(f"fired: {trigger}{' (guarded)' if t and t.guards else ''}")
            # The engine accepted: the declaration must have allowed it.
            refusal = expected_refusal(self.roles, self.wf, before_case, trigger, actor, assignee,
                                       fields, expected_version, escalated=escalated,
                                       waits=waits)
            assert refusal is None, (f"{trigger!r} by {user} from {state!r} with {fields!r} "
                                     f"should have been refused with {refusal.__name__}")
            declared_t = self.wf.transition(state, trigger)
            assert declared_t is not None
            after_case = case_row(self.db, ref)
            # (e) exactly the declared destination, version + 1 (+ 1: queued for the group)
            queued = 1 if declared_t.escalate else 0
            assert after_case["state"] == declared_t.dest == result.to_state
            assert after_case["version"] == version + 1 + queued == result.version
            assert (result.from_state, result.trigger) == (state, trigger)
            dest = self.wf.state(declared_t.dest)
            assert result.outcome == (dest.outcome if dest.terminal else None)
            assert (result.task is None) == dest.terminal
            with self.db.connect() as conn:
                last = conn.execute(sa.select(EVENT).where(   # the transition's event
                    EVENT.c.case_id == after_case["id"], EVENT.c.seq == version + 1)).mappings().one()
                mails = conn.execute(sa.select(sa.func.count()).select_from(OUTBOX).where(
                    OUTBOX.c.event_id == last["id"])).scalar_one()
            assert (last["trigger"], last["from_state"], last["to_state"], last["actor"]) == (
                trigger, state, declared_t.dest, actor.username)
            assert mails == len(declared_t.notify)
            # Only this case changed.
            after = snapshot(self.db)
            assert ([r for r in after["case"] if r[0] != after_case["id"]]
                    == [r for r in before["case"] if r[0] != after_case["id"]])
            self.model[ref] = (declared_t.dest, version + 1 + queued)

        @rule(ref=cases, data=st.data())
        def make_a_report(self, ref: str, data: st.DataObject) -> None:
            """File (or waive) one of the reports the case's state declares, mostly as a
            user who may: the case's state stays, its version goes up by one."""
            case = case_row(self.db, ref)
            reports = ([] if case["status"] != "open"
                       else self.wf.state(case["state"]).reports)
            if not reports:
                return
            report = data.draw(st.sampled_from(reports), label="report")
            scope = held_scope(self.wf.case_type, open_assignee(self.db, case["id"]))
            permitted = [u for u, a in self.actors.items() if may_file(
                self.rt.registry, subject_of(self.rt, a), scope, report)]
            user = data.draw(st.sampled_from(permitted or self.users), label="user")
            waive = data.draw(st.integers(0, 3), label="waive") == 0
            before = snapshot(self.db)
            try:
                if waive:
                    waive_report(self.db, self.rt, ref, report.code, self.actors[user],
                                 "Ziņots jau iepriekš")
                else:
                    file_report(self.db, self.rt, ref, report.code, self.actors[user],
                                sample_fields(dict(report.fields)))
            except GaitaError as exc:
                event(f"report refused: {type(exc).__name__}")
                assert snapshot(self.db) == before, f"refused report ({exc!r}) changed the DB"
                return
            event("report made" if not waive else "report waived")
            state, version = self.model[ref]
            self.model[ref] = (state, version + 1)

        # -- invariants ----------------------------------------------------------
        @invariant()
        def states_are_declared(self) -> None:   # (b)
            with self.db.connect() as conn:
                rows = conn.execute(sa.select(CASE)).mappings().all()
            assert {r["reference"]: (r["state"], r["version"]) for r in rows} == self.model
            for r in rows:
                wf = self.rt.registry.get(r["case_type"], r["definition_version"])
                assert r["state"] in wf.states, (
                    f"{r['reference']}: undeclared state {r['state']!r}")
                spec = wf.state(r["state"])
                if spec.terminal:
                    assert (r["status"], r["outcome"]) == ("closed", spec.outcome)
                    assert r["closed_at"] is not None and r["owner_institution"] is None
                else:
                    assert (r["status"], r["outcome"], r["closed_at"]) == ("open", None, None)

        @invariant()
        def one_open_task_per_open_case(self) -> None:   # (c)
            with self.db.connect() as conn:
                cases = conn.execute(sa.select(CASE)).mappings().all()
                open_tasks = conn.execute(sa.select(TASK).where(TASK.c.closed_at.is_(None))
                                          ).mappings().all()
            by_case: dict[int, list[Mapping[str, Any]]] = {}
            for task in open_tasks:   # the state tasks (reports may be open beside them)
                if task["kind"] == TaskKind.STATE:
                    by_case.setdefault(task["case_id"], []).append(task)
            for c in cases:
                tasks = by_case.get(c["id"], [])
                if c["status"] == "closed":
                    assert tasks == [], f"closed case {c['reference']} has open tasks"
                else:
                    assert len(tasks) == 1, f"{c['reference']} has {len(tasks)} open tasks"
                    assert tasks[0]["state"] == c["state"]
                    assert tasks[0]["assignee_institution"] == c["owner_institution"]

        @invariant()
        def chains_verify(self) -> None:   # (d)
            with self.db.connect() as conn:
                for c in conn.execute(sa.select(CASE)).mappings().all():
                    assert verify_chain(conn, c["id"]) == [], c["reference"]
                    events = conn.execute(sa.select(EVENT.c.seq, EVENT.c.hash).where(
                        EVENT.c.case_id == c["id"]).order_by(EVENT.c.seq)).all()
                    assert c["version"] == c["event_seq"] == len(events)
                    assert c["last_event_hash"] == events[-1].hash

    WorkflowMachine.__name__ = WorkflowMachine.__qualname__ = (
        "".join(p.title() for p in case_type.split("_")) + "Machine"
        + ("" if backend == "sqlite" else "OnPostgresql"))
    WorkflowMachine.TestCase.settings = SETTINGS if backend == "sqlite" else PG_SETTINGS
    return WorkflowMachine


def _expose(case_type: str, backend: str) -> None:
    """One ``unittest.TestCase`` per case type and backend, e.g. ``TestAbsencesMachine``."""
    machine = make_machine(case_type, backend)
    test = machine.TestCase
    test.__name__ = test.__qualname__ = f"Test{machine.__name__}"
    globals()[test.__name__] = test if backend == "sqlite" else pytest.mark.pg(test)


for _case_type in DECLARED.case_types:
    for _backend in ("sqlite", "postgresql"):
        _expose(_case_type, _backend)
