"""Database engines: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from engine.errors import DatabaseUnavailable, msg


def create_db_engine(url: str, *, create: bool = False, **kwargs: Any) -> sa.Engine:
    """Build an engine and prove it opens; ``DatabaseUnavailable`` names the reason.

    A SQLite file must already exist unless ``create`` (``gaita init``) is set, so
    a mistyped path is an error instead of a new empty database.  Statement
    parameters are never put into error messages: they may hold a child's data.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseUnavailable(url, msg("database.not_a_url")) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise DatabaseUnavailable(safe_url(url), msg("database.no_file"))
    try:
        engine = sa.create_engine(parsed, hide_parameters=True, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailable(safe_url(url), str(exc)) from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise DatabaseUnavailable(safe_url(url), str(exc.orig).strip().splitlines()[0]) from None
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url
