"""The scheduler's tick (engine.escalation) on a real SQLite file and a real PostgreSQL.

Time passes on the app's ``FixedClock``; expected instants come from the app's
working-day calendar, except where a particular holiday is the point.  What the
tick did is counted in the database: ``task_effect`` rows, ``case_event`` rows,
``outbox`` rows and ``escalation`` rows.

The full walks with delivered email are in ``test_escalation_walks.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

import engine.escalation as escalation
from engine.answers import TaskAction, answer
from engine.cases import fire, open_case
from engine.clock import FixedClock
from engine.escalation import TickReport, tick
from engine.events import verify_chain
from engine.filings import file_report
from engine.queries import actor_for, link_actor
from engine.tables import (
    Case,
    CaseEvent,
    Escalation,
    Outbox,
    SchedulerRun,
    Task,
    TaskEffect,
    TaskKind,
)
from engine.yamlio import load_yaml
from gaita.bootstrap import App, build_app
from gaita.dbsetup import load_institutions, migrate
from gaita.demo import demo_code, load_users, sample_fields
from gaita.settings import ROOT, load_settings
from tests.conftest import START, make_test_app

CASE, EVENT, TASK = Case.__table__, CaseEvent.__table__, Task.__table__
OUTBOX, EFFECT, ESCALATION, RUN = (Outbox.__table__, TaskEffect.__table__, Escalation.__table__,
                                   SchedulerRun.__table__)
SCHOOL = "jelgavas-4-vsk"
COORDINATING = "jip"        # the institution with `coordinates: true` (education_board)
GROUP = "btasg"             # the cooperation group (escalation_target)
INSTITUTIONS = {i["code"]: i for i in load_yaml(ROOT / "config" / "jelgava" / "institutions.yaml")}
SECOND = timedelta(seconds=1)
LEASE = timedelta(minutes=5)   # tick()'s default claim lease

#: For each case type: who opens it, the triggers (and who fires them) that bring
#: it to a state with a working-day deadline, a reminder and a full ladder, and that state.
PATHS: dict[str, tuple[str, list[tuple[str, str]], str]] = {
    "absences": ("skola", [("record_unjustified", "skola")], "in_school_support"),
    "substances": ("skola", [("report:municipal_police", "skola"),
                             ("responded_and_reported", "skola")], "board_report"),
    "unregistered_child": ("koordinatore", [("report:vsaa", "koordinatore"),
                                            ("report:civil_registry", "koordinatore"),
                                            ("report:police", "koordinatore"),
                                            ("whereabouts_unknown", "koordinatore")],
                           "police_search"),
    "violence": ("skola", [("report:state_police", "skola"), ("protected_and_reported", "skola"),
                           ("founder_informed", "skola"),
                           ("school_to_resolve", "koordinatore")], "school_measures"),
}
CASE_TYPES = list(PATHS)


def email(code: str) -> str:
    return str(INSTITUTIONS[code]["email"])


def head_email(code: str) -> str:
    return str(INSTITUTIONS[code]["head_email"])


# -- helpers shared with the walks and the CLI tests -----------------------------------

def open_in_state(app: App, case_type: str, n: int = 1, risk: str = "medium",
                  until: str | None = None) -> str:
    """Open a case (child number ``n``) and fire it along ``PATHS`` to its state
    (or stop once it is in ``until``)."""
    opener, steps, _ = PATHS[case_type]
    wf = app.rt.registry.latest(case_type)
    actor = actor_for(app.db, opener)
    school = None if case_type == "unregistered_child" else SCHOOL
    ref = open_case(app.db, app.rt, case_type, actor, child_name="Anna Bērziņa",
                    child_code=demo_code(n), school=school,
                    fields=sample_fields(wf.open.fields), risk_level=risk).reference
    state = wf.initial
    for trigger, user in steps:
        if state == until:
            break
        if trigger.startswith("report:"):   # a same-day report beside the state's task
            report = wf.state(state).report(trigger.removeprefix("report:"))
            assert report is not None
            filed = file_report(app.db, app.rt, ref, report.code, actor_for(app.db, user),
                                sample_fields(report.fields))
            # taken up at once: only the state task's deadlines are under test here
            answer(app.db, app.rt, filed.task.id, TaskAction.DONE,
                   link_actor(app.rt, str(filed.task.assignee)),
                   fields=sample_fields(report.answer))
            continue
        transition = wf.transition(state, trigger)
        assert transition is not None
        state = fire(app.db, app.rt, ref, trigger, actor_for(app.db, user),
                     sample_fields(transition.fields)).to_state
    return ref


def state_task(app: App, ref: str) -> dict[str, Any]:
    with app.db.connect() as conn:
        case_id = conn.execute(sa.select(CASE.c.id).where(CASE.c.reference == ref)).scalar_one()
        return dict(conn.execute(sa.select(TASK).where(
            TASK.c.case_id == case_id, TASK.c.closed_at.is_(None),
            TASK.c.kind == TaskKind.STATE)).mappings().one())


def case_id(app: App, ref: str) -> int:
    with app.db.connect() as conn:
        return int(conn.execute(sa.select(CASE.c.id).where(CASE.c.reference == ref)).scalar_one())


def counts(app: App) -> dict[str, Any]:
    """How many of each thing the tick writes: effects, events by kind, emails by
    template, escalations."""
    with app.db.connect() as conn:
        return {
            "effects": Counter(conn.execute(sa.select(EFFECT.c.effect)).scalars()),
            "events": Counter(conn.execute(sa.select(EVENT.c.kind)).scalars()),
            "outbox": Counter(conn.execute(sa.select(OUTBOX.c.template)).scalars()),
            "escalations": conn.execute(sa.select(sa.func.count()).select_from(ESCALATION))
            .scalar_one(),
        }


def duplicates(app: App) -> dict[str, list[Any]]:
    """Anything the tick wrote twice: an event kind repeated for one task (or a
    ladder step), an email template repeated for one event."""
    with app.db.connect() as conn:
        events = conn.execute(sa.select(EVENT.c.case_id, EVENT.c.kind, EVENT.c.payload).where(
            EVENT.c.kind.in_(["reminded", "overdue", "escalated", "unacknowledged", "queued"])))
        keys = Counter((r.case_id, r.kind, r.payload.get("task"), r.payload.get("step"))
                       for r in events)
        mails = Counter(conn.execute(sa.select(OUTBOX.c.event_id, OUTBOX.c.template,
                                               OUTBOX.c.recipient_institution)).all())
    return {"events": [k for k, n in keys.items() if n > 1],
            "outbox": [k for k, n in mails.items() if n > 1]}


def chains_verify(app: App) -> None:
    with app.db.connect() as conn:
        for cid in conn.execute(sa.select(CASE.c.id)).scalars():
            assert verify_chain(conn, cid) == [], cid


def tick_at(app: App, when: datetime, **kw: Any) -> TickReport:
    assert isinstance(app.rt.clock, FixedClock)
    app.rt.clock.set(when)
    return tick(app.db, app.rt, **kw)


def param(app: App, name: str) -> int:
    return app.rt.days(name)


def end_of_ladder(app: App, ref: str) -> datetime:
    """When the last step of the case's ladder that applies to it falls due."""
    task = state_task(app, ref)
    with app.db.connect() as conn:
        risk = conn.execute(sa.select(CASE.c.risk_level)
                            .where(CASE.c.id == task["case_id"])).scalar()
    wf = app.rt.registry.latest(app_case_type(app, ref))
    steps = [s for s in wf.state(task["state"]).escalation if s.risk is None or risk in s.risk]
    after = max(param(app, s.after) if isinstance(s.after, str) else s.after for s in steps)
    return app.rt.calendar.due_at(task["due_at"], after)


