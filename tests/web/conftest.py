"""Helpers for the web tests: an open absences case with its task email, signed links."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from engine.answers import TaskAction
from engine.cases import open_case
from engine.queries import actor_for
from engine.store import OUTBOX
from gaita.bootstrap import App
from gaita.web import create_app
from notifications.links import ActionLink, LinkSigner, action_path, link_expiry
from tests.conftest import snapshot

with warnings.catch_warnings():
    # Starlette 1.10 prefers `httpx2` for its test client and warns, once, on import
    # when it finds `httpx`; the client works the same with either.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SCHOOL = "jelgavas-4-vsk"
LINK_ACTOR = f"link:{SCHOOL}"
CHILD_NAME = "Jānis Bērziņš"
CHILD_CODE = "120514-21234"
#: What no page may show: the child's name, personal code and birth date in any spelling.
CHILD_MARKS = ("Jānis", "Bērziņš", "Berzins", "120514", "21234", "12.05.2014", "2014-05-12")
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@dataclass(frozen=True)
class OpenTask:
    reference: str
    task_id: int
    outbox_id: int
    created_at: datetime


def open_task(gaita: App) -> OpenTask:
    """An absences case the school opened: its open task and the school's task email."""
    result = open_case(gaita.db, gaita.rt, "absences", actor_for(gaita.db, "skola"),
                       child_name=CHILD_NAME, child_code=CHILD_CODE, school=SCHOOL,
                       fields={"age_group": "basic"})
    assert result.task is not None and result.task.id is not None
    with gaita.db.connect() as conn:
        mail = conn.execute(sa.select(OUTBOX.c.id, OUTBOX.c.created_at, OUTBOX.c.recipient_institution)
                            .where(OUTBOX.c.task_id == result.task.id)).one()
    assert mail.recipient_institution == SCHOOL
    return OpenTask(result.reference, result.task.id, mail.id, mail.created_at)


def sign(gaita: App, outbox_id: int, task_id: int, action: TaskAction, created_at: datetime) -> str:
    return LinkSigner(gaita.settings.secret_key).sign(
        ActionLink(outbox_id, task_id, action, link_expiry(gaita.rt, created_at)))


def link_url(gaita: App, task: OpenTask, action: TaskAction) -> str:
    return action_path(action, sign(gaita, task.outbox_id, task.task_id, action, task.created_at))


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def without_access_log(snap: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {table: rows for table, rows in snap.items() if table != "access_log"}


def access_rows(gaita: App) -> list[tuple[str, str, str]]:
    with gaita.db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT actor, action, channel FROM access_log ORDER BY id"))]


def used_links(gaita: App) -> list[tuple[Any, ...]]:
    with gaita.db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT outbox_id, task_id, purpose FROM action_token ORDER BY id"))]


def state(gaita: App) -> tuple[dict[str, list[tuple[Any, ...]]], list[tuple[Any, ...]]]:
    """Everything an answer writes, but the access log: 'nothing was stored' compares this."""
    return without_access_log(snapshot(gaita.db)), used_links(gaita)


@pytest.fixture
def client(gaita: App) -> Iterator[TestClient]:
    with TestClient(create_app(gaita)) as c:
        yield c


@pytest.fixture
def task(gaita: App) -> OpenTask:
    return open_task(gaita)


# --- logged-in users -------------------------------------------------------------------

#: Every demo user's password (config/jelgava/demo.yaml).
DEMO_PASSWORD = "gaita-demo-2026"
_FORM_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def form_csrf(html: str) -> str:
    """The ``csrf`` hidden field of a page's (first) form."""
    found = _FORM_CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def log_in(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> str:
    """Log ``client`` in as ``username``; returns the session's CSRF token for forms."""
    page = client.get("/login")
    response = client.post("/login", data={"csrf": form_csrf(page.text), "username": username,
                                           "password": password}, follow_redirects=False)
    assert response.status_code == 303, response.text
    home = client.get(response.headers["location"])
    assert home.status_code == 200, home.text
    return form_csrf(home.text)


@pytest.fixture
def web(db_url: str) -> Iterator[App]:
    """The app served over HTTPS (``__Host-`` cookies), with demo users."""
    from tests.conftest import make_test_app
    app = make_test_app(db_url, base_url="https://testserver")
    yield app
    app.db.dispose()


@pytest.fixture
def browser_client(web: App) -> Iterator[Callable[[str | None], TestClient]]:
    """``browser_client("koordinatore")``: a client logged in as that demo user
    (``None``: not logged in).  Each call is a separate browser."""
    clients: list[TestClient] = []

    def make(username: str | None) -> TestClient:
        c = TestClient(create_app(web), base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        clients.append(c)
        if username is not None:
            log_in(c, username)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)
