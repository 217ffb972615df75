"""Alembic: an empty database upgrades to head, and head matches the table definitions."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from engine.db import create_db_engine
from gaita.dbsetup import current_revision, migrate


def test_empty_database_migrates_to_head_and_matches_the_models(db_url: str) -> None:
    db = create_db_engine(db_url, create=True)
    assert current_revision(db) is None
    migrate(db)
    head = current_revision(db)
    assert head is not None
    migrate(db)   # idempotent
    assert current_revision(db) == head
    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("task")}
    assert diff == []
    assert {"ix_task_open_due", "uq_task_one_open_per_case"} <= indexes
    db.dispose()


def test_sqlite_uses_wal(tmp_path: object) -> None:
    db = create_db_engine(f"sqlite:///{tmp_path}/w.db", create=True)
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
