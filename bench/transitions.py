"""Durable transitions: ``engine.cases.fire`` against raw SQLAlchemy Core writes.

Measured on one backend at a time (a SQLite WAL file in a temp dir, or a
throwaway PostgreSQL started by ``tests.pg.PostgresServer``):

* ``fire``: ``fire(db, rt, reference, trigger, actor)`` as the coordinator
  "koordinatore", looping ``absences`` cases round-robin through the cycle
  in_school_support -attendance_restored-> attendance_monitoring
  -absences_resumed-> in_school_support (never closing).  Each call loads the
  case, checks trigger/role/fields/guards, asks the shared machine, hashes the
  event, computes the deadline, and writes in one transaction.
* ``core`` and ``prebuilt`` (the baselines, ``bench.baseline``): the same five
  writes per transition on the same tables in one transaction, as plain Core
  with no reads and no checks (case id/version/sequence kept in memory); ``core``
  builds each statement per call as ``engine.cases`` does, ``prebuilt`` builds
  them once with ``bindparam``.

Each side gets its own database, prepared the same way: N cases are opened
with ``open_case`` and moved to in_school_support by ``record_unjustified``,
then that database is copied for each baseline (SQLite backup API; PostgreSQL
``CREATE DATABASE ... TEMPLATE``), so all start from identical rows.
After a warm-up, the timed transitions run in interleaved blocks
(fire, core, prebuilt, fire, ...) so that drift on the machine hits all alike.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import cycle
from typing import Any

import sqlalchemy as sa

from bench.baseline import core_steps, plan, prebuilt_steps
from engine.cases import fire, open_case
from engine.queries import actor_for
from engine.runtime import Actor
from engine.store import CASE, EVENT
from gaita.bootstrap import App, build_app
from gaita.demo import demo_code
from gaita.settings import load_settings
from tests.conftest import START, make_test_app

NOW = START.isoformat()   # a Monday
CASE_TYPE = "absences"
USER = "koordinatore"
CYCLE = {"in_school_support": "attendance_restored", "attendance_monitoring": "absences_resumed"}
Log = Callable[[str], None]


@dataclass
class Slot:
    reference: str
    id: int
    state: str
    version: int
    event_seq: int
    data: dict[str, Any]


class Bed:
    """One prepared database and the cases looping in it (taken round-robin)."""

    def __init__(self, app: App, actor: Actor, cases: list[Slot]):
        self.app, self.actor, self._order = app, actor, cycle(cases)

    def take(self) -> Slot:
        return next(self._order)


def populate(url: str, n: int) -> None:
    """Schema, institutions and demo users (as ``tests.conftest.make_test_app``), then
    ``n`` absences cases opened and moved to in_school_support through the engine."""
    app = make_test_app(url)
    db, rt = app.db, app.rt
    actor = actor_for(db, USER)
    school = rt.municipality.institutions_with_role("school")[0].code
    refs = [open_case(db, rt, CASE_TYPE, actor, child_name=f"Bench Child {i}",
                      child_code=demo_code(i), school=school,
                      fields={"age_group": "basic"}).reference for i in range(n)]
    for ref in refs:
        fire(db, rt, ref, "record_unjustified", actor, {"parents_reached": True})
    db.dispose()


def attach(url: str) -> Bed:
    app = build_app(load_settings({"GAITA_DATABASE_URL": url, "GAITA_NOW": NOW}), create=True)
    with app.db.connect() as conn:
        rows = conn.execute(sa.select(CASE.c.reference, CASE.c.id, CASE.c.state, CASE.c.version,
                                      CASE.c.event_seq, CASE.c.data).order_by(CASE.c.id)).all()
    return Bed(app, actor_for(app.db, USER), [Slot(*row) for row in rows])


def fire_steps(bed: Bed, k: int) -> None:
    db, rt, actor = bed.app.db, bed.app.rt, bed.actor
    for _ in range(k):
        slot = bed.take()
        slot.state = fire(db, rt, slot.reference, CYCLE[slot.state], actor).to_state


def _events(bed: Bed) -> int:
    with bed.app.db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(EVENT)).scalar_one())


def measure(url_fire: str, clone: Callable[[str], str], *, cases: int, transitions: int,
            rounds: int, warmup: int, log: Log) -> dict[str, Any]:
    log(f"  preparing {cases} cases, then copying that database for each baseline")
    populate(url_fire, cases)
    urls = {"fire": url_fire, "core": clone("core"), "prebuilt": clone("prebuilt")}
    beds = {name: attach(url) for name, url in urls.items()}
    try:
        rt = beds["core"].app.rt
        steps = plan(rt, CASE_TYPE, CYCLE, rt.municipality.institutions_with_role("school")[0].code)
        def raw(bed: Bed, how: Callable[..., None]) -> Callable[[int], None]:
            return lambda k: how(bed.app.db, bed.actor, bed.take, k, steps, rt.clock.now())
        sides = {"fire": lambda k: fire_steps(beds["fire"], k),
                 "core": raw(beds["core"], core_steps),
                 "prebuilt": raw(beds["prebuilt"], prebuilt_steps)}
        for run in sides.values():
            run(warmup)
        before = {name: _events(bed) for name, bed in beds.items()}
        per = max(1, transitions // rounds)
        spent = dict.fromkeys(sides, 0.0)
        for r in range(rounds):
            log(f"  round {r + 1}/{rounds}: {per} transitions each for {', '.join(sides)}")
            for name, run in sides.items():
                t0 = time.perf_counter()
                run(per)
                spent[name] += time.perf_counter() - t0
        done = per * rounds
        if any(_events(bed) - before[name] != done for name, bed in beds.items()):
            raise RuntimeError("event rows written do not match the transitions timed")
    finally:
        for bed in beds.values():
            bed.app.db.dispose()
    us = {name: spent[name] / done * 1e6 for name in sides}
    return {"cases": cases, "transitions": done,
            **{f"{name}_us": v for name, v in us.items()},
            **{f"{name}_per_s": 1e6 / v for name, v in us.items()},
            "ratio": us["fire"] / us["core"], "ratio_prebuilt": us["fire"] / us["prebuilt"]}


def run_sqlite(log: Log, **kw: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gaita-bench-") as d:
        def clone(name: str) -> str:
            src, dst = sqlite3.connect(f"{d}/fire.db"), sqlite3.connect(f"{d}/{name}.db")
            src.backup(dst)
            src.close()
            dst.close()
            return f"sqlite:///{d}/{name}.db"
        result = measure(f"sqlite:///{d}/fire.db", clone, log=log, **kw)
    return {"backend": "sqlite", "version": sqlite3.sqlite_version, **result}


def run_postgres(log: Log, **kw: Any) -> dict[str, Any]:
    from tests.pg import PostgresServer, pg_bin

    if pg_bin() is None:
        return {"backend": "postgresql", "skipped": "PostgreSQL server binaries not installed"}
    server = PostgresServer()
    try:
        url_fire = server.new_database()
        admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        source = url_fire.rsplit("/", 1)[1]
        def clone(name: str) -> str:
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE bench_{name} TEMPLATE {source}"))
            return server.url(f"bench_{name}")
        result = measure(url_fire, clone, log=log, **kw)
        admin.dispose()
    finally:
        server.stop()
    return {"backend": "postgresql", "version": str(version).split()[0], **result}