def app_case_type(app: App, ref: str) -> str:
    with app.db.connect() as conn:
        return str(conn.execute(sa.select(CASE.c.case_type)
                                .where(CASE.c.reference == ref)).scalar())


def migrated_app(db_url: str, now: datetime = START) -> App:
    """An app on a database made by the migrations (as ``gaita init`` does), so
    that ``gaita`` subprocesses accept it."""
    app = build_app(load_settings({"GAITA_DATABASE_URL": db_url, "GAITA_NOW": now.isoformat()}),
                    create=True)
    migrate(app.db)
    load_institutions(app.db, app.rt.municipality)
    load_users(app.db, app.rt)
    return app


def local(app: App, instant: datetime) -> date:
    return app.rt.calendar.local_date(instant)


# -- the ladder, step by step ----------------------------------------------------------

def test_nothing_happens_before_its_time_and_each_effect_exactly_at_it(gaita: App,
                                                                      clock: FixedClock) -> None:
    ref = open_in_state(gaita, "absences")
    task = state_task(gaita, ref)
    cal = gaita.rt.calendar
    days = param(gaita, "absences.in_school_review_days")
    assert task["due_at"] == cal.due_at(START, days)
    assert task["remind_at"] == cal.due_at(START, days - 2)          # remind_before: 2
    assert task["ack_due_at"] == cal.due_at(START, param(gaita, "tasks.acknowledge_days"))
    # The holidays matter: 20 working days from Monday 30 Nov 2026 skip 24-25 Dec.
    assert local(gaita, task["due_at"]) == date(2026, 12, 30)
    assert task["next_check_at"] == task["ack_due_at"]

    assert tick(gaita.db, gaita.rt).effects == {}
    for when, effects in [
        (task["ack_due_at"], {"unacknowledged": 1}),
        (task["remind_at"], {"reminder": 1}),
        (task["due_at"], {"breach": 1, "ladder:remind_owner": 1}),
    ]:
        assert tick_at(gaita, when - SECOND).effects == {}
        assert tick_at(gaita, when).effects == effects
        assert tick(gaita.db, gaita.rt).effects == {}
    after = state_task(gaita, ref)
    # 31 Dec and 1 Jan are holidays: 2 working days after Wed 30 Dec is Tue 5 Jan.
    assert local(gaita, after["next_check_at"]) == date(2027, 1, 5)
    assert after["escalation_step"] == 1
    assert after["breached_at"] == task["due_at"] and after["reminded_at"] == task["remind_at"]
    assert after["check_token"] is None


