"""The authorization matrix: every role x every endpoint x own/other institution.

Each rule names an endpoint (with its ids filled from a small world: a case the
school works on and that was escalated, a case of another school, their tasks,
a meeting) and the demo users the access policy lets through.  Everyone else
must be refused: 403 for a logged-in user (401 for an API token), a redirect
to the login page for nobody logged in.  Refused requests change nothing.
Changing ids in URLs (a case, a task of another institution) is an IDOR
attempt and must be refused like any other.

A test checks that every route of the app is in the matrix (or is public), so
a new endpoint cannot be added without saying who may use it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.routing import Mount
from starlette.testclient import TestClient

from engine.cases import open_case
from engine.group.meetings import plan_meeting
from engine.group.queue import escalate
from engine.queries import actor_for
from engine.store import TASK, load_case_row
from gaita import users
from gaita.bootstrap import App
from gaita.demo import demo_code
from gaita.settings import ROOT
from gaita.web import create_app
from tests.conftest import make_test_app, snapshot
from tests.web.conftest import CHILD_CODE, CHILD_NAME, SCHOOL, form_csrf, log_in

OTHER_SCHOOL = "jelgavas-spidolas-gimnazija"
OTHER_CHILD_CODE = demo_code(7)   # another child: a second case of one child is escalated
C, S, SD, P, G, V, A, AU = USERS = ("koordinatore", "skola", "socdienests", "policija", "grupa",
                                    "vaditajs", "admin", "auditors")
EVERYONE = frozenset(USERS)
READERS = EVERYONE - {A}                  # admin (scope none) reads no case
ESCALATED = frozenset({C, G, V, AU})      # who reaches the escalated case besides its school
GROUP_READERS = frozenset({C, G, V, AU})
CHAIR = frozenset({V})
NOBODY: frozenset[str] = frozenset()

#: Routes anyone may call: logging in and out, the language, the action links
#: (their signed token is the credential), health, the API's documentation and the
#: user guide with its pictures (the action links' readers have no account).
PUBLIC = {("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("GET", "/login/totp"),
          ("POST", "/login/totp"), ("POST", "/logout"), ("GET", "/lang/{lang}"),
          ("GET", "/link/{purpose}/{token}"), ("POST", "/link/{purpose}/{token}"),
          ("GET", "/answered/{purpose}"),
          ("GET", "/healthz"), ("GET", "/api/openapi.json"), ("GET", "/api/docs"),
          ("GET", "/help"), ("GET", "/help/{lang}"), ("GET", "/help/screenshots/{name}"),
          ("GET", "/favicon.ico")}


@dataclass(frozen=True)
class Rule:
    method: str
    route: str              # the app's route
    path: str               # with ids: {own}, {other}, {own_task}, {other_task}, {meeting}
    allowed: frozenset[str]
    body: dict[str, Any] | None = None   # the API's JSON body (valid, so only access decides)


def web(method: str, route: str, allowed: frozenset[str], path: str | None = None) -> Rule:
    return Rule(method, route, path or route, frozenset(allowed))


def api(method: str, route: str, allowed: frozenset[str], path: str | None = None,
        body: dict[str, Any] | None = None) -> Rule:
    return Rule(method, "/api" + route, "/api" + (path or route), frozenset(allowed), body)


OPEN = {"case_type": "absences", "child_name": CHILD_NAME, "child_code": CHILD_CODE,
        "school": SCHOOL, "fields": {"age_group": "basic"}}
#: A trigger of the absences declaration that is not valid in the cases' state: the
#: policy decides first, then the engine refuses the step (422), changing nothing.
NOT_NOW = "refer_to_social_service"

RULES: list[Rule] = [
    web("GET", "/dashboard", READERS),
    web("GET", "/cases", READERS),
    web("GET", "/cases/export.csv", READERS),
    web("GET", "/cases/export.xlsx", READERS),
    web("GET", "/cases/new", frozenset({C, S})),
    web("GET", "/search", READERS, "/search?q=berz"),   # each finds only what it may see
    web("GET", "/cases/new/{case_type}", frozenset({C, S}), "/cases/new/absences"),
    web("POST", "/cases/new/{case_type}", frozenset({C, S}), "/cases/new/absences"),
    web("GET", "/cases/{reference}", ESCALATED | {S}, "/cases/{own}"),
    web("GET", "/cases/{reference}", frozenset({C, AU}), "/cases/{other}"),
    web("POST", "/cases/{reference}/fire/{trigger}", frozenset({C, S}),
        f"/cases/{{own}}/fire/{NOT_NOW}"),
    web("POST", "/cases/{reference}/fire/{trigger}", frozenset({C}),
        f"/cases/{{other}}/fire/{NOT_NOW}"),
    web("POST", "/cases/{reference}/reports/{code}", frozenset({C, S}),
        "/cases/{own}/reports/state_police"),
    web("POST", "/cases/{reference}/reports/{code}", frozenset({C}),
        "/cases/{other}/reports/state_police"),
    web("POST", "/cases/{reference}/reports/{code}/waiver", frozenset({C, S}),
        "/cases/{own}/reports/state_police/waiver"),
    web("POST", "/cases/{reference}/reports/{code}/waiver", frozenset({C}),
        "/cases/{other}/reports/state_police/waiver"),
    web("POST", "/cases/{reference}/notes", frozenset({C, S, G, V}), "/cases/{own}/notes"),
    web("POST", "/cases/{reference}/notes", frozenset({C}), "/cases/{other}/notes"),
    web("POST", "/cases/{reference}/pause", frozenset({C}), "/cases/{own}/pause"),
    web("POST", "/cases/{reference}/pause", frozenset({C}), "/cases/{other}/pause"),
    web("POST", "/cases/{reference}/resume", frozenset({C}), "/cases/{own}/resume"),
    web("POST", "/cases/{reference}/extension", frozenset({C}), "/cases/{own}/extension"),
    web("POST", "/cases/{reference}/escalate", frozenset({C, G, V}), "/cases/{own}/escalate"),
    web("POST", "/cases/{reference}/escalate", frozenset({C}), "/cases/{other}/escalate"),
    # a school move: asked by the case's school or a coordinator; accepted by the new
    # school (a reader of the case gets past the page's check, then finds no transfer: 404)
    web("POST", "/cases/{reference}/transfer", frozenset({C, S}), "/cases/{own}/transfer"),
    web("POST", "/cases/{reference}/transfer", frozenset({C}), "/cases/{other}/transfer"),
    web("POST", "/cases/{reference}/transfer/accept", ESCALATED | {S},
        "/cases/{own}/transfer/accept"),
    web("POST", "/cases/{reference}/transfer/accept", frozenset({C, AU}),
        "/cases/{other}/transfer/accept"),
    # the aggressor (MK 474 p. 12): recorded by those who may move the case on; the
    # receiving address of another municipality given by the coordinating institution
    web("POST", "/cases/{reference}/aggressor", frozenset({C, S}), "/cases/{own}/aggressor"),
    web("POST", "/cases/{reference}/aggressor", frozenset({C}), "/cases/{other}/aggressor"),
    web("POST", "/cases/{reference}/aggressor/address", frozenset({C}),
        "/cases/{own}/aggressor/address"),
    web("POST", "/cases/{reference}/aggressor/address", frozenset({C}),
        "/cases/{other}/aggressor/address"),
    web("GET", "/inbox", EVERYONE),   # without an institution: an empty page saying why
    web("GET", "/inbox/{task_id}", frozenset({S}), "/inbox/{own_task}"),
    web("GET", "/inbox/{task_id}", NOBODY, "/inbox/{other_task}"),
    web("POST", "/inbox/{task_id}/{action}", frozenset({S}), "/inbox/{own_task}/decline"),
    web("POST", "/inbox/{task_id}/{action}", NOBODY, "/inbox/{other_task}/decline"),
    web("GET", "/group", GROUP_READERS),
    web("GET", "/group/meetings/new", CHAIR),
    web("POST", "/group/meetings", CHAIR),
    web("GET", "/group/meetings/{meeting_id}", GROUP_READERS, "/group/meetings/{meeting}"),
    web("GET", "/group/meetings/{meeting_id}/minutes.docx", GROUP_READERS,
        "/group/meetings/{meeting}/minutes.docx"),
    web("GET", "/group/meetings/{meeting_id}/cases/{reference}", GROUP_READERS,
        "/group/meetings/{meeting}/cases/{own}"),
    web("POST", "/group/meetings/{meeting_id}/cases/{reference}", CHAIR,
        "/group/meetings/{meeting}/cases/{own}"),
    # the audit log across cases: the roles that see the access log (the auditor)
    web("GET", "/audit", frozenset({AU})),
    web("GET", "/audit.csv", frozenset({AU})),
    *(web(m, r, frozenset({A}), p) for m, r, p in (
        ("GET", "/admin", None), ("POST", "/admin/reload", None), ("GET", "/admin/users", None),
        ("GET", "/admin/users/new", None), ("POST", "/admin/users/new", None),
        ("GET", "/admin/users/{username}/edit", "/admin/users/skola/edit"),
        ("POST", "/admin/users/{username}/edit", "/admin/users/skola/edit"),
        ("POST", "/admin/users/{username}/password", "/admin/users/skola/password"),
        ("POST", "/admin/users/{username}/totp", "/admin/users/skola/totp"),
        ("GET", "/admin/institutions", None),
        ("GET", "/admin/institutions/{code}", "/admin/institutions/jip"),
        ("POST", "/admin/institutions/{code}", "/admin/institutions/jip"),
        ("GET", "/admin/calendar", None), ("POST", "/admin/calendar", None),
        ("POST", "/admin/calendar/{day}/remove", "/admin/calendar/2026-12-28/remove"),
        ("GET", "/admin/security", None), ("POST", "/admin/security", None),
        ("GET", "/admin/tokens", None), ("POST", "/admin/tokens", None),
        ("POST", "/admin/tokens/{token_id}/revoke", "/admin/tokens/999/revoke"))),
    api("GET", "/v1/cases", READERS),
    api("GET", "/v1/search", READERS, "/v1/search?q=berz"),
    api("POST", "/v1/cases", frozenset({C, S}), body=OPEN),
    api("GET", "/v1/cases/{reference}", ESCALATED | {S}, "/v1/cases/{own}"),
    api("GET", "/v1/cases/{reference}", frozenset({C, AU}), "/v1/cases/{other}"),
    api("POST", "/v1/cases/{reference}/transitions", frozenset({C, S}),
        "/v1/cases/{own}/transitions", {"trigger": NOT_NOW}),
    api("POST", "/v1/cases/{reference}/transitions", frozenset({C}),
        "/v1/cases/{other}/transitions", {"trigger": NOT_NOW}),
    api("POST", "/v1/cases/{reference}/reports/{code}", frozenset({C, S}),
        "/v1/cases/{own}/reports/state_police", {"fields": {}}),
    api("POST", "/v1/cases/{reference}/reports/{code}", frozenset({C}),
        "/v1/cases/{other}/reports/state_police", {"fields": {}}),
    api("POST", "/v1/cases/{reference}/reports/{code}/waiver", frozenset({C, S}),
        "/v1/cases/{own}/reports/state_police/waiver", {"reason": "Nav jāziņo"}),
    api("POST", "/v1/cases/{reference}/reports/{code}/waiver", frozenset({C}),
        "/v1/cases/{other}/reports/state_police/waiver", {"reason": "Nav jāziņo"}),
    api("POST", "/v1/cases/{reference}/notes", frozenset({C, S, G, V}), "/v1/cases/{own}/notes",
        {"text": "Piezīme ā č ē"}),
    api("POST", "/v1/cases/{reference}/notes", frozenset({C}), "/v1/cases/{other}/notes",
        {"text": "Piezīme ā č ē"}),
    api("GET", "/v1/tasks", READERS),
    api("POST", "/v1/tasks/{task_id}/answers", frozenset({S}), "/v1/tasks/{own_task}/answers",
        {"action": "more_time", "reason": "Vajag laiku", "days": 2}),
    api("POST", "/v1/tasks/{task_id}/answers", NOBODY, "/v1/tasks/{other_task}/answers",
        {"action": "more_time", "reason": "Vajag laiku", "days": 2}),
    api("GET", "/v1/escalations", GROUP_READERS),
    api("POST", "/v1/cases/{reference}/escalations", frozenset({C, G, V}),
        "/v1/cases/{own}/escalations", {"reason": "several_institutions"}),
    api("POST", "/v1/cases/{reference}/escalations", frozenset({C}),
        "/v1/cases/{other}/escalations", {"reason": "several_institutions"}),
    api("GET", "/v1/meetings", GROUP_READERS),
    api("POST", "/v1/meetings", CHAIR, body={"day": "2026-12-01"}),
    api("GET", "/v1/meetings/{meeting_id}", GROUP_READERS, "/v1/meetings/{meeting}"),
    api("POST", "/v1/meetings/{meeting_id}/decisions", CHAIR, "/v1/meetings/{meeting}/decisions",
        {"reference": "{other}", "summary": "Nav darba kārtībā"}),
]


@dataclass(frozen=True)
class World:
    own: str          # the school (skola) holds its task; escalated to the group
    other: str        # another school's case
    own_task: int
    other_task: int
    meeting: int

    def fill(self, text: str) -> str:
        return text.format(own=self.own, other=self.other, own_task=self.own_task,
                           other_task=self.other_task, meeting=self.meeting)


@pytest.fixture
def web(db_url: str, tmp_path: Path) -> Iterator[App]:
    """The app over HTTPS, on a copy of the Jelgava config (the admin pages write it)."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config" / "jelgava", config)
    app = make_test_app(db_url, base_url="https://testserver", config=config)
    yield app
    app.db.dispose()


