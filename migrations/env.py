"""Alembic environment: run by ``gaita init`` with a live connection, or by the
``alembic`` command with ``-x url=...`` / ``GAITA_DATABASE_URL``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from gaita.dbsetup import METADATA  # every table: the engine's and the accounts'
from gaita.settings import load_settings

config = context.config
target_metadata = METADATA


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or load_settings().database_url
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