def test_a_tick_before_anything_is_due_examines_nothing(gaita: App) -> None:
    for n, case_type in enumerate(CASE_TYPES):
        open_in_state(gaita, case_type, n)
    report = tick(gaita.db, gaita.rt)
    assert (report.examined, report.effects, report.retried) == (0, {}, 0)
    with gaita.db.connect() as conn:
        run = conn.execute(sa.select(RUN)).mappings().one()
    assert (run["examined"], run["effects"], run["runner"], run["started_at"]) == (
        0, {}, "sweep", START)


# -- risk tiers --------------------------------------------------------------------

def ladder_dates(app: App, clock: FixedClock, refs: dict[str, str],
                 until: datetime) -> dict[str, list[tuple[str, date]]]:
    """Tick once per local day (at 09:00) and note which ladder actions fired for each case."""
    seen: dict[str, list[tuple[str, date]]] = {risk: [] for risk in refs}
    ids = {case_id(app, ref): risk for risk, ref in refs.items()}
    last = 0
    while clock.now() <= until:
        clock.advance(days=1)
        tick(app.db, app.rt)
        with app.db.connect() as conn:
            rows = conn.execute(sa.select(EVENT).where(
                EVENT.c.id > last, EVENT.c.kind.in_(["escalated", "queued"]))
                .order_by(EVENT.c.id)).mappings().all()
        for r in rows:
            last = r["id"]
            what = r["payload"]["action"] if r["kind"] == "escalated" else "queued"
            seen[ids[r["case_id"]]].append((what, local(app, r["at"]) - timedelta(days=1)))
    return seen


def test_violence_climbs_the_ladder_of_its_risk_tier(gaita: App, clock: FixedClock) -> None:
    wf = gaita.rt.registry.latest("violence")
    ladder = wf.state("school_measures").escalation
    tiers = {(s.action, tuple(s.risk or ())) for s in ladder}
    assert ("queue_cooperation_group", ("high",)) in tiers
    assert ("queue_cooperation_group", ("low", "medium")) in tiers
    refs = {risk: open_in_state(gaita, "violence", n, risk=risk)
            for n, risk in enumerate(["low", "medium", "high"])}
    due = state_task(gaita, refs["high"])["due_at"]
    assert all(state_task(gaita, r)["due_at"] == due for r in refs.values())
    cal = gaita.rt.calendar

    def day(after: int | str) -> date:   # the local date on which a step falls due
        n = param(gaita, after) if isinstance(after, str) else after
        return local(gaita, cal.due_at(due, n))

    seen = ladder_dates(gaita, clock, refs, end_of_ladder(gaita, refs["low"]) + timedelta(days=1))
    for risk in ("low", "medium", "high"):
        expected = []
        for s in ladder:
            if s.risk is None or risk in s.risk:
                expected.append((s.action, day(s.after)))
                if s.action == "queue_cooperation_group":
                    expected.append(("queued", day(s.after)))
        assert seen[risk] == expected, risk
    # Spelled out: a high-risk case reaches the head on the day of the breach and
    # the group the next working day; low and medium cases 2, 3 and 10 working days after.
    high = [what for what, _ in seen["high"]]
    assert high == ["remind_owner", "notify_owner_head", "notify_coordinator",
                    "queue_cooperation_group", "queued"]
    assert dict(seen["high"])["notify_owner_head"] == local(gaita, due)
    assert dict(seen["high"])["queued"] == day(1)
    assert dict(seen["medium"])["notify_owner_head"] == day("violence.escalate_head_days")
    assert dict(seen["medium"])["queued"] == day("violence.stall_days")
    assert dict(seen["high"])["queued"] < dict(seen["medium"])["queued"]
    with gaita.db.connect() as conn:
        urgent = dict(conn.execute(sa.select(CASE.c.risk_level, ESCALATION.c.urgent).join(
            CASE, CASE.c.id == ESCALATION.c.case_id)).all())
    assert urgent == {"low": False, "medium": False, "high": True}


