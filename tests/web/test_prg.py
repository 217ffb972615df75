"""POST-redirect-GET everywhere: every form route of the web app, given valid input,
answers 303 to a page a GET shows, so that reloading the result resends nothing.

``WALK`` posts each route's form as its user would; ``EXCEPTIONS`` names the routes
that show a page on success, and why.  A test checks every POST route of the app is
in one or the other (the REST API under ``/api`` answers JSON, 201 with ``Location``,
and is not a browser form).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.answers import TaskAction, answer
from engine.cases import open_case
from engine.parties import add_aggressor
from engine.pause import pause
from engine.queries import actor_for
from engine.tasks import open_task_of
from engine.transfer import transfer_school
from gaita.accounts.runtime_settings import put_setting
from gaita.accounts.second_factor import TOTP_ROLES
from gaita.bootstrap import App
from gaita.demo import demo_code
from gaita.settings import ROOT
from gaita.web import create_app
from tests.conftest import make_test_app
from tests.engine.test_filings import act
from tests.engine.test_parties import P12, to_school_measures
from tests.web.conftest import (
    CHILD_CODE,
    CHILD_NAME,
    DEMO_PASSWORD,
    SCHOOL,
    form_csrf,
    link_url,
    log_in,
    open_task,
)
from tests.web.test_authorization import OTHER_CHILD_CODE, OTHER_SCHOOL, app_routes
from tests.web.test_case_page import TO_BOARD, open_absences, submit, walk
from tests.web.test_group_pages import SUMMARY, queued
from tests.web.test_links import post as post_link
from tests.web.test_reports import open_violence, report_form

#: The routes that show a page after success instead of redirecting, and why.
EXCEPTIONS = {
    ("POST", "/admin/tokens"): "the new API token is shown once, on the response to the "
                               "POST itself: a redirect would have to carry the secret in "
                               "its URL or keep it on the server",
}

Clients = Callable[[str | None], TestClient]
Walk = Callable[[App, Clients], httpx.Response]


@pytest.fixture
def web(db_url: str, tmp_path: Path) -> Iterator[App]:
    """Served over HTTPS, with demo users, reading a copy of config/jelgava (the
    administrator's forms write it)."""
    config = tmp_path / "config" / "jelgava"
    shutil.copytree(ROOT / "config" / "jelgava", config)
    app = make_test_app(db_url, base_url="https://testserver", config=config)
    yield app
    app.db.dispose()


def post_page(c: TestClient, page: str, path: str, **data: Any) -> httpx.Response:
    """Post ``path`` with the CSRF token of ``page`` (a GET first, as a user would)."""
    shown = c.get(page)
    assert shown.status_code == 200, shown.text
    response: httpx.Response = c.post(path, data={"csrf": form_csrf(shown.text), **data})
    return response


def _login(app: App, clients: Clients) -> httpx.Response:
    c = clients(None)
    return post_page(c, "/login", "/login", username="skola", password=DEMO_PASSWORD)


def _login_totp(app: App, clients: Clients) -> httpx.Response:
    with app.db.begin() as conn:
        put_setting(conn, TOTP_ROLES, ["coordinator"], app.rt.clock.now(), "admin")
    c = clients(None)
    assert post_page(c, "/login", "/login", username="koordinatore",
                     password=DEMO_PASSWORD).headers["location"] == "/login/totp"
    enrol = c.get("/login/totp").text
    secret = enrol.split('name="secret" value="')[1].split('"')[0]
    return c.post("/login/totp", data={"csrf": form_csrf(enrol), "secret": secret,
                                       "code": pyotp.TOTP(secret).at(app.rt.clock.now())})


def _logout(app: App, clients: Clients) -> httpx.Response:
    return post_page(clients("skola"), "/dashboard", "/logout")


def _inbox(app: App, clients: Clients) -> httpx.Response:
    ref = open_absences(app)
    task = open_task_of(app.db, ref)
    return post_page(clients("skola"), f"/inbox/{task}", f"/inbox/{task}/acknowledge")


def _link(app: App, clients: Clients) -> httpx.Response:
    task = open_task(app)
    response: httpx.Response = post_link(clients(None), link_url(app, task,
                                                                 TaskAction.ACKNOWLEDGE))
    return response


def _open(app: App, clients: Clients) -> httpx.Response:
    return post_page(clients("koordinatore"), "/cases/new/absences", "/cases/new/absences",
                     child_name=CHILD_NAME, child_code=CHILD_CODE, school=SCHOOL,
                     risk_level="medium", **{"f.open.age_group": "basic"})


def _case(action: str, user: str = "koordinatore", setup: Callable[[App], str] | None = None,
          **fields: str) -> Walk:
    def run(app: App, clients: Clients) -> httpx.Response:
        ref = (setup or open_absences)(app)
        return submit(clients(user), ref, action.format(ref=ref), **fields)
    return run


def _at_school_support(app: App) -> str:
    ref = open_absences(app)
    walk(app, ref, TO_BOARD[0])
    return ref


def _paused(app: App) -> str:
    ref = _at_school_support(app)
    pause(app.db, app.rt, ref, actor_for(app.db, "koordinatore"), "child_abroad")
    return ref


def _more_time_asked(app: App) -> str:
    ref = _at_school_support(app)
    answer(app.db, app.rt, open_task_of(app.db, ref), TaskAction.MORE_TIME,
           actor_for(app.db, "skola"), reason="Gaidām izziņu", days=3)
    return ref


def _transfer_asked(app: App) -> str:
    """A case of another school, moved to the demo school (whose user accepts)."""
    ref = open_case(app.db, app.rt, "absences", actor_for(app.db, "koordinatore"),
                    child_name="Anna Kalniņa", child_code=OTHER_CHILD_CODE, school=OTHER_SCHOOL,
                    fields={"age_group": "basic"}).reference
    transfer_school(app.db, app.rt, ref, SCHOOL, actor_for(app.db, "koordinatore"))
    return ref


def _address_waiting(app: App) -> str:
    ref = to_school_measures(app)
    add_aggressor(app.db, app.rt, ref, actor_for(app.db, "skola"), name="Kārlis Ozols",
                  code=demo_code(7), school="Šiaulių progimnazija", municipality="other",
                  municipality_name="Šiaulių miesto savivaldybė")
    act(app, ref, "report_to_municipality", **P12)
    return ref


def _meeting(app: App, clients: Clients) -> httpx.Response:
    reference = queued(app)
    return post_page(clients("vaditajs"), "/group/meetings/new", "/group/meetings",
                     day="2026-11-30", time="14:00", kind="ordinary", place="Lielā iela 11",
                     case=[reference])


def _decision(app: App, clients: Clients) -> httpx.Response:
    reference = queued(app)
    chair = clients("vaditajs")
    planned = post_page(chair, "/group/meetings/new", "/group/meetings", day="2026-11-30",
                        time="14:00", kind="ordinary", place="Lielā iela 11", case=[reference])
    meeting = planned.headers["location"].split("?")[0].rsplit("/", 1)[1]
    page = f"/group/meetings/{meeting}/cases/{reference}"
    return post_page(chair, page, page, summary=SUMMARY)


def _admin(page: str, path: str, **data: Any) -> Walk:
    def run(app: App, clients: Clients) -> httpx.Response:
        return post_page(clients("admin"), page, path, **data)
    return run


def _institution(app: App, clients: Clients) -> httpx.Response:
    admin = clients("admin")
    shown = admin.get("/admin/institutions/jslp").text
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', shown)
    assert digest
    return admin.post("/admin/institutions/jslp", data={
        "csrf": form_csrf(shown), "digest": digest.group(1), "email": "jslp2@jelgava.example.lv",
        "head_email": "jslp.vaditajs@jelgava.example.lv", "locale": "lv",
        "roles": ["social_service"]})


def _calendar_remove(app: App, clients: Clients) -> httpx.Response:
    admin = clients("admin")
    assert post_page(admin, "/admin/calendar", "/admin/calendar", day="01.12.2026",
                     kind="holiday").status_code == 303
    return post_page(admin, "/admin/calendar", "/admin/calendar/2026-12-01/remove")


def _token_revoke(app: App, clients: Clients) -> httpx.Response:
    admin = clients("admin")
    post_page(admin, "/admin/tokens", "/admin/tokens", username="koordinatore", name="x")
    with app.db.connect() as conn:
        token = conn.execute(sa.text("SELECT id FROM api_token")).scalar_one()
    return post_page(admin, "/admin/tokens", f"/admin/tokens/{token}/revoke")


NEW_USER = {"username": "inga", "display_name": "Inga Sociālā", "role": "institution_staff",
            "institution": "jslp", "email": "inga@jelgava.example.lv", "locale": "lv",
            "password": "ļoti-garš-parole-2026"}
SKOLA = {"display_name": "Skolas sociālā pedagoģe", "role": "institution_staff",
         "institution": SCHOOL, "email": "", "locale": "lv", "active": "on"}

WALK: dict[tuple[str, str], Walk] = {
    ("POST", "/login"): _login,
    ("POST", "/login/totp"): _login_totp,
    ("POST", "/logout"): _logout,
    ("POST", "/inbox/{task_id}/{action}"): _inbox,
    ("POST", "/link/{purpose}/{token}"): _link,
    ("POST", "/cases/new/{case_type}"): _open,
    ("POST", "/cases/{reference}/fire/{trigger}"): _case(
        "fire/record_unjustified", **{"f.record_unjustified.parents_reached": "false"}),
    ("POST", "/cases/{reference}/reports/{code}"): _case(
        "reports/state_police", "skola", lambda app: open_violence(app),
        **report_form("state_police")),
    ("POST", "/cases/{reference}/reports/{code}/waiver"): _case(
        "reports/state_police/waiver", "skola", lambda app: open_violence(app),
        waive_reason="Policija jau ir lietas dalībniece"),
    ("POST", "/cases/{reference}/notes"): _case("notes", note_text="Piezīme",
                                                note_group="notes"),
    ("POST", "/cases/{reference}/pause"): _case("pause", setup=_at_school_support,
                                                pause_reason="child_abroad"),
    ("POST", "/cases/{reference}/resume"): _case("resume", setup=_paused),
    ("POST", "/cases/{reference}/escalate"): _case("escalate",
                                                   escalate_reason="several_institutions"),
    ("POST", "/cases/{reference}/transfer"): _case("transfer", transfer_school=OTHER_SCHOOL),
    ("POST", "/cases/{reference}/transfer/accept"): _case("transfer/accept", "skola",
                                                          _transfer_asked),
    ("POST", "/cases/{reference}/aggressor"): _case(
        "aggressor", "skola", to_school_measures, aggressor_name="Kārlis Ozols",
        aggressor_code=OTHER_CHILD_CODE, aggressor_school="Šiaulių progimnazija",
        aggressor_municipality="other", aggressor_municipality_name="Šiaulių savivaldybė"),
    ("POST", "/cases/{reference}/aggressor/address"): _case(
        "aggressor/address", setup=_address_waiting,
        report_address="svietimas@siauliai.example.lt"),
    ("POST", "/cases/{reference}/extension"): _case("extension", setup=_more_time_asked,
                                                    approve="true"),
    ("POST", "/group/meetings"): _meeting,
    ("POST", "/group/meetings/{meeting_id}/cases/{reference}"): _decision,
    ("POST", "/admin/reload"): _admin("/admin", "/admin/reload"),
    ("POST", "/admin/institutions/{code}"): _institution,
    ("POST", "/admin/calendar"): _admin("/admin/calendar", "/admin/calendar", day="01.12.2026",
                                        kind="holiday"),
    ("POST", "/admin/calendar/{day}/remove"): _calendar_remove,
    ("POST", "/admin/users/new"): _admin("/admin/users/new", "/admin/users/new", **NEW_USER),
    ("POST", "/admin/users/{username}/edit"): _admin(
        "/admin/users/skola/edit", "/admin/users/skola/edit", **SKOLA),
    ("POST", "/admin/users/{username}/password"): _admin(
        "/admin/users/skola/edit", "/admin/users/skola/password",
        password="ļoti-garš-parole-2026"),
    ("POST", "/admin/users/{username}/totp"): _admin(
        "/admin/users/skola/edit", "/admin/users/skola/totp"),
    ("POST", "/admin/security"): _admin("/admin/security", "/admin/security",
                                        totp_roles=["admin"]),
    ("POST", "/admin/tokens/{token_id}/revoke"): _token_revoke,
}


def test_every_post_route_is_walked_or_excused(web: App) -> None:
    routes = {(m, path) for m, path in app_routes(web)
              if m == "POST" and not path.startswith("/api/")}
    assert routes == set(WALK) | set(EXCEPTIONS), (routes - set(WALK) - set(EXCEPTIONS),
                                                   set(WALK) | set(EXCEPTIONS) - routes)


class Browsers:
    """Test clients, each a browser of its own (``browsers(user)``); ``last`` is the
    latest made, the one a walk posts with."""

    def __init__(self, app: App) -> None:
        self.app, self.made = app, []   # type: list[TestClient]

    def __call__(self, username: str | None) -> TestClient:
        c = TestClient(create_app(self.app), base_url="https://testserver",
                       follow_redirects=False)
        c.__enter__()
        self.made.append(c)
        if username is not None:
            log_in(c, username)
        return c


@pytest.fixture
def browsers(web: App) -> Iterator[Browsers]:
    made = Browsers(web)
    yield made
    for c in made.made:
        c.__exit__(None, None, None)


@pytest.mark.parametrize("route", sorted(WALK), ids=lambda r: r[1])
def test_a_successful_post_redirects_to_a_page(web: App, browsers: Browsers,
                                               route: tuple[str, str]) -> None:
    response = WALK[route](web, browsers)
    assert response.status_code == 303, (route, response.status_code, response.text[:2000])
    location = response.headers["location"]
    assert location.startswith("/")
    # the page it names is a GET that shows (reloading it sends nothing again)
    shown = browsers.made[-1].get(location, follow_redirects=True)
    assert shown.status_code == 200, (route, location, shown.text[:2000])
    assert shown.request.method == "GET"
