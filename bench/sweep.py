"""The scheduler sweep: ``engine.escalation.tick`` over 1,000 due tasks, as the backlog grows.

Per backend (a throwaway PostgreSQL from ``tests.pg``; a SQLite WAL file in a
temp dir), one database is prepared and then copied once per size (PostgreSQL
``CREATE DATABASE ... TEMPLATE``, the SQLite backup API), so all sizes hold the
same due tasks:

* **due**: 1,000 ``absences`` cases opened with ``open_case`` (state
  parent_contact: a same-day deadline, the urgent ladder).  The clock is then
  set to the next morning, so each of their tasks is due: the tick marks the
  breach (an event, an email) and climbs two ladder steps (head, coordinator:
  two events, two emails), each task in its own transaction;
* **backlog** (``bench.backlog``, bulk SQL): the other open tasks, up to the
  size, each on its own case, checked some time in the next 20 days;
* **closed**: as many closed tasks as open ones (``closed_per_open``), with
  their last ``next_check_at`` in the past, as a closed task keeps it:
  ``ix_task_next_check`` leaves them out, an ordinary index would not.

On PostgreSQL a plain ``VACUUM task`` runs before every tick and every batch
of claims, as autovacuum would between ticks (its threshold is 20 % of the
table: it would clean the small databases, not the large one).

Timing, the databases interleaved so that drift on the machine hits them alike:

* **tick**: the whole ``tick(db, rt)``.  Before each, the 1,000 due tasks are
  put back as they were (their scheduler columns; their ``task_effect`` rows
  deleted), so every tick does the same work; the bench fails if a tick
  examines or does anything else.  One untimed tick on the smallest database,
  then ``rounds`` rounds of one tick per database, each round starting with the
  next database; the median is reported;
* **claim**: the tick's own claim statement (``UPDATE task ... WHERE id IN
  (SELECT id ... WHERE closed_at IS NULL AND next_check_at <= :now ORDER BY
  next_check_at LIMIT 500 [FOR UPDATE SKIP LOCKED]) RETURNING *``), alone, in a
  transaction rolled back each time; **search**: its SELECT alone;
* **full scan** (the baseline, DESIGN.md §9): the same claim without the
  partial index.  On PostgreSQL the index is dropped inside the transaction and
  comes back with the rollback; on SQLite the subquery reads ``task NOT
  INDEXED``.  Both must take the same 500 tasks as the claim (checked).

The query plans (``EXPLAIN``) are kept in the result.
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bench.backlog import count_tasks, load_backlog
from engine.cases import open_case
from engine.escalation import _claim_statement, tick
from engine.queries import actor_for
from engine.store import CASE, EFFECT, EVENT, TASK
from engine.tables import UTCDateTime
from gaita.bootstrap import App, build_app
from gaita.demo import demo_code
from gaita.settings import load_settings
from tests.conftest import START, make_test_app

Log = Callable[[str], None]
CASE_TYPE = "absences"
USER = "koordinatore"
BATCH = 500                             # tick()'s claim size
NOW = START + timedelta(days=1)         # Tuesday 09:00 Riga: the parent_contact deadlines passed
SCHEDULER_COLUMNS = ("breached_at", "reminded_at", "unacknowledged_at", "check_token")


# -- the due tasks -----------------------------------------------------------------------------

@dataclass(frozen=True)
class DueTasks:
    """The due tasks' ids and their first ``next_check_at``, staggered by a second
    each so that ``ORDER BY next_check_at LIMIT 500`` has no ties."""
    ids: list[int]
    rows: list[dict[str, Any]]
    school: str
    child: int
    event: int


def open_due(url: str, n: int, log: Log) -> DueTasks:
    app = make_test_app(url)
    try:
        db, rt = app.db, app.rt
        actor = actor_for(db, USER)
        school = rt.municipality.institutions_with_role("school")[0].code
        log(f"  opening {n:,} cases with open_case: their tasks are the due ones")
        for i in range(n):
            open_case(db, rt, CASE_TYPE, actor, child_name=f"Sweep Child {i}",
                      child_code=demo_code(i), school=school, fields={"age_group": "basic"})
        with db.connect() as conn:
            rows = conn.execute(sa.select(TASK.c.id, TASK.c.next_check_at)
                                .where(TASK.c.closed_at.is_(None)).order_by(TASK.c.id)).all()
            child = conn.execute(sa.select(CASE.c.child_id).limit(1)).scalar_one()
            event = conn.execute(sa.select(sa.func.min(EVENT.c.id))).scalar_one()
    finally:
        app.db.dispose()
    if len(rows) != n or any(r.next_check_at > NOW for r in rows):
        raise RuntimeError("the opened cases' tasks are not all due at the bench's time")
    return DueTasks([r.id for r in rows],
                    [{"b_id": r.id, "b_check": r.next_check_at - timedelta(seconds=k)}
                     for k, r in enumerate(rows)], school, int(child), int(event))


_RESET = (sa.update(TASK).where(TASK.c.id == sa.bindparam("b_id"))
          .values(next_check_at=sa.bindparam("b_check"), escalation_step=0,
                  **dict.fromkeys(SCHEDULER_COLUMNS)))


@dataclass
class Bed:
    """One database at one size."""
    size: int
    app: App
    due: DueTasks
    open: int = 0
    closed: int = 0

    def reset(self) -> None:
        """The due tasks as they were before any tick."""
        with self.app.db.begin() as conn:
            conn.execute(_RESET, self.due.rows)
            conn.execute(sa.delete(EFFECT).where(EFFECT.c.task_id.in_(self.due.ids)))

    def vacuum(self) -> None:
        if self.app.db.dialect.name == "postgresql":
            with self.app.db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM task"))


def attach(url: str) -> App:
    return build_app(load_settings({"GAITA_DATABASE_URL": url, "GAITA_NOW": NOW.isoformat()}),
                     create=True)


# -- timing ------------------------------------------------------------------------------------

def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def tick_once(bed: Bed, expected: dict[str, int] | None) -> tuple[float, dict[str, int]]:
    bed.reset()
    bed.vacuum()
    t0 = time.perf_counter()
    report = tick(bed.app.db, bed.app.rt, batch=BATCH, runner="bench")
    elapsed = _ms(t0)
    effects = dict(report.effects)
    if report.examined != len(bed.due.ids) or report.retried or (
            expected is not None and effects != expected):
        raise RuntimeError(f"a tick did other work than the first one: {report.as_dict()}")
    return elapsed, effects


def _search_statement() -> sa.Select[Any]:
    """The claim's SELECT alone (what the index serves), without locking or writing."""
    return (sa.select(TASK.c.id)
            .where(TASK.c.closed_at.is_(None), TASK.c.next_check_at <= sa.bindparam("b_now"))
            .order_by(TASK.c.next_check_at).limit(sa.bindparam("b_limit")))


