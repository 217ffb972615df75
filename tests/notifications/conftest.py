"""Fixtures of the email tests: an app whose SMTP settings point at the ``smtp``
fixture's real server (tests/conftest.py), and its fixed clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.clock import FixedClock
from gaita.bootstrap import App
from tests.conftest import make_test_app
from tests.notifications.smtp import SmtpServer


@pytest.fixture
def app(db_url: str, smtp: SmtpServer) -> Iterator[App]:
    gaita = make_test_app(db_url, smtp_port=smtp.port, smtp_timeout=10)
    yield gaita
    gaita.db.dispose()


@pytest.fixture
def clock(app: App) -> FixedClock:
    assert isinstance(app.rt.clock, FixedClock)
    return app.rt.clock
