"""Where a case's rows live: the table handles the engine writes with Core
statements, reading one case row, and the few storage idioms every writer shares.

The hot path (``engine.cases``) issues Core statements on these tables, never
the ORM unit of work (DESIGN.md §4).  A case row comes back as a plain ``dict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.errors import CaseNotFound, StaleCase
from engine.tables import (
    AccessLog,
    ActionToken,
    Case,
    CaseEvent,
    CaseParty,
    Child,
    ChildNameWord,
    Decision,
    Escalation,
    Institution,
    Meeting,
    Outbox,
    ReferenceCounter,
    SchedulerRun,
    Task,
    TaskEffect,
    User,
    table,
)

CASE = table(Case)
EVENT = table(CaseEvent)
TASK = table(Task)
OUTBOX = table(Outbox)
CHILD = table(Child)
COUNTER = table(ReferenceCounter)
INSTITUTION = table(Institution)
ESCALATION = table(Escalation)
MEETING = table(Meeting)
DECISION = table(Decision)
ACCESS = table(AccessLog)
ACTION_TOKEN = table(ActionToken)
EFFECT = table(TaskEffect)
RUN = table(SchedulerRun)
USER = table(User)
PARTY = table(CaseParty)
NAME_WORD = table(ChildNameWord)

#: A row as read, by column name: SQLAlchemy's ``RowMapping`` (whose keys may also be
#: columns) or a plain ``dict``.
Row = Mapping[Any, Any]

_SELECT_CASE = sa.select(CASE).where(CASE.c.reference == sa.bindparam("b_reference"))
_CASE_VERSION = sa.select(CASE.c.version).where(CASE.c.id == sa.bindparam("b_id"))
_REFERENCE_OF = sa.select(CASE.c.reference).where(CASE.c.id == sa.bindparam("b_id"))


def load_case_row(conn: sa.Connection, reference: str) -> dict[str, Any]:
    """The case's row (``CaseNotFound`` if there is none)."""
    row = conn.execute(_SELECT_CASE, {"b_reference": reference}).mappings().first()
    if row is None:
        raise CaseNotFound(reference)
    return dict(row)


def reference_of(conn: sa.Connection, case_id: int) -> str:
    return str(conn.execute(_REFERENCE_OF, {"b_id": case_id}).scalar_one())


def stored_version(conn: sa.Connection, case_id: int) -> int | None:
    """The case's version as stored now (what a ``StaleCase`` reports)."""
    return conn.execute(_CASE_VERSION, {"b_id": case_id}).scalar()


def require_version(case: Row, expected_version: int | None) -> None:
    """``StaleCase`` unless the case row is at the version the caller's form or command
    was based on (None: the caller did not say)."""
    if expected_version is not None and expected_version != case["version"]:
        raise StaleCase(case["reference"], expected_version, case["version"])


def insert_or_ignore(conn: sa.Connection, table: sa.Table, *unique: str) -> Any:
    """``INSERT … ON CONFLICT (unique) DO NOTHING`` on this connection's dialect (SQLite
    and PostgreSQL both have it), built once per dialect and table."""
    return _insert_or_ignore(conn.dialect.name, table, unique)


@cache
def _insert_or_ignore(dialect: str, table: sa.Table, unique: tuple[str, ...]) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=[table.c[c] for c in unique])


@cache
def _next_reference_statement(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(COUNTER).values(prefix=sa.bindparam("b_prefix"), year=sa.bindparam("b_year"),
                                  last=1)
    return stmt.on_conflict_do_update(index_elements=[COUNTER.c.prefix, COUNTER.c.year],
                                      set_={"last": COUNTER.c.last + 1}).returning(COUNTER.c.last)


def next_reference(conn: sa.Connection, prefix: str, year: int) -> str:
    """The next public case reference (``KAV-2026-00042``); atomic even when two
    openings of a year's first case race."""
    number = conn.execute(_next_reference_statement(conn.dialect.name),
                          {"b_prefix": prefix, "b_year": year}).scalar_one()
    return f"{prefix}-{year}-{number:05d}"