def test_head_email_names_the_level_among_the_steps_of_the_cases_tier(
        gaita: App, clock: FixedClock) -> None:
    """A medium-risk case's head notice is its second step, whatever the position
    of the high-risk steps listed before it in the declaration."""
    refs = {risk: open_in_state(gaita, "violence", n, risk=risk)
            for n, risk in enumerate(["medium", "high"])}
    tick_at(gaita, end_of_ladder(gaita, refs["medium"]))
    with gaita.db.connect() as conn:
        levels = dict(conn.execute(sa.select(CASE.c.risk_level, OUTBOX.c.payload).join(
            CASE, CASE.c.id == OUTBOX.c.case_id)
            .where(OUTBOX.c.template == "escalation_head")).all())
    assert levels["medium"]["extra"] == {"level": 2}
    assert levels["high"]["extra"] == {"level": 2}


@pytest.mark.parametrize(("risk", "queued_after"), [("high", 0), ("medium", 1), ("low", 1)])
def test_a_same_day_duty_goes_to_the_group_by_its_risk_tier(
        gaita: App, clock: FixedClock, risk: str, queued_after: int) -> None:
    """``immediate_protection`` (same day): high risk is queued at the breach,
    other levels the next working day; head and coordinator hear at once."""
    ref = open_in_state(gaita, "violence", risk=risk, until="immediate_protection")
    task = state_task(gaita, ref)
    assert task["state"] == "immediate_protection"
    due = task["due_at"]
    assert due == gaita.rt.calendar.due_at(START, 0)
    at_breach = tick_at(gaita, due).effects
    expected = {"breach": 1, "ladder:notify_owner_head": 1, "ladder:notify_coordinator": 1}
    if queued_after == 0:
        expected["ladder:queue_cooperation_group"] = 1
    assert at_breach == expected
    later = gaita.rt.calendar.due_at(due, 1)
    assert tick_at(gaita, later - SECOND).effects == {}
    # queued at the breach as urgent, with no meeting planned a working day later: the
    # chair and the coordinator are alerted (engine.group.alerts)
    assert tick_at(gaita, later).effects == (
        {"group_waiting": 1} if queued_after == 0 else {"ladder:queue_cooperation_group": 1})
    with gaita.db.connect() as conn:
        esc = conn.execute(sa.select(ESCALATION)).mappings().one()
    assert (esc["reasons"], esc["urgent"], esc["status"]) == (["stalled"], risk == "high", "queued")


# -- idempotency -------------------------------------------------------------------

def one_of_each(app: App) -> list[str]:
    return [open_in_state(app, case_type, n) for n, case_type in enumerate(CASE_TYPES)]


def expected_full_ladder(app: App, refs: list[str]) -> Counter[str]:
    """The effects of one tick after every case's whole ladder fell due: each
    unacknowledged, breach and applicable step once, no reminder (past its deadline)."""
    expected: Counter[str] = Counter()
    with app.db.connect() as conn:
        risks = dict(conn.execute(sa.select(CASE.c.reference, CASE.c.risk_level)).all())
    for ref in refs:
        task = state_task(app, ref)
        wf = app.rt.registry.latest(app_case_type(app, ref))
        expected.update(["unacknowledged", "breach"])
        expected.update(f"ladder:{s.action}" for s in wf.state(task["state"]).escalation
                        if s.risk is None or risks[ref] in s.risk)
    return expected


def test_two_ticks_at_the_same_instant_do_each_effect_once(gaita: App, clock: FixedClock) -> None:
    refs = one_of_each(gaita)
    when = max(end_of_ladder(gaita, r) for r in refs)
    expected = expected_full_ladder(gaita, refs)
    first = tick_at(gaita, when)
    assert first.effects == expected and first.examined == len(refs)
    before = counts(gaita)
    second = tick_at(gaita, when)
    assert (second.examined, second.effects) == (0, {})
    assert counts(gaita) == before
    assert before["escalations"] == len(refs)
    assert sum(before["effects"].values()) == sum(expected.values())
    assert duplicates(gaita) == {"events": [], "outbox": []}
    # Nothing left to check: every ladder is at its end.
    assert {state_task(gaita, r)["next_check_at"] for r in refs} == {None}
    assert tick_at(gaita, when + timedelta(days=365)).examined == 0


