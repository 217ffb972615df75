"""Shared fixtures: a real SQLite file and a real PostgreSQL, a fixed clock, the Jelgava config.

Tests that take ``db_url`` (or ``gaita``) run once per backend: ``sqlite`` and
``postgresql``.  Without the server binaries the PostgreSQL variant is skipped
locally but fails in CI (``CI=true``), where ``make test`` installs them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.clock import FixedClock
from engine.tables import (
    AccessLog,
    ActionToken,
    Case,
    CaseEvent,
    Child,
    Outbox,
    ReferenceCounter,
    Task,
    table,
)
from gaita.bootstrap import App, build_app
from gaita.dbsetup import METADATA, load_institutions
from gaita.demo import load_users
from gaita.settings import ROOT, load_settings
from tests.notifications.smtp import SmtpServer
from tests.pg import PostgresServer, pg_bin

START = datetime.fromisoformat("2026-11-30T09:00:00+02:00")   # a Monday


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries missing in CI (make test installs them)")
        pytest.skip("PostgreSQL server binaries not installed")
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gaita.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.new_database()


def snapshot(db: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a case write touches: what 'the DB is unchanged' compares."""
    out = {}
    with db.connect() as conn:
        for model in (Case, CaseEvent, Task, Outbox, ActionToken, Child, ReferenceCounter,
                      AccessLog):
            t = table(model)
            out[t.name] = [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
    return out


def make_test_app(db_url: str, **settings: object) -> App:
    s = load_settings({"GAITA_DATABASE_URL": db_url, "GAITA_NOW": START.isoformat()}, **settings)
    app = build_app(s, create=True)
    METADATA.create_all(app.db)
    load_institutions(app.db, app.rt.municipality)
    load_users(app.db, app.rt)
    return app


@pytest.fixture
def gaita(db_url: str) -> Iterator[App]:
    app = make_test_app(db_url)
    yield app
    app.db.dispose()


@pytest.fixture
def clock(gaita: App) -> FixedClock:
    assert isinstance(gaita.rt.clock, FixedClock)
    return gaita.rt.clock


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on localhost, answering as a test scripts it."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def repo_root() -> Path:
    return ROOT