@pytest.fixture
def world(web: App) -> World:
    coordinator = actor_for(web.db, C)
    refs = [open_case(web.db, web.rt, "absences", coordinator, child_name=name,
                      child_code=code, school=school, fields={"age_group": "basic"}
                      ).reference for school, name, code in (
                          (SCHOOL, CHILD_NAME, CHILD_CODE), (OTHER_SCHOOL, "Ūna Zvaigzne",
                                                             OTHER_CHILD_CODE))]
    escalate(web.db, web.rt, refs[0], coordinator, "several_institutions")
    meeting = plan_meeting(web.db, web.rt, actor_for(web.db, V), web.rt.clock.now().date())
    tasks = []
    with web.db.connect() as conn:
        for ref in refs:
            case = load_case_row(conn, ref)
            tasks.append(conn.execute(sa.select(TASK.c.id).where(
                TASK.c.case_id == case["id"], TASK.c.closed_at.is_(None))).scalar_one())
    return World(refs[0], refs[1], tasks[0], tasks[1], meeting.meeting_id)


def app_routes(web: App) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def walk(routes: Any, prefix: str = "") -> None:
        for r in routes:
            if isinstance(r, Mount):
                walk(r.routes, prefix + r.path)
            elif hasattr(r, "original_router"):   # FastAPI's included routers
                walk(r.original_router.routes, prefix)
            elif hasattr(r, "methods"):
                found.update((m, prefix + r.path) for m in r.methods - {"HEAD"})
    walk(create_app(web).routes)
    return found