def test_ticks_in_threads_at_the_same_instant_do_each_effect_once(
        gaita: App, clock: FixedClock) -> None:
    refs = [open_in_state(gaita, case_type, n) for n, case_type in enumerate(CASE_TYPES * 3)]
    when = max(end_of_ladder(gaita, r) for r in refs)
    expected = expected_full_ladder(gaita, refs)
    clock.set(when)
    reports: list[TickReport] = []
    errors: list[BaseException] = []
    go = threading.Barrier(4)

    def run() -> None:
        try:
            go.wait()
            reports.append(tick(gaita.db, gaita.rt, batch=2))   # small batches: claims interleave
        except BaseException as exc:   # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    total: Counter[str] = Counter()
    for r in reports:
        total.update(r.effects)
    assert sum(r.retried for r in reports) == 0
    assert total == expected
    assert sum(r.examined for r in reports) == len(refs)    # each task claimed once
    c = counts(gaita)
    assert (c["effects"]["breach"], c["events"]["overdue"]) == (len(refs), len(refs))
    assert sum(c["effects"].values()) == sum(expected.values())
    assert c["escalations"] == len(refs)
    assert duplicates(gaita) == {"events": [], "outbox": []}
    chains_verify(gaita)
    assert tick(gaita.db, gaita.rt).effects == {}


SWEEP_SCRIPT = """
import json, sys
from gaita.bootstrap import build_app
from gaita.settings import load_settings
from engine.escalation import tick
app = build_app(load_settings({"GAITA_DATABASE_URL": sys.argv[1], "GAITA_NOW": sys.argv[2]}))
sys.stdout.write(json.dumps(tick(app.db, app.rt, batch=int(sys.argv[3]), runner="proc").as_dict()))
"""