def _sqlite_full_scan_claim() -> sa.Update:
    """The tick's claim with its subquery reading ``task NOT INDEXED``."""
    def col(name: str, type_: Any = None) -> sa.ColumnClause[Any]:
        return sa.literal_column(name, type_)
    due = (sa.select(col("id")).select_from(sa.text("task NOT INDEXED"))
           .where(col("closed_at").is_(None),
                  col("next_check_at", UTCDateTime()) <= sa.bindparam("b_now", type_=UTCDateTime()))
           .order_by(col("next_check_at")).limit(sa.bindparam("b_limit")))
    return sa.update(TASK).where(TASK.c.id.in_(due.scalar_subquery())).returning(*TASK.c)


@contextmanager
def _rolled_back(db: sa.Engine, *, without_index: bool) -> Iterator[sa.Connection]:
    with db.connect() as conn:
        trans = conn.begin()
        try:
            if without_index and db.dialect.name == "postgresql":
                conn.execute(sa.text("DROP INDEX ix_task_next_check"))
            yield conn
        finally:
            trans.rollback()


@contextmanager
def _captured(conn: sa.Connection) -> Iterator[list[tuple[str, Any]]]:
    """The SQL and parameters the driver gets."""
    seen: list[tuple[str, Any]] = []

    def grab(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))
    sa.event.listen(conn, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        sa.event.remove(conn, "before_cursor_execute", grab)


def _plan(conn: sa.Connection, statement: str, parameters: Any) -> str:
    """The query plan, on one line (EXPLAIN runs nothing)."""
    if conn.dialect.name == "postgresql":
        lines = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
        return " | ".join(re.sub(r"\s*\(cost=[^)]*\)", "", line).strip() for line in lines)
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return " | ".join(str(r[-1]) for r in rows)


class Claims:
    """One database's claim, its SELECT alone, and the full-scan claim, each run in a
    transaction that is rolled back, so every run takes the same tasks."""

    def __init__(self, bed: Bed):
        self.bed = bed
        dialect = bed.app.db.dialect.name
        claim = _claim_statement(dialect)
        self.statements = {"claim": claim, "search": _search_statement(),
                           "full_scan": claim if dialect == "postgresql"
                           else _sqlite_full_scan_claim()}
        self.taken: dict[str, set[int]] = {}
        self.times: dict[str, list[float]] = {name: [] for name in self.statements}
        self.plans: dict[str, str] = {}

    def run(self, name: str, k: int) -> None:
        """Run ``name`` once; the first run (k=0) is untimed and records the plan."""
        params = {"b_now": NOW, "b_limit": BATCH, "check_token": f"bench{k}",
                  "next_check_at": NOW + timedelta(minutes=5)}
        stmt = self.statements[name]
        with _rolled_back(self.bed.app.db, without_index=name == "full_scan") as conn:
            if k == 0:
                with _captured(conn) as seen:
                    ids = set(conn.execute(stmt, params).scalars())
                self.plans[name] = _plan(conn, *seen[-1])
            else:
                t0 = time.perf_counter()
                ids = set(conn.execute(stmt, params).scalars())
                self.times[name].append(_ms(t0))
        if len(ids) != min(len(self.bed.due.ids), BATCH) or self.taken.setdefault(name, ids) != ids:
            raise RuntimeError(f"the {name} took other tasks from one run to the next")

    def result(self) -> dict[str, Any]:
        if not self.taken["claim"] == self.taken["search"] == self.taken["full_scan"]:
            raise RuntimeError("the claim with and without the index took different tasks")
        out: dict[str, Any] = {}
        for name, times in self.times.items():
            out[f"{name}_ms"] = statistics.median(times)
            out[f"{name}_runs_ms"] = [round(t, 3) for t in times]
            out[f"{name}_plan"] = self.plans[name]
        return out


def time_claims(beds: list[Bed], claims: int, scans: int) -> list[dict[str, Any]]:
    """Per database: ms per claim of 500, per search, per full-scan claim (medians),
    the databases interleaved run by run."""
    runs = [Claims(bed) for bed in beds]
    for bed in beds:
        bed.reset()
        bed.vacuum()
    for name, n in (("claim", claims), ("search", claims), ("full_scan", scans)):
        for k in range(n + 1):
            for c in runs:
                c.run(name, k)
    return [c.result() for c in runs]


# -- one backend -------------------------------------------------------------------------------

def measure(base_url: str, clone: Callable[[str], str], *, sizes: tuple[int, ...], due: int,
            closed_per_open: float, rounds: int, claims: int, scans: int,
            log: Log) -> dict[str, Any]:
    tasks = open_due(base_url, due, log)
    beds: list[Bed] = []
    try:
        for size in sorted(sizes):
            t0 = time.perf_counter()
            bed = Bed(size, attach(clone(f"sweep_{size}")), tasks)
            beds.append(bed)
            load_backlog(bed.app.db, open_rows=size - due, closed_rows=int(size * closed_per_open),
                         school=tasks.school, child=tasks.child, event=tasks.event,
                         opened=START, now=NOW)
            bed.open, bed.closed = count_tasks(bed.app.db)
            log(f"  {bed.open:,} open tasks ({due:,} due) and {bed.closed:,} closed: "
                f"loaded in {time.perf_counter() - t0:.0f} s")
        ticks: dict[int, list[float]] = {bed.size: [] for bed in beds}
        expected: dict[str, int] | None = None
        log(f"  warm-up: one untimed tick over the {due:,} due tasks, {beds[0].size:,} open")
        _, expected = tick_once(beds[0], None)
        for r in range(rounds):   # each round starts with the next database: no fixed order
            log(f"  round {r + 1}/{rounds}: one tick over the {due:,} due tasks in each database")
            for bed in beds[r % len(beds):] + beds[:r % len(beds)]:
                elapsed, expected = tick_once(bed, expected)
                ticks[bed.size].append(elapsed)
        log(f"  {claims} claims, {claims} searches and {scans} full scans in each database")
        points = [{"size": bed.size, "open": bed.open, "closed": bed.closed, "due": due,
                   "tick_ms": statistics.median(ticks[bed.size]),
                   "tick_runs_ms": [round(t, 1) for t in ticks[bed.size]], **claimed}
                  for bed, claimed in zip(beds, time_claims(beds, claims, scans), strict=True)]
    finally:
        for bed in beds:
            bed.app.db.dispose()
    first, last = points[0], points[-1]
    return {"points": points, "effects_per_tick": expected, "batch": BATCH, "rounds": rounds,
            "closed_per_open": closed_per_open,
            "tick_ratio": last["tick_ms"] / first["tick_ms"],
            "claim_ratio": last["claim_ms"] / first["claim_ms"],
            "search_ratio": last["search_ms"] / first["search_ms"],
            "scan_ratio": last["full_scan_ms"] / last["claim_ms"]}


def run_postgres(log: Log, **kw: Any) -> dict[str, Any]:
    from tests.pg import PostgresServer, pg_bin

    if pg_bin() is None:
        return {"backend": "postgresql", "skipped": "PostgreSQL server binaries not installed"}
    server = PostgresServer()
    try:
        base = server.new_database()
        admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            version = str(conn.execute(sa.text("SHOW server_version")).scalar_one()).split()[0]

        def clone(name: str) -> str:
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {base.rsplit('/', 1)[1]}"))
            return server.url(name)
        try:
            result = measure(base, clone, log=log, **kw)
        finally:
            admin.dispose()
    finally:
        server.stop()
    return {"backend": "postgresql", "version": version, **result}


def run_sqlite(log: Log, **kw: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gaita-bench-sweep-") as d:
        def clone(name: str) -> str:
            src, dst = sqlite3.connect(f"{d}/base.db"), sqlite3.connect(f"{d}/{name}.db")
            src.backup(dst)
            src.close()
            dst.close()
            return f"sqlite:///{d}/{name}.db"
        result = measure(f"sqlite:///{d}/base.db", clone, log=log, **kw)
    return {"backend": "sqlite", "version": sqlite3.sqlite_version, **result}
