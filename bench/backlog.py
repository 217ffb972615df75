"""Bulk rows for ``bench.sweep``: a backlog of open tasks, and closed ones, in plain SQL.

``open_case`` per row would take hours for a million tasks, so the backlog is
written with ``INSERT ... SELECT`` over ``generate_series`` (PostgreSQL) or a
recursive CTE (SQLite):

* one case per open task (``absences``, in_school_support, reference
  ``SWP-<n>``), all for one real child;
* its open state task (``kind`` 'state'), due, and first checked, in the 20
  days after the given ``now`` plus an hour: never due during the bench;
* closed state tasks on those cases (``status`` 'done'), whose ``next_check_at``
  stays in the past, as a closed task's does (closing does not clear it).

Every task points at one real event (``opened_by_event``).  Times are written
as ``UTCDateTime`` stores them.  On PostgreSQL the load skips the per-row
foreign-key triggers (``session_replication_role = replica``: the rows are
valid by construction) and drops the two tables' indexes, building them again
afterwards, sorted (checked identical to the schema's), then runs
``VACUUM ANALYZE``.  The tables stay ordinary logged tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from engine.store import CASE, TASK

CASE_TYPE = "absences"
PREFIX = "SWP"            # references of the backlog's cases
SPREAD = 20 * 86400       # open tasks' checks, and closed tasks' last ones, over 20 days (s)


def _series(dialect: str) -> tuple[str, str]:
    """(WITH prefix, FROM source) for the integers :lo..:hi as ``g(n)``."""
    if dialect == "postgresql":
        return "", "generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g(n)"
    return ("WITH RECURSIVE g(n) AS (SELECT :lo UNION ALL SELECT n + 1 FROM g WHERE n < :hi) ",
            "g")


def _at(dialect: str, base: str, seconds: str) -> str:
    """SQL for the instant ``:base`` plus ``seconds`` (an SQL expression), stored as
    ``UTCDateTime`` stores it (SQLite: naive UTC text with microseconds)."""
    if dialect == "postgresql":
        return f"(CAST(:{base} AS timestamptz) + ({seconds}) * interval '1 second')"
    plus = f"'+' || ({seconds}) || ' seconds'"
    return f"(strftime('%Y-%m-%d %H:%M:%S', :{base}, {plus}) || '.000000')"


def _instant(dialect: str, t: datetime) -> str:
    utc = t.astimezone(UTC)
    return utc.isoformat() if dialect == "postgresql" else utc.strftime("%Y-%m-%d %H:%M:%S")


def load_backlog(db: sa.Engine, *, open_rows: int, closed_rows: int, school: str, child: int,
                 event: int, opened: datetime, now: datetime) -> None:
    """``open_rows`` cases opened at ``opened``, each with one open state task whose
    check comes after ``now``, then ``closed_rows`` closed tasks spread over them."""
    d = db.dialect.name
    with_, source = _series(d)
    params = {"school": school, "child": child, "event": event, "start": _instant(d, opened),
              "future": _instant(d, now + timedelta(hours=1)),
              "past": _instant(d, opened - timedelta(days=30))}
    json = "CAST('{}' AS json)" if d == "postgresql" else "'{}'"
    start = _at(d, "start", "0")
    check = _at(d, "future", f"(CAST(id AS bigint) * 7919) % {SPREAD}")
    past = _at(d, "past", f"(n * 7919) % {SPREAD}")
    indexes = sa.text("SELECT indexdef FROM pg_indexes WHERE tablename IN ('case', 'task') "
                      "ORDER BY indexname")
    with db.begin() as conn:
        if d == "postgresql":
            before = conn.execute(indexes).scalars().all()
            # The rows are valid by construction: no per-row foreign-key triggers, and the
            # tables' indexes are dropped here and built again (sorted: faster) below.
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text("SET LOCAL maintenance_work_mem = '256MB'"))
            for ix in (*CASE.indexes, *TASK.indexes):
                ix.drop(conn)
        first = conn.execute(sa.select(sa.func.max(CASE.c.id))).scalar_one()
        conn.execute(sa.text(
            f'{with_}INSERT INTO "case" (reference, case_type, definition_version, state, '
            "status, owner_institution, school_institution, child_id, risk_level, data, "
            "version, event_seq, last_event_hash, opened_at, updated_at, paused_working_days) "
            f"SELECT '{PREFIX}-' || CAST(n AS text), '{CASE_TYPE}', 1, 'in_school_support', "
            f"  'open', :school, :school, :child, 'medium', {json}, 1, 1, '', {start}, {start}, 0 "
            f"FROM {source} ORDER BY n"), {**params, "lo": 1, "hi": open_rows})
        conn.execute(sa.text(
            "INSERT INTO task (case_id, kind, state, assignee_institution, opened_at, due_at, "
            "status, opened_by_event, next_check_at, escalation_step) "
            f"SELECT id, 'state', 'in_school_support', :school, {start}, {check}, 'open', "
            f'  :event, {check}, 0 FROM "case" WHERE id > :first ORDER BY id'),
            {**params, "first": first})
        if closed_rows:
            conn.execute(sa.text(
                f"{with_}INSERT INTO task (case_id, kind, state, assignee_institution, "
                "opened_at, due_at, closed_at, status, opened_by_event, closed_by_event, "
                "next_check_at, escalation_step) "
                f"SELECT :first + 1 + n % {open_rows}, 'state', 'in_school_support', :school, "
                f"  {past}, {past}, {start}, 'done', :event, :event, {past}, 0 FROM {source}"),
                {**params, "first": first, "lo": 0, "hi": closed_rows - 1})
        if d == "postgresql":
            for ix in (*CASE.indexes, *TASK.indexes):
                ix.create(conn)
            if conn.execute(indexes).scalars().all() != before:
                raise RuntimeError("the indexes built again differ from the schema's")
    if d == "postgresql":
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text('VACUUM ANALYZE "case"'))
            conn.execute(sa.text("VACUUM ANALYZE task"))


def count_tasks(db: sa.Engine) -> tuple[int, int]:
    """(open, closed) tasks."""
    with db.connect() as conn:
        n_open = conn.execute(sa.select(sa.func.count()).select_from(TASK)
                              .where(TASK.c.closed_at.is_(None))).scalar_one()
        n_all = conn.execute(sa.select(sa.func.count()).select_from(TASK)).scalar_one()
    return int(n_open), int(n_all - n_open)