@pytest.mark.pg
@pytest.mark.slow
def test_ticks_in_processes_on_postgresql_do_each_effect_once(pg_server: Any) -> None:
    app = migrated_app(pg_server.new_database())
    try:
        refs = [open_in_state(app, case_type, n) for n, case_type in enumerate(CASE_TYPES * 5)]
        when = max(end_of_ladder(app, r) for r in refs)
        expected = expected_full_ladder(app, refs)
        url = app.db.url.render_as_string(hide_password=False)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        # Three `gaita sweep` processes and two with small batches, all at once.
        procs = [subprocess.Popen([sys.executable, "-m", "gaita", "--db", url, "--now",
                                   when.isoformat(), "sweep", "--json"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        procs += [subprocess.Popen([sys.executable, "-c", SWEEP_SCRIPT, url, when.isoformat(), "3"],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            outputs.append(json.loads(out))
        total: Counter[str] = Counter()
        for o in outputs:
            total.update(o["effects"])
        assert sum(o["retried"] for o in outputs) == 0
        assert total == expected
        assert sum(o["examined"] for o in outputs) == len(refs)
        c = counts(app)
        assert sum(c["effects"].values()) == sum(expected.values())
        assert c["escalations"] == len(refs)
        assert duplicates(app) == {"events": [], "outbox": []}
        chains_verify(app)
        with app.db.connect() as conn:
            runners = Counter(conn.execute(sa.select(RUN.c.runner)).scalars())
        assert runners == {"sweep": 3, "proc": 2}
        assert tick_at(app, when).effects == {}
    finally:
        app.db.dispose()


@pytest.mark.parametrize("hangs", ["after_its_claim", "inside_the_task_transaction"])
def test_a_stuck_tick_and_the_next_one_do_each_effect_once(
        db_url: str, monkeypatch: pytest.MonkeyPatch, hangs: str) -> None:
    """A tick that hangs (not dead) while a later tick, past its lease, runs.

    Hanging after its claim, it holds nothing: the later tick takes the task over
    and does what is due; the stuck one, resumed, finds every effect done and may
    not release a task it no longer holds.  Hanging inside the task's transaction,
    it keeps the task (PostgreSQL: the row is locked and skipped; SQLite: the
    later tick waits for the one writer), and the later tick finds nothing due."""
    slow, fast = make_test_app(db_url), make_test_app(db_url)
    try:
        ref = open_in_state(slow, "absences")
        task = state_task(slow, ref)
        inside, release = threading.Event(), threading.Event()
        name = "_check" if hangs == "after_its_claim" else "queue_mail"
        real = getattr(escalation, name)

        def hang_in_the_slow_tick(*args: Any, **kw: Any) -> Any:
            if threading.current_thread().name == "slow":
                inside.set()
                release.wait(30)
            return real(*args, **kw)

        monkeypatch.setattr(escalation, name, hang_in_the_slow_tick)
        reports: dict[str, TickReport] = {}

        def run(app: App, when: datetime) -> threading.Thread:
            app.rt.clock.set(when)   # type: ignore[attr-defined]  # the tests' FixedClock
            t = threading.Thread(name="slow" if app is slow else "fast", target=lambda: (
                reports.__setitem__("slow" if app is slow else "fast", tick(app.db, app.rt))))
            t.start()
            return t

        s = run(slow, task["due_at"])
        assert inside.wait(30)
        later = task["due_at"] + LEASE + SECOND
        f = run(fast, later)
        if hangs == "after_its_claim":
            f.join(30)
            assert reports["fast"].examined == 1
            assert reports["fast"].effects == {"unacknowledged": 1, "breach": 1,
                                               "ladder:remind_owner": 1}
        else:
            time.sleep(0.3)
        release.set()
        s.join(30)
        f.join(30)
        assert not s.is_alive() and not f.is_alive()
        if hangs == "after_its_claim":
            assert (reports["slow"].examined, reports["slow"].effects) == (1, {})
        else:
            assert reports["fast"].examined == 0
            assert reports["slow"].effects == {"unacknowledged": 1, "breach": 1,
                                               "ladder:remind_owner": 1}
        c = counts(slow)
        assert (c["events"]["overdue"], c["events"]["unacknowledged"]) == (1, 1)
        assert c["outbox"]["task_overdue"] == 1
        assert sum(c["effects"].values()) == 3
        assert duplicates(slow) == {"events": [], "outbox": []}
        after = state_task(slow, ref)
        head = slow.rt.calendar.due_at(task["due_at"],
                                       param(slow, "absences.escalate_head_days"))
        assert (after["check_token"], after["escalation_step"], after["next_check_at"]) == (
            None, 1, head)
        # The breach is recorded as of the tick that did it.
        assert after["breached_at"] == (later if hangs == "after_its_claim" else task["due_at"])
        assert tick_at(fast, head - SECOND).effects == {}
        chains_verify(slow)
    finally:
        slow.db.dispose()
        fast.db.dispose()


def act_between_claim_and_check(monkeypatch: pytest.MonkeyPatch, action: Any) -> None:
    """Run ``action`` (a user's change, in its own transaction) once, after the
    tick has claimed a task and before it checks it."""
    real = escalation._check
    done: list[bool] = []

    def check(*args: Any, **kw: Any) -> Any:
        if not done:
            done.append(True)
            action()
        return real(*args, **kw)

    monkeypatch.setattr(escalation, "_check", check)


def test_a_task_closed_after_the_claim_is_not_reported_overdue(
        gaita: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The school moves the case on while the tick holds its overdue task: no
    breach notice, no escalation for a task that is done."""
    ref = open_in_state(gaita, "absences")
    task = state_task(gaita, ref)
    clock.set(task["due_at"] + timedelta(days=20))
    act_between_claim_and_check(monkeypatch, lambda: fire(
        gaita.db, gaita.rt, ref, "attendance_restored", actor_for(gaita.db, "skola")))
    before = counts(gaita)
    report = tick(gaita.db, gaita.rt)
    assert report.effects == {}
    after = counts(gaita)   # only what the school's transition wrote
    assert after["events"] - before["events"] == Counter({"transition": 1})
    assert after["outbox"] - before["outbox"] == Counter({"task_assigned": 1})
    assert after["effects"] == Counter() and after["escalations"] == 0
    with gaita.db.connect() as conn:
        closed = conn.execute(sa.select(TASK).where(TASK.c.id == task["id"])).mappings().one()
    assert closed["closed_at"] is not None and closed["check_token"] is None
    assert closed["breached_at"] is None


def test_a_task_acknowledged_after_the_claim_is_not_recorded_unacknowledged(
        gaita: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.answers import TaskAction, answer

    ref = open_in_state(gaita, "absences")
    task = state_task(gaita, ref)
    clock.set(task["ack_due_at"])
    act_between_claim_and_check(monkeypatch, lambda: answer(
        gaita.db, gaita.rt, task["id"], TaskAction.ACKNOWLEDGE, actor_for(gaita.db, "skola")))
    assert tick(gaita.db, gaita.rt).effects == {}
    after = state_task(gaita, ref)
    assert (after["acknowledged_at"], after["unacknowledged_at"]) == (clock.now(), None)
    assert after["next_check_at"] == task["remind_at"] and after["check_token"] is None


def test_more_time_granted_after_the_claim_is_not_a_breach(
        gaita: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.answers import TaskAction, answer, decide_extension

    ref = open_in_state(gaita, "absences")
    task = state_task(gaita, ref)
    answer(gaita.db, gaita.rt, task["id"], TaskAction.MORE_TIME, actor_for(gaita.db, "skola"),
           reason="Ārsta izziņa", days=5)
    clock.set(task["due_at"])
    act_between_claim_and_check(monkeypatch, lambda: decide_extension(
        gaita.db, gaita.rt, ref, actor_for(gaita.db, "koordinatore"), approve=True))
    assert tick(gaita.db, gaita.rt).effects == {}
    after = state_task(gaita, ref)
    new_due = gaita.rt.calendar.due_at(task["due_at"], 5)
    new_remind = gaita.rt.calendar.due_at(task["remind_at"], 5)
    assert (after["due_at"], after["remind_at"], after["breached_at"]) == (
        new_due, new_remind, None)
    assert after["next_check_at"] == new_remind
    assert tick_at(gaita, new_remind).effects == {"reminder": 1}
    assert tick_at(gaita, new_due).effects == {"breach": 1, "ladder:remind_owner": 1}


def test_one_task_that_cannot_be_checked_does_not_stall_the_others(
        gaita: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Tasks are checked in id order; a task whose check fails (here: always) is
    logged and left to its lease, and every task after it is still done."""
    refs = [open_in_state(gaita, "absences", n) for n in range(3)]
    tasks = [state_task(gaita, r) for r in refs]
    bad = tasks[0]["id"]
    real = escalation._check

    def check(conn: Any, rt: Any, task: Any, *args: Any) -> Any:
        if task["id"] == bad:
            raise RuntimeError("a broken declaration")
        return real(conn, rt, task, *args)

    monkeypatch.setattr(escalation, "_check", check)
    when = tasks[0]["due_at"]
    report = tick_at(gaita, when)
    assert report.examined == 3 and report.retried == 1
    assert report.effects == {"unacknowledged": 2, "breach": 2, "ladder:remind_owner": 2}
    assert f"task {bad}" in caplog.text and "a broken declaration" in caplog.text
    held = state_task(gaita, refs[0])
    assert (held["next_check_at"], held["breached_at"]) == (when + LEASE, None)
    monkeypatch.setattr(escalation, "_check", real)       # mended: after the lease, done once
    assert tick_at(gaita, when + LEASE - SECOND).effects == {}
    assert tick_at(gaita, when + LEASE).effects == {
        "unacknowledged": 1, "breach": 1, "ladder:remind_owner": 1}
    assert duplicates(gaita) == {"events": [], "outbox": []}


# -- catch-up after downtime ---------------------------------------------------------

def test_after_two_weeks_down_one_tick_catches_up_across_18_november(gaita: App,
                                                                    clock: FixedClock) -> None:
    """Opened Monday 16 Nov 2026; Wednesday 18 Nov (Proclamation Day) is a holiday.
    The scheduler is down until Monday 30 Nov: one tick fires every step that fell
    due meanwhile, once; then it is down again over Christmas and New Year."""
    clock.set(datetime.fromisoformat("2026-11-16T09:00:00+02:00"))
    ref = open_in_state(gaita, "substances")
    task = state_task(gaita, ref)
    cal = gaita.rt.calendar
    days = param(gaita, "substances.board_report_days")
    assert days == 3
    # 3 working days after Mon 16 Nov, skipping Wed 18 Nov: Fri 20 Nov (not Thu 19).
    assert local(gaita, task["due_at"]) == date(2026, 11, 20)
    assert task["due_at"] == cal.due_at(clock.now(), days)
    before = counts(gaita)

    back = datetime.fromisoformat("2026-11-30T09:00:00+02:00")
    report = tick_at(gaita, back)
    assert report.examined == 1
    assert report.effects == {"unacknowledged": 1, "breach": 1, "ladder:remind_owner": 1,
                              "ladder:notify_owner_head": 1, "ladder:notify_coordinator": 1}
    after = counts(gaita)
    assert after["outbox"] - before["outbox"] == Counter(
        {"task_overdue": 2, "escalation_head": 1})   # owner's breach notice + the coordinator
    assert after["events"] - before["events"] == Counter(
        {"unacknowledged": 1, "overdue": 1, "escalated": 3})
    assert "reminder" not in after["effects"]    # its deadline had passed: the breach says more
    # The stall step: 15 working days after Fri 20 Nov is Fri 11 Dec.
    stall = cal.due_at(task["due_at"], param(gaita, "substances.stall_days"))
    assert local(gaita, stall) == date(2026, 12, 11)
    assert state_task(gaita, ref)["next_check_at"] == stall
    for _ in range(3):
        assert tick(gaita.db, gaita.rt).effects == {}
    assert counts(gaita) == after

    # Down again from 1 Dec until Tuesday 5 Jan 2027: the group step fires once.
    report = tick_at(gaita, datetime.fromisoformat("2027-01-05T09:00:00+02:00"))
    assert report.effects == {"ladder:queue_cooperation_group": 1}
    assert counts(gaita)["escalations"] == 1
    assert tick(gaita.db, gaita.rt).effects == {}
    assert state_task(gaita, ref)["next_check_at"] is None


def test_catch_up_over_christmas_and_new_year_fires_each_step_once(gaita: App,
                                                                  clock: FixedClock) -> None:
    refs = one_of_each(gaita)
    before = counts(gaita)
    expected = expected_full_ladder(gaita, refs)
    # Down from 30 Nov 2026 to 1 Feb 2027: 24-26 Dec, 31 Dec and 1 Jan are holidays.
    when = datetime.fromisoformat("2027-02-01T09:00:00+02:00")
    assert all(end_of_ladder(gaita, r) < when for r in refs)
    report = tick_at(gaita, when)
    assert report.effects == expected
    after = counts(gaita)
    n = len(refs)
    assert after["events"] - before["events"] == Counter(
        {"unacknowledged": n, "overdue": n, "escalated": sum(
            v for k, v in expected.items() if k.startswith("ladder:")), "queued": n})
    assert after["outbox"] - before["outbox"] == Counter(
        {"task_overdue": 2 * n, "escalation_head": n, "group_queued": n})
    assert after["escalations"] == n
    assert tick(gaita.db, gaita.rt).effects == {}
    assert tick_at(gaita, when + timedelta(days=30)).effects == {}
    assert counts(gaita) == after


# -- a tick killed part way ------------------------------------------------------------

KILLABLE_TICK = """
import sys, time
import engine.escalation as escalation
from gaita.bootstrap import build_app
from gaita.settings import load_settings
real = escalation.queue_mail
def slow_queue_mail(*args, **kw):
    real(*args, **kw)
    time.sleep(0.02)   # inside the task's transaction: a kill here rolls it back
escalation.queue_mail = slow_queue_mail
app = build_app(load_settings({"GAITA_DATABASE_URL": sys.argv[1], "GAITA_NOW": sys.argv[2]}),
                create=True)
print("started", flush=True)
escalation.tick(app.db, app.rt, runner="doomed")
print("finished", flush=True)
"""


def wait_until(check: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("gave up waiting")
        time.sleep(0.01)


@pytest.mark.slow
def test_a_tick_killed_part_way_loses_and_doubles_nothing_after_a_restart(
        gaita: App, clock: FixedClock) -> None:
    refs = [open_in_state(gaita, case_type, n) for n, case_type in enumerate(CASE_TYPES * 8)]
    when = max(end_of_ladder(gaita, r) for r in refs)
    expected = expected_full_ladder(gaita, refs)
    total = sum(expected.values())
    url = gaita.db.url.render_as_string(hide_password=False)
    doomed = subprocess.Popen([sys.executable, "-c", KILLABLE_TICK, url, when.isoformat()],
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: doomed.poll() is not None
                   or sum(counts(gaita)["effects"].values()) >= total // 3)
        assert doomed.poll() is None, doomed.communicate()
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(10)
    done = sum(counts(gaita)["effects"].values())
    assert 0 < done < total
    with gaita.db.connect() as conn:
        held = conn.execute(sa.select(TASK.c.id, TASK.c.next_check_at).where(
            TASK.c.check_token.is_not(None))).all()
        assert conn.execute(sa.select(RUN)).first() is None   # the tick never finished
    assert held, "the killed tick held claims"
    assert {r.next_check_at for r in held} == {when + LEASE}
    # Restarted at once: the dead tick's claims still hold, so nothing is done twice...
    assert tick_at(gaita, when).examined == 0
    # ...and when its lease has run out the rest is done, once.
    report = tick_at(gaita, when + LEASE)
    assert report.examined == len(held)
    assert sum(counts(gaita)["effects"].values()) == total
    c = counts(gaita)
    assert c["escalations"] == len(refs)
    assert c["events"]["overdue"] == len(refs) and c["outbox"]["group_queued"] == len(refs)
    assert duplicates(gaita) == {"events": [], "outbox": []}
    chains_verify(gaita)
    assert tick(gaita.db, gaita.rt).effects == {}
    with gaita.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(TASK).where(
            TASK.c.check_token.is_not(None))).scalar_one() == 0


def test_a_step_reported_done_is_not_reminded_or_escalated_against_the_institution(
        gaita: App, clock: FixedClock) -> None:
    """The school reported its step done without choosing the next one: the case waits
    for the coordinator (the "reported done" queue), and the school's deadline passing
    sends it no reminder, no breach notice and climbs no ladder."""
    ref = open_in_state(gaita, "absences")
    task = state_task(gaita, ref)
    answer(gaita.db, gaita.rt, task["id"], TaskAction.DONE, actor_for(gaita.db, "skola"))
    before = counts(gaita)
    assert tick_at(gaita, task["due_at"] + timedelta(days=30)).effects == {}
    assert counts(gaita) == before
    after = state_task(gaita, ref)
    assert after["breached_at"] is None and after["next_check_at"] is None