def refused_first(rule: Rule) -> list[str]:
    """The users a rule refuses, then those it lets through: an allowed change (a
    referral, say) must not alter what the refused ones are tested against."""
    return sorted(USERS, key=lambda user: user in rule.allowed)


def test_every_route_is_in_the_matrix_or_public(web: App) -> None:
    covered = {(r.method, r.route) for r in RULES} | PUBLIC
    assert sorted(app_routes(web) - covered) == []
    assert sorted(covered - app_routes(web)) == []


@pytest.fixture
def clients(web: App) -> Iterator[dict[str, tuple[TestClient, str]]]:
    """A logged-in browser (and its CSRF token) per demo user, and nobody's."""
    out: dict[str, tuple[TestClient, str]] = {}
    for user in (*USERS, ""):
        c = TestClient(create_app(web), base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        out[user] = (c, log_in(c, user) if user else "")
    yield out
    for c, _ in out.values():
        c.__exit__(None, None, None)


def test_pages_and_forms_by_role(web: App, world: World,
                                 clients: dict[str, tuple[TestClient, str]]) -> None:
    wrong: list[str] = []
    for rule in (r for r in RULES if not r.route.startswith("/api/")):
        path = world.fill(rule.path)
        for user in refused_first(rule):
            client, csrf = clients[user]
            before = snapshot(web.db) if user not in rule.allowed else None
            r = (client.get(path) if rule.method == "GET"
                 else client.post(path, data={"csrf": csrf}))
            if r.status_code >= 500:
                wrong.append(f"{user} {rule.method} {path}: {r.status_code}")
            elif user in rule.allowed and (r.status_code == 403 or (
                    rule.method == "GET" and r.status_code != 200)):
                wrong.append(f"{user} {rule.method} {path}: {r.status_code}, expected allowed")
            elif user not in rule.allowed:
                if r.status_code != 403:
                    wrong.append(f"{user} {rule.method} {path}: {r.status_code}, expected 403")
                elif before is not None and _without_reads(snapshot(web.db)) != _without_reads(before):
                    wrong.append(f"{user} {rule.method} {path}: refused but changed the database")
        nobody, _ = clients[""]
        r = nobody.get(path) if rule.method == "GET" else nobody.post(path, data={})
        if r.status_code != 303 or not r.headers["location"].startswith("/login?next="):
            wrong.append(f"nobody {rule.method} {path}: {r.status_code}")
    assert wrong == [], "\n".join(wrong)


def test_api_by_role(web: App, world: World) -> None:
    tokens = {u: users.create_token(web.db, web.rt, "admin", u, "matrix")[1] for u in USERS}
    wrong: list[str] = []
    with TestClient(create_app(web), base_url="https://testserver",
                    follow_redirects=False) as client:
        for rule in (r for r in RULES if r.route.startswith("/api/")):
            path = world.fill(rule.path)
            body = ({k: world.fill(v) if isinstance(v, str) else v for k, v in rule.body.items()}
                    if rule.body is not None else None)
            for user in ("", *refused_first(rule)):
                headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
                r = client.request(rule.method, path, headers=headers, json=body)
                if r.status_code >= 500:
                    wrong.append(f"{user} {rule.method} {path}: {r.status_code}")
                elif not user:
                    if r.status_code != 401:
                        wrong.append(f"nobody {rule.method} {path}: {r.status_code}")
                elif user in rule.allowed and r.status_code in (401, 403):
                    wrong.append(f"{user} {rule.method} {path}: {r.status_code}, expected allowed")
                elif user not in rule.allowed and r.status_code != 403:
                    wrong.append(f"{user} {rule.method} {path}: {r.status_code}, expected 403")
    assert wrong == [], "\n".join(wrong)


def test_a_case_read_through_another_reference_is_denied_and_logged(
        web: App, world: World, clients: dict[str, tuple[TestClient, str]]) -> None:
    client, _ = clients[S]
    assert client.get(f"/cases/{world.own}").status_code == 200
    assert client.get(f"/cases/{world.other}").status_code == 403
    with web.db.connect() as conn:
        other = load_case_row(conn, world.other)
        rows = conn.execute(sa.text("SELECT actor, action, channel FROM access_log "
                                    "WHERE case_id = :id"), {"id": other["id"]}).all()
    assert [tuple(r) for r in rows] == [(S, "denied", "web")]
    page = client.get("/cases")
    assert world.own in page.text and world.other not in page.text
    assert form_csrf(page.text)


def _without_reads(snap: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    """A refused request may write the access log (a denied read), nothing else."""
    return {table: rows for table, rows in snap.items() if table != "access_log"}
