"""``gaita init``: migrate the schema with Alembic and load the municipality config.

Loading is idempotent: institutions are upserted by code, so running ``init``
again after editing ``config/`` updates them and never duplicates rows.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import gaita.accounts.tables  # noqa: F401 - registers the account tables on the metadata
from engine.errors import GaitaError
from engine.municipality import MunicipalityConfig
from engine.store import INSTITUTION

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

#: Every table Alembic migrates: the engine's (``engine.tables``) and the web app's
#: accounts (``gaita.accounts.tables``), both on SQLModel's metadata once imported
#: (above).  ``migrations/env.py`` migrates it; the tests create it.
METADATA: sa.MetaData = SQLModel.metadata


class SchemaOutOfDate(GaitaError):
    pass


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def require_current_schema(db: sa.Engine) -> None:
    current, head = current_revision(db), head_revision()
    if current != head:
        if current is None:
            raise SchemaOutOfDate("database.no_schema", head=head)
        raise SchemaOutOfDate("database.old_schema", current=current, head=head)


def migrate(db: sa.Engine, revision: str = "head") -> None:
    with db.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def current_revision(db: sa.Engine) -> str | None:
    with db.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def load_institutions(db: sa.Engine, municipality: MunicipalityConfig) -> int:
    """``upsert_institutions`` in a transaction of its own."""
    with db.begin() as conn:
        return upsert_institutions(conn, municipality)


def upsert_institutions(conn: sa.Connection, municipality: MunicipalityConfig) -> int:
    """The config's institutions into the table, in the caller's transaction; returns
    how many the config has."""
    table = INSTITUTION
    existing = set(conn.execute(sa.select(table.c.code)).scalars())
    for inst in municipality.institutions:
        values = {"name_lv": inst.name.lv, "name_en": inst.name.en, "short": inst.short,
                  "roles": list(inst.roles), "email": inst.email,
                  "head_email": inst.head_email, "fallback_email": inst.fallback_email,
                  "locale": inst.locale or municipality.municipality.default_locale,
                  "active": True}
        if inst.code in existing:
            conn.execute(sa.update(table).where(table.c.code == inst.code).values(**values))
        else:
            conn.execute(sa.insert(table).values(code=inst.code, **values))
    gone = existing - {i.code for i in municipality.institutions}
    if gone:   # never deleted: cases and users may point at them
        conn.execute(sa.update(table).where(table.c.code.in_(gone)).values(active=False))
    return len(municipality.institutions)
